/**
 * docs/configuration.md against the pipeline schema: every field the schema accepts has a row, every row names a
 * field the schema has, and a row's default is the schema's own (so the reference cannot drift from the code).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { pipelineConfigSchema } from '../../src/config/pipeline-config';

const DOC = path.join(__dirname, '..', '..', 'docs', 'configuration.md');

interface Field { path: string; hasDefault: boolean; default?: unknown }

/** zod 4 keeps each schema's definition in `_zod.def`; only the kinds the pipeline schema uses are walked. */
type Def = {
  type: string; innerType?: z.ZodType; defaultValue?: unknown; in?: z.ZodType; shape?: Record<string, z.ZodType>;
  valueType?: z.ZodType; element?: z.ZodType;
};
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/**
 * The schema's fields as documented paths: `a.b.c`; a record of objects as `a.<name>.c`; a list of objects as `a`
 * (the list itself) and `a[].c`. A field's default is the nearest `.default()`/`.prefault()` around it.
 */
function fieldsOf(schema: z.ZodType, at = '', fields: Field[] = [], inherited?: { value: unknown }): Field[] {
  const def = defOf(schema);
  const leaf = () => fields.push({ path: at, hasDefault: inherited !== undefined, default: inherited?.value });
  switch (def.type) {
    case 'default':
    case 'prefault':
      return fieldsOf(def.innerType!, at, fields, inherited ?? { value: def.defaultValue });
    case 'optional':
      return fieldsOf(def.innerType!, at, fields, inherited);
    case 'pipe':
      return fieldsOf(def.in!, at, fields, inherited);
    case 'object':
      for (const [key, child] of Object.entries(def.shape!)) fieldsOf(child, at ? `${at}.${key}` : key, fields);
      return fields;
    case 'record':
      if (defOf(def.valueType!).type === 'object') return fieldsOf(def.valueType!, `${at}.<name>`, fields);
      break;
    case 'array':
      if (defOf(def.element!).type === 'object') {
        leaf();
        return fieldsOf(def.element!, `${at}[]`, fields);
      }
      break;
  }
  leaf();
  return fields;
}

/**
 * Sub-schemas the reference documents once: both environments share their fields (`environments.<env>.…`), and an
 * environment's own engine and its named engines share the Docker connection fields (`<docker>.…`).
 */
const SHARED: Array<[RegExp, string]> = [
  [/^environments\.(stage|prod)\./, 'environments.<env>.'],
  [/^environments\.<env>\.(engines\.<name>\.)?docker\./, '<docker>.'],
];
const documentedPath = (field: string) => SHARED.reduce((p, [pattern, to]) => p.replace(pattern, to), field);

/** How a default is written in the reference: strings and numbers bare, lists and maps as JSON, in backticks. */
function formatDefault(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
}

/** The rows of the reference's tables: `| \`path\` | default | bounds | what |` (a `\|` inside a cell is a pipe). */
function documentedRows(markdown: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of markdown.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim().replace(/\\\|/g, '|'));
    const field = /^`([^`]+)`$/.exec(cells[0] ?? '');
    if (!field || cells.length < 4) continue;
    expect(rows.has(field[1]), `${field[1]} has two rows in docs/configuration.md`).toBe(false);
    rows.set(field[1], cells[1]);
  }
  return rows;
}

describe('docs/configuration.md', () => {
  const fields = fieldsOf(pipelineConfigSchema as unknown as z.ZodType);
  const rows = documentedRows(fs.readFileSync(DOC, 'utf8'));

  it('walks the whole schema (a sanity check of the walker itself)', () => {
    const paths = fields.map((f) => f.path);
    expect(paths).toContain('environments.prod.pairs');
    expect(paths).toContain('environments.stage.engines.<name>.subnet');
    expect(paths).toContain('approval.approvers[].roles');
    expect(paths).toContain('securityTest.severity.trace_method');
    expect(fields.find((f) => f.path === 'environments.prod.pairs')?.default).toBe(2);
  });

  it('has a row for every field of the pipeline schema', () => {
    const missing = [...new Set(fields.map((f) => documentedPath(f.path)))].filter((p) => !rows.has(p));
    expect(missing, 'fields without a row in docs/configuration.md').toEqual([]);
  });

  it('has no row for a field the schema does not have', () => {
    const known = new Set(fields.map((f) => documentedPath(f.path)));
    expect([...rows.keys()].filter((p) => !known.has(p)), 'rows naming no schema field').toEqual([]);
  });

  it("gives each field the schema's default, or — where it has none", () => {
    const wrong: string[] = [];
    for (const field of fields) {
      const row = documentedPath(field.path);
      const cell = rows.get(row);
      if (cell === undefined) continue;
      if (!field.hasDefault) {
        if (cell !== '—') wrong.push(`${row}: the schema has no default, the row says "${cell}" (write — and explain in the last column)`);
      } else if (!cell.includes(`\`${formatDefault(field.default)}\``)) {
        wrong.push(`${row}: the schema's default is \`${formatDefault(field.default)}\` (${field.path}), the row says "${cell}"`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
