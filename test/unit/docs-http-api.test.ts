/**
 * docs/http-api.md against the API's own OpenAPI document (built from the route table the server serves): every
 * route has a row, every row is a route, and a row lists exactly the status codes the route answers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';

const DOC = path.join(__dirname, '..', '..', 'docs', 'http-api.md');

/** `METHOD /path` → its status codes, from the OpenAPI document. */
let served: Map<string, string[]>;
let artifactsDir: string;

beforeAll(async () => {
  artifactsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-docs-api-'));
  // Reading the document touches neither Temporal nor the artifact store: no client is needed.
  const app = buildApi({ stagecoach: {} as never, tokens: { users: [{ name: 'docs', token: 'docs-test-token-0000' }] }, logger: false, artifactsDir });
  const document = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  await app.close();
  served = new Map(Object.entries(document.paths).flatMap(([route, operations]) =>
    Object.entries(operations).map(([method, op]) => [`${method.toUpperCase()} ${route}`, Object.keys(op.responses).sort()] as const)));
});

afterAll(() => fs.rmSync(artifactsDir, { recursive: true, force: true }));

/** The routes table: `| \`METHOD /path\` | permission | what | answers |` → the status codes in "answers". */
function documentedRoutes(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of fs.readFileSync(DOC, 'utf8').split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const route = /^`((?:GET|PUT|POST|DELETE|PATCH) \/\S+)`$/.exec(cells[0] ?? '');
    if (route && cells.length === 4) rows.set(route[1], [...cells[3].matchAll(/\b[1-5]\d\d\b/g)].map((m) => m[0]).sort());
  }
  return rows;
}

describe('docs/http-api.md', () => {
  it('documents every route the API serves, and no other', () => {
    const rows = documentedRoutes();
    expect(served.size).toBeGreaterThan(5);
    expect([...served.keys()].filter((r) => !rows.has(r)), 'routes without a row').toEqual([]);
    expect([...rows.keys()].filter((r) => !served.has(r)), 'rows naming no route').toEqual([]);
  });

  it('lists the status codes each route answers', () => {
    const rows = documentedRoutes();
    const wrong = [...served].filter(([route, codes]) => rows.has(route) && rows.get(route)!.join() !== codes.join())
      .map(([route, codes]) => `${route}: the API answers ${codes.join(', ')}, the row says ${rows.get(route)!.join(', ')}`);
    expect(wrong).toEqual([]);
  });
});
