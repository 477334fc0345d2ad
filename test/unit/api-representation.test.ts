/**
 * The HTTP API without servers: state → representation and links (src/api/representation.ts), advance bodies,
 * tokens and roles (src/api/auth.ts), and the Fastify app's answers that need no Temporal (401/403/400, the OpenAPI
 * document listing every route, the Authorization header redacted from logs) through `inject`.
 */
import { describe, expect, it } from 'vitest';
import { ApiTokens, bearerToken, isAllowed } from '../../src/api/auth';
import { advanceMessage } from '../../src/api/cloudmanager/requests';
import {
  REL, phaseStatus, stepLinks, toExecutionList, toMetrics, toPipelineExecution,
} from '../../src/api/representation';
import { buildApi } from '../../src/api/server';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { Refusal } from '../../src/shared/errors';
import type { ExecutionState, ExecutionSummary, PipelineState, StepState } from '../../src/shared/types';
import { initialState } from '../../src/workflows/execution/state';

const config = parsePipelineConfig({
  id: 'unit', repository: '/tmp/repo', identity: 'declared',
  approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }] },
});
const c = { programId: '1' };
const T0 = '2030-01-01T00:00:00.000Z';

function execution(id: string, patch: (s: ExecutionState) => void = () => undefined, trigger: ExecutionState['trigger'] = 'MANUAL'): ExecutionState {
  const state = initialState({ pipelineId: 'unit', executionId: id, trigger, mode: 'NORMAL', user: 'carol', config }, T0);
  patch(state);
  return state;
}
const byId = (state: ExecutionState, stepId: string) => state.steps.find((s) => s.stepId === stepId)!;
/** Every step up to (not including) `stepId` finished; `stepId` is current with `status`. */
function at(stepId: string, status: StepState['status'], accepts: string[] = []) {
  return (s: ExecutionState) => {
    s.status = 'RUNNING';
    for (const step of s.steps) {
      if (step.stepId === stepId) break;
      step.status = 'FINISHED';
    }
    byId(s, stepId).status = status;
    s.currentStepId = stepId;
    if (status === 'WAITING') {
      s.waiting = { stepId, action: byId(s, stepId).action, since: T0, expiresAt: T0, accepts, allowed: ['alice', 'bob'] };
    }
  };
}
function ended(status: ExecutionState['status'], prodDeploy: StepState['status']) {
  return (s: ExecutionState) => {
    at('deploy-prod', prodDeploy)(s);
    s.status = status;
    s.finishedAt = T0;
    s.artifacts.images = { app: { id: 'sha256:app', tag: 'a' }, dispatcher: { id: 'sha256:disp', tag: 'd' } };
  };
}
function summary(state: ExecutionState): ExecutionSummary {
  const prod = byId(state, 'deploy-prod');
  return {
    id: state.id, workflowId: `w-${state.id}`, status: state.status, trigger: state.trigger, user: state.user, createdAt: T0, finishedAt: T0,
    prodDeployStatus: prod.status === 'NOT_STARTED' ? undefined : prod.status, artifacts: state.artifacts, commitId: 'abc',
  };
}
const pipelineOf = (executions: ExecutionState[], running?: ExecutionState): PipelineState => ({
  pipelineId: 'unit', executions: executions.map(summary), nextExecutionNumber: 9, audit: [],
  running: running ? summary(running) : undefined,
});
const linked = (state: ExecutionState, rel: string, pipeline?: PipelineState) =>
  state.steps.filter((s) => stepLinks(state, s, c, pipeline)[rel]).map((s) => s.stepId);

describe('API links: present only when the action is allowed now', () => {
  it('advance at the waiting step only, while it waits for a decision', () => {
    expect(linked(execution('1', at('build', 'RUNNING')), REL.advance)).toEqual([]);
    expect(linked(execution('1', at('approval', 'WAITING', ['approve', 'reject', 'cancel'])), REL.advance)).toEqual(['approval']);
    expect(linked(execution('1', at('schedule', 'WAITING', ['schedule', 'cancel'])), REL.advance)).toEqual(['schedule']);
    // Decided (approve accepted, the step not finished yet): only cancel is accepted, so no advance.
    expect(linked(execution('1', at('approval', 'WAITING', ['cancel'])), REL.advance)).toEqual([]);
    expect(linked(execution('1', ended('FINISHED', 'FINISHED')), REL.advance)).toEqual([]);
  });

  it('cancel on the current step of a live execution', () => {
    expect(linked(execution('1'), REL.cancel)).toEqual(['validate']);
    expect(linked(execution('1', at('buildImage', 'RUNNING')), REL.cancel)).toEqual(['buildImage']);
    expect(linked(execution('1', (s) => { at('build', 'RUNNING')(s); s.status = 'CANCELLING'; }), REL.cancel)).toEqual([]);
    expect(linked(execution('1', ended('CANCELLED', 'ROLLED_BACK')), REL.cancel)).toEqual([]);
  });

  it('reExecute on the production deploy of the last execution once that deploy completed in any way', () => {
    for (const [status, prod] of [['FINISHED', 'FINISHED'], ['FAILED', 'FAILED'], ['FAILED', 'ROLLED_BACK'], ['CANCELLED', 'CANCELLED']] as const) {
      const last = execution('2', ended(status, prod));
      expect(linked(last, REL.reExecute, pipelineOf([execution('1', ended('FINISHED', 'FINISHED')), last])), `${status}/${prod}`).toEqual(['deploy-prod']);
    }
  });

  it('no reExecute: not the last, busy, a push update, ended before Production, not recorded yet', () => {
    const one = execution('1', ended('FINISHED', 'FINISHED'));
    const two = execution('2', ended('FINISHED', 'FINISHED'));
    expect(linked(one, REL.reExecute, pipelineOf([one, two]))).toEqual([]);
    expect(linked(two, REL.reExecute, pipelineOf([one, two], execution('3', at('build', 'RUNNING'))))).toEqual([]);
    const push = execution('3', ended('FINISHED', 'FINISHED'), 'PUSH_UPGRADES');
    expect(linked(push, REL.reExecute, pipelineOf([one, push]))).toEqual([]);
    const rejected = execution('4', (s) => { at('approval', 'CANCELLED')(s); s.status = 'CANCELLED'; });
    expect(linked(rejected, REL.reExecute, pipelineOf([one, rejected]))).toEqual([]);
    expect(linked(two, REL.reExecute, pipelineOf([one]))).toEqual([]);
    expect(linked(two, REL.reExecute, undefined)).toEqual([]);
  });

  it('logs where the step recorded files, metrics where it recorded metrics', () => {
    const state = execution('1', (s) => {
      at('approval', 'WAITING', ['approve', 'reject', 'cancel'])(s);
      byId(s, 'build').details = { logRef: 'unit/1/build/build.log', reportRef: 'unit/1/build/junit.xml' };
      byId(s, 'codeQuality').details = { metrics: [{ kpi: 'unit_tests_failed', severity: 'critical', passed: true, actualValue: 0, expectedValue: '0', comparator: 'EQ' }] };
      s.artifacts.reports.push({ name: 'build log', ref: 'unit/1/build/build.log' }, { name: 'unit tests (JUnit)', ref: 'unit/1/build/junit.xml' });
    });
    expect(linked(state, REL.logs)).toEqual(['build']);
    expect(linked(state, REL.metrics)).toEqual(['codeQuality']);
    expect(toMetrics(byId(state, 'codeQuality')).metrics).toEqual([
      { id: 'unit_tests_failed', kpi: 'unit_tests_failed', severity: 'critical', passed: true, override: false, actualValue: '0', expectedValue: '0', comparator: 'EQ' },
    ]);
  });
});

describe('API representations', () => {
  it('a PipelineExecution with step states, phases and Cloud Manager field names', () => {
    const state = execution('3', at('approval', 'WAITING', ['approve', 'reject', 'cancel']));
    const rep = toPipelineExecution(state, c);
    expect(rep).toMatchObject({
      id: '3', programId: '1', pipelineId: 'unit', user: 'carol', status: 'RUNNING', trigger: 'MANUAL', pipelineExecutionMode: 'NORMAL',
      pipelineType: 'CI_CD', _links: { self: { href: '/api/program/1/pipeline/unit/execution/3' } },
    });
    expect(rep.phases).toEqual([
      { phaseId: 'stageDeployment', status: 'FINISHED', stepIds: ['validate', 'build', 'codeQuality', 'buildImage', 'deploy-stage'] },
      { phaseId: 'stageTesting', status: 'FINISHED', stepIds: ['productTest', 'functionalTest', 'uiTest', 'contentAudit'] },
      { phaseId: 'production', status: 'WAITING', stepIds: expect.arrayContaining(['approval', 'schedule', 'deploy-prod']) },
    ]);
    const approval = rep._embedded.stepStates.find((s) => s.stepId === 'approval')!;
    expect(Object.keys(approval)).toEqual(expect.arrayContaining(['id', 'stepId', 'phaseId', 'action', 'status', 'details', 'trigger', '_links']));
    expect(approval._links[REL.advance].href).toBe('/api/program/1/pipeline/unit/execution/3/phase/production/step/approval/advance');
    expect(phaseStatus([], 'RUNNING')).toBe('NOT_STARTED');
  });

  it('the list: running first, newest first, paginated', () => {
    const done = [1, 2, 3].map((n) => execution(String(n), ended('FINISHED', 'FINISHED')));
    const running = execution('4', at('build', 'RUNNING'));
    const page = toExecutionList('unit', pipelineOf(done, running), c, { start: 0, limit: 2 }, new Map([['4', running]]));
    expect(page._totalNumberOfItems).toBe(4);
    expect(page._embedded.executions.map((e) => e.id)).toEqual(['4', '3']);
    // Mode and last change from the execution's own state where it was read; the summary's time otherwise.
    expect(page._embedded.executions[0]).toMatchObject({ pipelineExecutionMode: 'NORMAL', updatedAt: running.updatedAt });
    expect(page._embedded.executions[1].updatedAt).toBe(done[2].finishedAt ?? T0);
    expect(page._links.next.href).toBe('/api/program/1/pipeline/unit/executions?start=2&limit=2');
    expect(page._links.prev).toBeUndefined();
    const last = toExecutionList('unit', pipelineOf(done, running), c, { start: 2, limit: 2 });
    expect(last._embedded.executions.map((e) => e.id)).toEqual(['2', '1']);
    expect(last._links.prev.href).toBe('/api/program/1/pipeline/unit/executions?start=0&limit=2');
    expect(toExecutionList('unit', undefined, c, { start: 0, limit: 20 })._totalNumberOfItems).toBe(0);
  });
});

describe('advance bodies (Cloud Manager\'s)', () => {
  const waitingApproval = execution('1', at('approval', 'WAITING', ['approve', 'reject', 'cancel']));
  const waitingSchedule = execution('1', at('schedule', 'WAITING', ['schedule', 'cancel']));
  const approval = byId(waitingApproval, 'approval');
  const schedule = byId(waitingSchedule, 'schedule');

  it('approval: {"approved": true|false}', () => {
    expect(advanceMessage(waitingApproval, approval, { approved: true })).toEqual({ ok: true, action: 'approve', request: {} });
    expect(advanceMessage(waitingApproval, approval, { approved: false, reason: 'not now' })).toEqual({ ok: true, action: 'reject', request: { reason: 'not now' } });
    expect(advanceMessage(waitingApproval, approval, { approved: 'yes' })).toMatchObject({ ok: false, type: Refusal.InvalidRequest });
    expect(advanceMessage(waitingApproval, approval, undefined)).toMatchObject({ ok: false, type: Refusal.InvalidRequest });
    expect(advanceMessage(waitingApproval, byId(waitingApproval, 'build'), { approved: true })).toMatchObject({ ok: false, type: Refusal.NotWaiting });
  });

  it('schedule: {"schedule": "now" | ISO time}', () => {
    expect(advanceMessage(waitingSchedule, schedule, { schedule: 'now' })).toEqual({ ok: true, action: 'schedule', request: { now: true } });
    expect(advanceMessage(waitingSchedule, schedule, { schedule: '2030-01-31T22:00:00+01:00' }))
      .toEqual({ ok: true, action: 'schedule', request: { at: '2030-01-31T21:00:00.000Z' } });
    expect(advanceMessage(waitingSchedule, schedule, { schedule: 'tomorrow' })).toMatchObject({ ok: false, type: Refusal.InvalidRequest });
    expect(advanceMessage(waitingSchedule, schedule, { approved: true })).toMatchObject({ ok: false, type: Refusal.InvalidRequest });
  });

  it('override: {"metrics": [{"kpi": ..., "override": true}]}', () => {
    const gate = execution('1', at('codeQuality', 'WAITING', ['override', 'cancel']));
    const step = byId(gate, 'codeQuality');
    expect(advanceMessage(gate, step, { metrics: [{ kpi: 'coverage', override: true }, { kpi: 'x', override: false }, 'security_rating'] }))
      .toEqual({ ok: true, action: 'override', request: { metrics: ['coverage', 'security_rating'] } });
    expect(advanceMessage(gate, step, { metrics: [] })).toMatchObject({ ok: false, type: Refusal.InvalidRequest });
  });
});

const TOKENS = {
  users: [
    { name: 'alice', roles: ['DEPLOYMENT_MANAGER' as const], token: 'unit-token-alice-000001' },
    { name: 'carol', roles: ['DEVELOPER' as const], token: 'unit-token-carol-000002' },
    { name: 'dave', roles: [], tokenSha256: 'dc3081985136a7121c23030216eab8188c65cdfc50edbbe8af3a7b2f1f84f493' },
  ],
};

describe('API tokens and roles', () => {
  it('maps tokens (or their SHA-256) to users; refuses a bad file without quoting it', () => {
    const tokens = new ApiTokens(TOKENS);
    expect(tokens.userFor('unit-token-alice-000001')).toEqual({ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] });
    expect(tokens.userFor('sample-token-dave-reader')?.name).toBe('dave');
    expect(tokens.userFor('unit-token-alice-00000')).toBeUndefined();
    expect(() => new ApiTokens({ users: [{ name: 'x', roles: ['ADMIN' as never], token: 'short-secret' }] })).toThrow(/users\.0\.roles\.0[\s\S]*users\.0\.token/);
    expect(() => new ApiTokens({ users: [{ name: 'x', roles: [], token: 'short-secret' }] })).not.toThrow(/short-secret/);
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    const [alice, carol, dave] = tokens.users;
    expect([isAllowed(alice, 'reExecute'), isAllowed(carol, 'reExecute'), isAllowed(carol, 'start'), isAllowed(carol, 'advance'), isAllowed(dave, 'read'), isAllowed(dave, 'cancel')])
      .toEqual([true, false, true, false, true, false]);
  });

  it('the sample tokens file loads', () => {
    expect(ApiTokens.load().users.map((u) => u.name)).toEqual(['alice', 'bob', 'carol', 'dave']);
  });

  it('answers 401/403/400 before any workflow is asked, documents every route, and never logs the token', async () => {
    const lines: string[] = [];
    const unreachable = new Proxy({}, { get: () => { throw new Error('no Temporal call expected'); } });
    const app = buildApi({ stagecoach: unreachable as never, tokens: TOKENS, logger: { stream: { write: (l: string) => { lines.push(l); } } } });
    await app.ready();
    // The document and the server come from one route table: every documented operation is served, and all of them are.
    const doc = JSON.parse((await app.inject({ url: '/api/openapi.json' })).body);
    const documented = Object.entries(doc.paths as Record<string, object>)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase() as 'GET' | 'PUT', url: p.replace(/\{(\w+)\}/g, ':$1') })));
    expect(documented).toHaveLength(23);
    for (const route of documented) expect(app.hasRoute(route), `${route.method} ${route.url}`).toBe(true);

    const url = '/api/program/1/pipeline/unit/execution/1/phase/production/step/approval/advance';
    const put = (token?: string, payload?: string) => app.inject({
      method: 'PUT', url, payload,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
    });
    expect((await put()).statusCode).toBe(401);
    expect((await put('unit-token-nobody-000000')).statusCode).toBe(401);
    const forbidden = await put('unit-token-carol-000002', '{"approved": true}');
    expect(forbidden.statusCode).toBe(403);
    expect(JSON.parse(forbidden.body)).toMatchObject({ type: 'urn:stagecoach:problem:forbidden', title: 'Forbidden', detail: expect.stringMatching(/BUSINESS_OWNER/) });
    const bad = await put('unit-token-alice-000001', '{"approved": tru');
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.parse(bad.body).detail).toMatch(/not valid JSON/);
    expect((await app.inject({ url: '/api/nothing' })).statusCode).toBe(404);

    // The keeper's scale: the role first, then the body and the environment, all before the keeper is asked.
    const scale = (token: string, environmentType: string, payload: string) => app.inject({
      method: 'PUT', url: `/api/program/1/pipeline/unit/keeper/${environmentType}/scale`, payload,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
    const developer = await scale('unit-token-carol-000002', 'prod', '{"pairs": 3}');
    expect([developer.statusCode, JSON.parse(developer.body).detail]).toEqual([403, expect.stringMatching(/carol may not scale .*DEPLOYMENT_MANAGER, PROGRAM_MANAGER/)]);
    const notANumber = await scale('unit-token-alice-000001', 'prod', '{"pairs": "three"}');
    expect([notANumber.statusCode, JSON.parse(notANumber.body).detail]).toEqual([400, expect.stringMatching(/\{"pairs": N\}/)]);
    expect((await scale('unit-token-alice-000001', 'dev', '{"pairs": 3}')).statusCode).toBe(404);
    expect((await app.inject({ url: '/api/program/1/pipeline/unit/keeper/qa', headers: { authorization: 'Bearer sample-token-dave-reader' } })).statusCode).toBe(404);
    await app.close();
    const logs = lines.join('');
    expect(logs).toContain('"authorization":"[redacted]"');
    expect(logs).not.toMatch(/unit-token-/);
  });
});
