/**
 * Every representation the HTTP API serves, validated against Cloud Manager's definitions
 * (cloudmanager-api.yaml in the shared reference directory beside the checkouts): read through the Fastify app (`inject`) over fixed workflow states, so no Temporal and no Docker. Extra
 * fields are allowed, as the definitions allow them; a missing or mistyped field, or a value outside an enum, is not.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { problemForType } from '../../src/api/problems';
import { LogTokens, rangeOf } from '../../src/api/cloudmanager/log-links';
import { buildApi } from '../../src/api/server';
import { StagecoachError } from '../../src/client/errors';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { PROJECT_ROOT } from '../../src/config/paths';
import { ClientFailure, Refusal } from '../../src/shared/errors';
import type { ExecutionState, ExecutionSummary, PipelineState } from '../../src/shared/types';
import { initialState } from '../../src/workflows/execution/state';
import { violations, type Definitions } from '../helpers/swagger-schema';

const SPEC = process.env.CLOUDMANAGER_API_SPEC ?? path.resolve(PROJECT_ROOT, '..', 'shared', 'reference', 'cloudmanager-api.yaml');
const definitions = (YAML.parse(fs.readFileSync(SPEC, 'utf8')) as { definitions: Definitions }).definitions;

const T0 = '2030-01-01T00:00:00.000Z';
const TOKEN = 'cloudmanager-spec-token-0001';
const raw = {
  id: 'unit', repository: '/tmp/repo', programs: [{ id: '7', name: 'Web' }], identity: 'declared',
  approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }] },
  performanceTest: {}, triggers: { onCommit: {} },
};
const config = parsePipelineConfig(raw);

function execution(id: string, trigger: ExecutionState['trigger'], until: string, status: ExecutionState['status']): ExecutionState {
  const s = initialState({ pipelineId: 'unit', executionId: id, trigger, mode: 'NORMAL', user: 'carol', config }, T0);
  s.status = status;
  for (const step of s.steps) {
    if (step.stepId === until) break;
    step.status = 'FINISHED';
    step.startedAt = T0;
    step.finishedAt = T0;
  }
  s.currentStepId = until;
  s.urls = { stage: 'http://127.0.0.1:1/', prod: 'http://127.0.0.1:2/' };
  const build = s.steps.find((x) => x.action === 'build');
  if (build) build.details = { logRef: `unit/${id}/build/build.log`, summary: 'built' };
  const quality = s.steps.find((x) => x.action === 'codeQuality');
  if (quality) quality.details = { metrics: [{ id: 'coverage', kpi: 'coverage', severity: 'important', passed: true, override: false, actualValue: '80', expectedValue: '50', comparator: 'GTE' }] };
  const audit = s.steps.find((x) => x.action === 'contentAudit');
  if (audit) audit.details = { scores: { performance: 90, accessibility: 100, 'best-practices': 95, seo: 80 } };
  if (status === 'FINISHED') s.finishedAt = T0;
  return s;
}

const first = execution('1', 'MANUAL', '', 'FINISHED');
const reExecution = execution('2', 'RE_EXECUTE', '', 'FINISHED');
const running = execution('3', 'MANUAL', 'approval', 'RUNNING');
running.steps.find((s) => s.stepId === 'approval')!.status = 'WAITING';
running.waiting = { stepId: 'approval', action: 'approval', since: T0, expiresAt: T0, accepts: ['approve', 'reject', 'cancel'], allowed: ['alice'] };
const states = new Map([first, reExecution, running].map((s) => [s.id, s]));

const summary = (s: ExecutionState): ExecutionSummary => ({
  id: s.id, workflowId: `w-${s.id}`, status: s.status, trigger: s.trigger, user: s.user, createdAt: T0, ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
  prodDeployStatus: 'FINISHED', artifacts: s.artifacts,
});
const pipeline: PipelineState = { pipelineId: 'unit', executions: [summary(first), summary(reExecution)], running: summary(running), nextExecutionNumber: 4, audit: [] };

/** Just the `state` queries the read-only routes make. */
const fakeStagecoach = {
  pipelineState: async () => pipeline,
  executionState: async (_p: string, id: string) => {
    const state = states.get(id);
    if (!state) throw new StagecoachError(ClientFailure.NotFound, `execution ${id} does not exist`);
    return state;
  },
};

let app: ReturnType<typeof buildApi>;
let dir: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cm-spec-'));
  fs.writeFileSync(path.join(dir, 'unit.yaml'), YAML.stringify(raw));
  process.env.STAGECOACH_PIPELINES_DIR = dir;
  app = buildApi({ stagecoach: fakeStagecoach as never, tokens: { users: [{ name: 'dave', roles: [], token: TOKEN }] }, logger: false });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function get(url: string, accept = 'application/json') {
  const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${TOKEN}`, accept, 'x-api-key': 'k', 'x-gw-ims-org-id': 'o@AdobeOrg' } });
  return { status: res.statusCode, json: (res.body ? res.json() : undefined) as unknown, headers: res.headers };
}

/** Stagecoach's one known extension of an enum: its RE_EXECUTE trigger (see docs/moving-from-cloud-manager.md). */
const isKnownExtension = (v: string) => /\.trigger: "RE_EXECUTE" is not one of/.test(v);

const STEP = '/api/program/1/pipeline/unit/execution/3/phase/stageDeployment/step/build';
const ROUTES: Array<[string, string]> = [
  ['/api/programs', 'ProgramList'],
  ['/api/program/7', 'Program'],
  ['/api/program/7/pipelines', 'PipelineList'],
  ['/api/program/1/pipeline/unit', 'Pipeline'],
  ['/api/program/1/environments', 'EnvironmentList'],
  ['/api/program/1/environment/unit-prod', 'Environment'],
  ['/api/program/1/pipeline/unit/execution', 'PipelineExecution'],
  ['/api/program/1/pipeline/unit/execution/1', 'PipelineExecution'],
  ['/api/program/1/pipeline/unit/execution/2', 'PipelineExecution'],
  ['/api/program/1/pipeline/unit/executions', 'PipelineExecutionListRepresentation'],
  [STEP, 'PipelineExecutionStepState'],
  ['/api/program/1/pipeline/unit/execution/3/phase/production/step/approval', 'PipelineExecutionStepState'],
  [`${STEP.replace('build', 'codeQuality')}/metrics`, 'PipelineStepMetrics'],
  ['/api/program/1/pipeline/unit/execution/1/phase/stageTesting/step/contentAudit/metrics', 'PipelineStepMetrics'],
  [`${STEP}/logs`, 'Redirect'],
  ['/api/program/1/pipeline/unit/execution/99', 'BadRequestError'],
  ['/api/program/5', 'BadRequestError'],
];

describe('the API\'s representations against cloudmanager-api.yaml', () => {
  it.each(ROUTES)('GET %s is a %s', async (url, definition) => {
    const res = await get(url);
    expect(res.status, JSON.stringify(res.json)).toBe(definition === 'BadRequestError' ? 404 : 200);
    expect(violations(definitions, definition, res.json).filter((v) => !isKnownExtension(v))).toEqual([]);
  });

  it('the shapes Cloud Manager\'s clients rely on: templated links, absolute paths, unique step ids, loadTest, list items', async () => {
    const p = (await get('/api/program/1/pipeline/unit')).json as { status: string; trigger: string; phases: Array<{ steps: Array<{ name: string }> }>; _links: Record<string, { href: string; templated: boolean }> };
    expect(p).toMatchObject({ status: 'WAITING', trigger: 'ON_COMMIT' });
    expect(p._links['http://ns.adobe.com/adobecloud/rel/execution/id']).toEqual({ href: '/api/program/1/pipeline/unit/execution/{executionId}', templated: true });
    expect(Object.values(p._links).every((l) => l.href.startsWith('/api/') && typeof l.templated === 'boolean')).toBe(true);
    expect(p.phases.flatMap((ph) => ph.steps.map((s) => s.name))).toContain('loadTest');
    const e = (await get('/api/program/1/pipeline/unit/execution/3')).json as { _embedded: { stepStates: Array<{ id: string; action: string; _links: Record<string, unknown> }> }; _links: Record<string, unknown> };
    const ids = e._embedded.stepStates.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe('unit.3.1');
    expect(e._embedded.stepStates.map((s) => s.action)).toContain('loadTest');
    for (const rel of ['http://ns.adobe.com/adobecloud/rel/program', 'http://ns.adobe.com/adobecloud/rel/pipeline']) {
      expect(e._links[rel]).toBeDefined();
      expect(e._embedded.stepStates.every((s) => s._links[rel])).toBe(true);
    }
    const list = (await get('/api/program/1/pipeline/unit/executions?limit=1000')).json as { _page: { limit: number }; _embedded: { executions: Array<Record<string, unknown>> } };
    expect(list._page.limit).toBe(100);
    expect(list._embedded.executions[0]).toMatchObject({ id: '3', pipelineExecutionMode: 'NORMAL', updatedAt: T0 });
    const metrics = (await get('/api/program/1/pipeline/unit/execution/1/phase/stageTesting/step/contentAudit/metrics')).json as { metrics: Array<{ kpi: string; severity: string }> };
    expect(metrics.metrics.map((m) => [m.kpi, m.severity])).toEqual([
      ['lighthouse_performance', 'informational'], ['lighthouse_accessibility', 'informational'],
      ['lighthouse_best-practices', 'informational'], ['lighthouse_seo', 'informational'],
    ]);
  });

  it('logs: the link redirects to an absolute, signed URL that needs no bearer and serves ranges', async () => {
    const json = (await get(`${STEP}/logs`)).json as { redirect: string };
    expect(json.redirect).toMatch(/^http:\/\/localhost(:\d+)?\/api\/logs\/download\?token=/);
    const redirect = await get(`${STEP}/logs`, 'text/plain');
    expect(redirect.status).toBe(307);
    expect(redirect.headers.location).toMatch(/^http:\/\/localhost(:\d+)?\/api\/logs\/download\?token=/);
    const forged = await app.inject({ method: 'GET', url: '/api/logs/download?token=e30.forged' });
    expect(forged.statusCode).toBe(404);
    const tokens = new LogTokens(Buffer.alloc(32, 1));
    const token = tokens.sign('unit/1/build/build.log', 0);
    expect(tokens.verify(token, 1000)).toBe('unit/1/build/build.log');
    expect(tokens.verify(token, 2 * 60 * 60_000)).toBeUndefined();
    expect(new LogTokens(Buffer.alloc(32, 2)).verify(token, 1000)).toBeUndefined();
    const text = Buffer.from('0123456789');
    expect(rangeOf(text, 'bytes=4-')).toEqual({ status: 206, body: Buffer.from('456789'), contentRange: 'bytes 4-9/10' });
    expect(rangeOf(text, 'bytes=10-')).toEqual({ status: 416, contentRange: 'bytes */10' });
    expect(rangeOf(text, undefined)).toEqual({ status: 200, body: text });
  });

  it('refusals in Cloud Manager\'s classes', () => {
    const status = (type: Parameters<typeof problemForType>[0]) => problemForType(type, '').status;
    expect(status(Refusal.InvalidRequest)).toBe(400);
    expect(status(Refusal.Forbidden)).toBe(403);
    expect(status(Refusal.NotWaiting)).toBe(412);
    expect(status(Refusal.Busy)).toBe(412);
    expect(status(Refusal.NotReExecutable)).toBe(412);
  });

  it('the validator itself: missing and mistyped fields are violations, extra fields are not', () => {
    expect(violations(definitions, 'Pipeline', { name: 'x', phases: [{ type: 'BUILD' }], extra: 1 })).toEqual([]);
    expect(violations(definitions, 'Pipeline', { name: 'x' })).toEqual(['Pipeline.phases: missing (required)']);
    expect(violations(definitions, 'Pipeline', { name: 'x', phases: [{}] })).toEqual(['Pipeline.phases[0].type: missing (required)']);
    expect(violations(definitions, 'PipelineExecution', { id: 3, status: 'DONE' })).toEqual([
      'PipelineExecution.id: expected string, got 3', 'PipelineExecution.status: "DONE" is not one of NOT_STARTED, RUNNING, CANCELLING, CANCELLED, FINISHED, ERROR, FAILED',
    ]);
    expect(violations(definitions, 'PipelineExecution', { _embedded: { stepStates: [{ _links: { self: { href: 1 } } }] } }))
      .toEqual(['PipelineExecution._embedded.stepStates[0]._links.self.href: expected string, got 1']);
  });
});
