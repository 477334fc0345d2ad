/**
 * The HTTP API (issue 6) through real HTTP: the API listens on 127.0.0.1 (port 0) in this process with the harness's
 * Stagecoach client, and a worker on the shared dev server runs the executions on the real Docker Engine. Every
 * request below is a `fetch`; nothing is asserted on the workflows directly except what HTTP cannot show (images
 * built, the pipeline's audit).
 *
 * One pipeline (`t-api-<pid>`, one Production pair), executions in order:
 *   1 MANUAL (carol) → FINISHED          advance links at approval then schedule only; reExecute once prod finished
 *   2 RE_EXECUTE of 1 (alice) → FINISHED  201 + Location; same image IDs in Production, nothing built; 1 no longer re-executable
 *   3 MANUAL (alice) → CANCELLED during the production deploy: reExecute offered (cancelled case)
 *   4 MANUAL (carol) → FAILED in the production deploy (an injected, transient port collision): reExecute offered
 *   5 RE_EXECUTE of 4 (alice) → FINISHED  Production on 4's version once the collision is gone
 *   6 MANUAL (carol) → FAILED at build (a failing unit test): re-execute refused, before the production deployment
 *   7 PUSH_UPGRADES (alice), cancelled: re-execute refused for a push update
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { REL } from '../../src/api/representation';
import { PROJECT_ROOT } from '../../src/config/paths';
import { syncSampleRepo } from '../../src/dev/sample-repo';
import { startHarness, testPipeline, type Harness } from '../helpers/harness';
import { startTestApi } from '../helpers/test-api';

// Its own id per run: a concurrent run of this file (another checkout's `npm test` on the same Docker Engine) never
// shares containers, networks or image labels with this one.
const ID = `t-api-${process.pid}`;
const TOKENS = {
  alice: 'test-api-token-alice-dm-0001',
  bob: 'test-api-token-bob-bo-0002',
  carol: 'test-api-token-carol-dev-0003',
  dave: 'test-api-token-dave-reader-0004',
  erin: 'test-api-token-erin-pm-0005',
} as const;
type Who = keyof typeof TOKENS;

let h: Harness;
let app: FastifyInstance;
let base: string;
const logLines: string[] = [];

const pipelineConfig = (prodAuthorPort = 0) => testPipeline(ID, h.repo, {
  environments: {
    stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
    prod: { pairs: 1, loadBalancerPort: 0, authorPort: prodAuthorPort, drainTimeout: '5s' },
  },
  // carol (the tokens' DEVELOPER) cancels executions others started: the pipeline must know her role (cancelRoles).
  people: [{ name: 'carol', roles: ['DEVELOPER'] }],
});

beforeAll(async () => {
  h = await startHarness('api', [ID]);
  await h.writePipeline(pipelineConfig());
  ({ app, base } = await startTestApi(h, [
    { name: 'alice', roles: ['DEPLOYMENT_MANAGER'], token: TOKENS.alice },
    { name: 'bob', roles: ['BUSINESS_OWNER'], token: TOKENS.bob },
    { name: 'carol', roles: ['DEVELOPER'], token: TOKENS.carol },
    { name: 'dave', roles: [], token: TOKENS.dave },
    // A program manager who is not among the pipeline's approvers: the API lets her advance, the execution refuses.
    { name: 'erin', roles: ['PROGRAM_MANAGER'], token: TOKENS.erin },
  ], { level: 'info', stream: { write: (line: string) => { logLines.push(line); } } }));
});
afterAll(async () => {
  await app?.close();
  await h?.close();
  // The images of this run's own pipeline id: nobody else uses them (the containers are gone with h.close()).
  if (h && !process.env.KEEP_TOPOLOGY) {
    for (const image of await h.docker.listImages({ filters: { label: [`stagecoach.pipeline=${ID}`] } })) {
      await h.docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// HTTP helpers

interface Answer { status: number; headers: Headers; json: any; text: string } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(method: 'GET' | 'PUT', url: string, opts: { as?: Who; body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.as ? { authorization: `Bearer ${TOKENS[opts.as]}` } : {}), ...opts.headers };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  const res = await fetch(`${base}${url}`, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

const pipelinePath = `/api/program/1/pipeline/${ID}`;
const executionPath = (id: string) => `${pipelinePath}/execution/${id}`;

interface StepRep { stepId: string; phaseId: string; action: string; status: string; details: Record<string, unknown>; _links: Record<string, { href: string }> }
interface ExecutionRep {
  id: string; status: string; trigger: string; user: string; reason?: string; reExecutionOf?: string; artifactsVersion?: string;
  waiting?: { stepId: string; action: string; accepts: string[] }; images?: { app: { id: string }; dispatcher: { id: string } };
  environmentUrls: Record<string, string>; audit: Array<{ by: string; action: string; via: string; outcome: string; reason?: string }>;
  _embedded: { stepStates: StepRep[] }; _links: Record<string, { href: string }>;
}

const TERMINAL = ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'];
const step = (rep: ExecutionRep, stepId: string) => rep._embedded.stepStates.find((s) => s.stepId === stepId)!;
const withLink = (rep: ExecutionRep, rel: string) => rep._embedded.stepStates.filter((s) => s._links[rel]).map((s) => s.stepId);

/**
 * What must hold in every representation, whenever it is read: advance only at the waiting step (and only while it
 * waits for a decision), cancel on the current step of a live execution only, reExecute only on the production deploy
 * step of an execution that has ended.
 */
function checkLinks(rep: ExecutionRep): void {
  const deciding = rep.waiting && rep.waiting.accepts.some((a) => a !== 'cancel') && !TERMINAL.includes(rep.status);
  expect(withLink(rep, REL.advance), `advance links of ${rep.id} (${rep.status})`).toEqual(deciding ? [rep.waiting!.stepId] : []);
  expect(withLink(rep, REL.cancel).length, `cancel links of ${rep.id} (${rep.status})`).toBe(TERMINAL.includes(rep.status) || rep.status === 'CANCELLING' ? 0 : 1);
  const reExecutable = withLink(rep, REL.reExecute);
  if (!TERMINAL.includes(rep.status)) expect(reExecutable, `reExecute links of running ${rep.id}`).toEqual([]);
  else expect(reExecutable.every((s) => s === 'deploy-prod')).toBe(true);
  for (const s of rep._embedded.stepStates) expect(s._links.self.href).toBe(`${executionPath(rep.id)}/phase/${s.phaseId}/step/${s.stepId}`);
}

async function getExecution(id: string, as: Who = 'dave'): Promise<ExecutionRep> {
  const res = await call('GET', executionPath(id), { as });
  expect(res.status, res.text).toBe(200);
  checkLinks(res.json);
  return res.json;
}

/** Polls the execution over HTTP until `until` holds. */
async function pollExecution(id: string, until: (rep: ExecutionRep) => boolean, timeoutMs = 5 * 60_000, intervalMs = 300): Promise<ExecutionRep> {
  const deadline = Date.now() + timeoutMs;
  let rep: ExecutionRep | undefined;
  while (Date.now() < deadline) {
    rep = await getExecution(id);
    if (until(rep)) return rep;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out; last: ${JSON.stringify(rep && { status: rep.status, reason: rep.reason, steps: rep._embedded.stepStates.map((s) => [s.stepId, s.status]) })}`);
}
const ended = (rep: ExecutionRep) => TERMINAL.includes(rep.status);
const waitingAt = (action: string) => (rep: ExecutionRep) => rep.waiting?.action === action || ended(rep);

/** The reExecute link appears once the pipeline workflow has recorded the ended execution. */
async function reExecuteLink(id: string): Promise<string> {
  let href: string | undefined;
  await expect.poll(async () => {
    href = step(await getExecution(id), 'deploy-prod')._links[REL.reExecute]?.href;
    return href;
  }, { timeout: 15_000 }).toBeDefined();
  return href!;
}

/** Waits until the pipeline has no running execution (it records an ended one a moment after it ends). */
async function pipelineIdle(): Promise<void> {
  await expect.poll(async () => (await call('GET', `${pipelinePath}/execution`, { as: 'dave' })).status, { timeout: 15_000 }).toBe(404);
}

async function start(as: Who, query = ''): Promise<ExecutionRep> {
  const res = await call('PUT', `${pipelinePath}/execution${query}`, { as });
  expect(res.status, res.text).toBe(201);
  expect(res.headers.get('location')).toBe(executionPath(res.json.id));
  return res.json;
}

async function advance(id: string, stepId: string, as: Who, body: unknown): Promise<Answer> {
  const rep = await getExecution(id);
  const s = step(rep, stepId);
  return call('PUT', `${executionPath(id)}/phase/${s.phaseId}/step/${s.stepId}/advance`, { as, body });
}

/** Approval by bob, schedule now by alice, through the advance links. */
async function release(id: string): Promise<void> {
  const atApproval = await pollExecution(id, waitingAt('approval'), 8 * 60_000);
  expect(atApproval.status, atApproval.reason).toBe('RUNNING');
  const approved = await call('PUT', step(atApproval, 'approval')._links[REL.advance].href, { as: 'bob', body: { approved: true } });
  expect(approved.status, approved.text).toBe(202);
  const atSchedule = await pollExecution(id, waitingAt('schedule'));
  const scheduled = await call('PUT', step(atSchedule, 'schedule')._links[REL.advance].href, { as: 'alice', body: { schedule: 'now' } });
  expect(scheduled.status, scheduled.text).toBe(202);
}

const versionAt = async (url: string) => (await fetch(url)).headers.get('x-app-version');
/** Images built for an execution (labelled with it) since `sinceMs`. */
const builtImages = async (executionId: string, sinceMs: number) =>
  (await h.docker.listImages({ filters: { label: [`stagecoach.pipeline=${ID}`, `stagecoach.execution=${executionId}`] } }))
    .filter((i) => i.Created >= Math.floor(sinceMs / 1000));

// ---------------------------------------------------------------------------------------------------------------

describe('HTTP API', () => {
  let prodUrl: string;
  let first: ExecutionRep;

  it('serves its OpenAPI document; 401 without a valid token, 403 without the role', async () => {
    const doc = await call('GET', '/api/openapi.json');
    expect(doc.status).toBe(200);
    const documented = Object.entries(doc.json.paths as Record<string, object>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    const stepPath = '/api/program/{programId}/pipeline/{pipelineId}/execution/{executionId}/phase/{phaseId}/step/{stepId}';
    expect(documented.sort()).toEqual([
      'GET /api/openapi.json',
      'GET /api/program/{programId}/pipeline/{pipelineId}/executions',
      'GET /api/program/{programId}/pipeline/{pipelineId}/execution',
      'PUT /api/program/{programId}/pipeline/{pipelineId}/execution',
      'GET /api/program/{programId}/pipeline/{pipelineId}/execution/{executionId}',
      `GET ${stepPath}`, `GET ${stepPath}/logs`, `GET ${stepPath}/metrics`, `PUT ${stepPath}/advance`, `PUT ${stepPath}/cancel`,
      `PUT ${stepPath}/reExecute`,
      // Cloud Manager's navigation resources and the signed log download (test/e2e/cloudmanager-client.test.ts).
      'GET /api/programs', 'GET /api/program/{programId}', 'GET /api/program/{programId}/pipelines',
      'GET /api/program/{programId}/pipeline/{pipelineId}', 'GET /api/program/{programId}/environments',
      'GET /api/program/{programId}/environment/{environmentId}', 'GET /api/logs/download',
      // Observability: Prometheus metrics and the DORA figures (docs/operations.md, "Observability").
      'GET /metrics', 'GET /api/program/{programId}/pipeline/{pipelineId}/dora/metrics', 'GET /api/program/{programId}/dora/metrics',
      // The environment keeper (test/e2e/keeper.test.ts).
      'GET /api/program/{programId}/pipeline/{pipelineId}/keeper/{environmentType}',
      'PUT /api/program/{programId}/pipeline/{pipelineId}/keeper/{environmentType}/scale',
    ].sort());

    const none = await call('GET', `${pipelinePath}/executions`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(none.json).toMatchObject({ type: expect.stringMatching(/unauthorized/), title: 'Unauthorized', detail: expect.any(String) });
    const wrong = await call('GET', `${pipelinePath}/executions`, { headers: { authorization: 'Bearer not-a-known-token-at-all' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/invalid_token/);
    expect((await call('GET', `${pipelinePath}/executions`, { headers: { authorization: `Basic ${TOKENS.alice}` } })).status).toBe(401);

    // dave reads only; bob approves but does not start; carol starts but neither approves nor re-executes.
    const empty = await call('GET', `${pipelinePath}/executions`, { as: 'dave' });
    expect(empty.status, empty.text).toBe(200);
    expect(empty.json).toMatchObject({ _totalNumberOfItems: 0, _embedded: { executions: [] } });
    for (const as of ['dave', 'bob'] as const) {
      const refused = await call('PUT', `${pipelinePath}/execution`, { as });
      expect(refused.status).toBe(403);
      expect(refused.json.detail).toMatch(new RegExp(`${as} may not start executions`));
    }
    expect((await call('GET', '/api/program/1/pipeline/t-api-unknown/executions', { as: 'dave' })).status).toBe(404);
    expect((await call('GET', executionPath('99'), { as: 'dave' })).status).toBe(404);
    expect((await call('GET', `${pipelinePath}/execution`, { as: 'dave' })).status).toBe(404);
  });

  it('starts an execution: 201 with Location, then 412 while the pipeline is busy', async () => {
    await syncSampleRepo(h.repo, '7.0.0');
    first = await start('carol');
    expect(first).toMatchObject({ id: '1', user: 'carol', trigger: 'MANUAL', pipelineExecutionMode: 'NORMAL', pipelineId: ID, programId: '1' });
    expect(first._embedded.stepStates.map((s) => s.stepId)).toEqual(expect.arrayContaining(['validate', 'build', 'codeQuality', 'approval', 'schedule', 'deploy-prod']));
    expect(step(first, 'build')).toMatchObject({ phaseId: 'stageDeployment', action: 'build', trigger: 'MANUAL' });
    expect(step(first, 'deploy-prod')).toMatchObject({ phaseId: 'production', action: 'deploy', environment: 'prod', environmentType: 'prod' });

    const busy = await call('PUT', `${pipelinePath}/execution`, { as: 'alice' });
    expect(busy.status).toBe(412);
    expect(busy.json).toMatchObject({ type: expect.stringMatching(/pipeline-busy/), detail: expect.stringMatching(/busy/) });
    const current = await call('GET', `${pipelinePath}/execution`, { as: 'dave' });
    expect(current.status).toBe(200);
    expect(current.json.id).toBe('1');
    const list = await call('GET', `${pipelinePath}/executions`, { as: 'dave' });
    expect(list.json._totalNumberOfItems).toBe(1);
    expect(list.json._embedded.executions[0]).toMatchObject({ id: '1', trigger: 'MANUAL', user: 'carol' });
  });

  it('offers advance only at the waiting step; logs and metrics where the step has them', async () => {
    const atApproval = await pollExecution('1', waitingAt('approval'), 8 * 60_000);
    expect(atApproval.status, atApproval.reason).toBe('RUNNING');
    expect(withLink(atApproval, REL.advance)).toEqual(['approval']);
    expect(withLink(atApproval, REL.cancel)).toEqual(['approval']);
    expect(withLink(atApproval, REL.reExecute)).toEqual([]);
    expect(withLink(atApproval, REL.logs)).toEqual(expect.arrayContaining(['build', 'buildImage']));
    // contentAudit reports its Lighthouse scores as informational metrics when it could score.
    const scored = Object.values((step(atApproval, 'contentAudit').details.scores ?? {}) as Record<string, unknown>).some((v) => typeof v === 'number');
    expect(withLink(atApproval, REL.metrics)).toEqual(scored ? ['codeQuality', 'contentAudit'] : ['codeQuality']);

    // Logs: the build log as text, the step's files as JSON; a step without logs has none.
    const buildLinks = step(atApproval, 'build')._links;
    const log = await call('GET', buildLinks[REL.logs].href, { as: 'dave' });
    expect(log.status).toBe(200);
    expect(log.headers.get('content-type')).toMatch(/text\/plain/);
    expect(log.text).toMatch(/unit tests: \d+ passed/);
    const files = await call('GET', buildLinks[REL.logs].href, { as: 'dave', headers: { accept: 'application/json' } });
    expect(files.json.files.map((f: { file: string }) => f.file)).toEqual(expect.arrayContaining(['junit.xml']));
    const junit = await call('GET', `${buildLinks[REL.logs].href}?file=junit.xml`, { as: 'dave' });
    expect(junit.text).toMatch(/<testsuite/);
    expect((await call('GET', `${step(atApproval, 'validate')._links.self.href}/logs`, { as: 'dave' })).status).toBe(404);
    const metrics = await call('GET', step(atApproval, 'codeQuality')._links[REL.metrics].href, { as: 'dave' });
    expect(metrics.status).toBe(200);
    expect(metrics.json.metrics).toEqual(expect.arrayContaining([
      expect.objectContaining({ kpi: 'unit_tests_failed', severity: 'critical', passed: true, override: false, comparator: 'EQ' }),
    ]));
    const oneStep = await call('GET', step(atApproval, 'approval')._links.self.href, { as: 'dave' });
    expect(oneStep.json).toMatchObject({ stepId: 'approval', status: 'WAITING' });
    expect(Object.keys(oneStep.json._links)).toEqual(expect.arrayContaining([REL.advance, REL.cancel]));

    // Re-execute is not offered while the pipeline is busy, and refused if asked anyway.
    const reExecuteHref = `${step(atApproval, 'deploy-prod')._links.self.href}/reExecute`;
    expect((await call('PUT', reExecuteHref, { as: 'carol' })).status).toBe(403);
    const busy = await call('PUT', reExecuteHref, { as: 'alice' });
    expect(busy.status).toBe(412);
    expect(busy.json.detail).toMatch(/busy/);

    // Advance: the role (403 from the API), the approver list (403 from the execution), the step, the body.
    const approvalHref = step(atApproval, 'approval')._links[REL.advance].href;
    expect((await call('PUT', approvalHref, { as: 'carol', body: { approved: true } })).status).toBe(403);
    const notApprover = await call('PUT', approvalHref, { as: 'erin', body: { approved: true } });
    expect(notApprover.status).toBe(403);
    expect(notApprover.json.detail).toMatch(/erin is not an approver/);
    const wrongStep = await advance('1', 'codeQuality', 'alice', { approved: true });
    expect(wrongStep.status).toBe(412);
    expect(wrongStep.json.detail).toMatch(/waits at step approval/);
    const badJson = await call('PUT', approvalHref, { as: 'alice', body: '{"approved": tru' });
    expect(badJson.status).toBe(400);
    expect(badJson.json.detail).toMatch(/not valid JSON/);
    const badBody = await call('PUT', approvalHref, { as: 'alice', body: { approved: 'yes' } });
    expect(badBody.status).toBe(400);
    expect(badBody.json.detail).toMatch(/\{"approved": true\}/);

    const approved = await call('PUT', approvalHref, { as: 'bob', body: { approved: true } });
    expect(approved.status, approved.text).toBe(202);
    const atSchedule = await pollExecution('1', waitingAt('schedule'));
    expect(withLink(atSchedule, REL.advance)).toEqual(['schedule']);
    const scheduleHref = step(atSchedule, 'schedule')._links[REL.advance].href;
    expect((await call('PUT', approvalHref, { as: 'bob', body: { approved: true } })).status).toBe(412);
    expect((await call('PUT', scheduleHref, { as: 'alice', body: { schedule: 'tomorrow' } })).status).toBe(400);
    const scheduled = await call('PUT', scheduleHref, { as: 'alice', body: { schedule: 'now' } });
    expect(scheduled.status, scheduled.text).toBe(202);

    let sawProdDeploy = false;
    const done = await pollExecution('1', (rep) => {
      if (step(rep, 'deploy-prod').status === 'RUNNING') sawProdDeploy = true; // checkLinks: no reExecute meanwhile
      return ended(rep);
    }, 5 * 60_000, 200);
    expect(done.status, done.reason).toBe('FINISHED');
    expect(sawProdDeploy).toBe(true);
    prodUrl = done.environmentUrls.prod;
    expect(await versionAt(prodUrl)).toBe('7.0.0');

    // The users named by the tokens are who the execution's audit log records.
    expect(done.audit.map((a) => `${a.action} ${a.by} ${a.via} ${a.outcome}`)).toEqual(expect.arrayContaining([
      'approve erin update refused', 'approve bob update accepted', 'schedule alice update accepted',
    ]));
  });

  it('offers reExecute once the production deployment finished; PUT answers 201 with a RE_EXECUTE execution that builds nothing', async () => {
    const href = await reExecuteLink('1');
    first = await getExecution('1');
    expect(withLink(first, REL.reExecute)).toEqual(['deploy-prod']);
    expect(withLink(first, REL.advance)).toEqual([]);
    expect(withLink(first, REL.cancel)).toEqual([]);
    expect((await call('PUT', href, { as: 'carol' })).status).toBe(403);

    const since = Date.now();
    const res = await call('PUT', href, { as: 'alice' });
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('location')).toBe(executionPath('2'));
    expect(res.json).toMatchObject({ id: '2', trigger: 'RE_EXECUTE', user: 'alice', reExecutionOf: '1' });
    expect(res.json._embedded.stepStates.map((s: StepRep) => s.stepId)).toEqual(['validate', 'build', 'deploy-prod']);
    expect((await call('PUT', `${pipelinePath}/execution`, { as: 'carol' })).status).toBe(412);

    const again = await pollExecution('2', ended);
    expect(again.status, again.reason).toBe('FINISHED');
    expect(step(again, 'build').details).toMatchObject({ copying: true, copiedFrom: '1' });
    expect(again.images).toEqual(first.images);
    expect(await builtImages('2', since)).toHaveLength(0);
    expect(await versionAt(prodUrl)).toBe('7.0.0');
    const pipelineAudit = (await h.stagecoach.pipelineState(ID)).audit.filter((a) => a.action === 'reExecute');
    expect(pipelineAudit.map((a) => `${a.by} ${a.outcome}`)).toEqual(['alice refused', 'alice accepted']);

    // Execution 1 is no longer the last one: no link, and a PUT is refused with the reason.
    await reExecuteLink('2');
    expect(withLink(await getExecution('1'), REL.reExecute)).toEqual([]);
    const notLast = await call('PUT', href, { as: 'alice' });
    expect(notLast.status).toBe(412);
    expect(notLast.json.detail).toMatch(/only the pipeline's last execution \(2\)/);
  });

  it('offers reExecute after a production deployment that was cancelled', async () => {
    await syncSampleRepo(h.repo, '7.1.0');
    await start('alice');
    const atApproval = await pollExecution('3', waitingAt('approval'), 8 * 60_000);
    const selfApproval = await call('PUT', step(atApproval, 'approval')._links[REL.advance].href, { as: 'alice', body: { approved: true } });
    expect(selfApproval.status).toBe(403);
    expect(selfApproval.json.detail).toMatch(/self-approval/);
    await release('3');
    const deploying = await pollExecution('3', (rep) => step(rep, 'deploy-prod').status === 'RUNNING' || ended(rep), 5 * 60_000, 100);
    expect(step(deploying, 'deploy-prod').status).toBe('RUNNING');
    expect(withLink(deploying, REL.cancel)).toEqual(['deploy-prod']);
    const cancel = await call('PUT', step(deploying, 'deploy-prod')._links[REL.cancel].href, { as: 'carol', body: { reason: 'changed our mind' } });
    expect(cancel.status, cancel.text).toBe(202);
    const cancelled = await pollExecution('3', ended);
    expect(cancelled.status).toBe('CANCELLED');
    expect(['CANCELLED', 'ROLLED_BACK']).toContain(step(cancelled, 'deploy-prod').status);
    expect((await call('PUT', step(deploying, 'deploy-prod')._links[REL.cancel].href, { as: 'carol' })).status).toBe(412);
    await reExecuteLink('3');
    expect(await versionAt(prodUrl)).toBe('7.0.0'); // rolled back
  });

  it('a re-execution after a transient Production failure brings Production to the new version', async () => {
    // The injected failure: Production's author is configured on a fixed host port that this test holds with a plain
    // TCP server, so Docker cannot publish it ("address already in use"): the author's replacement fails (after the
    // activity's retries), the rollout fails, and the execution ends FAILED in its production deploy step. Freeing the
    // port makes the failure go away; re-executing then deploys the same images with the same configuration.
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await h.writePipeline(pipelineConfig(port));
      await syncSampleRepo(h.repo, '7.2.0');
      await start('carol');
      await release('4');
      const failed = await pollExecution('4', ended);
      expect(failed.status).toBe('FAILED');
      expect(['FAILED', 'ROLLED_BACK']).toContain(step(failed, 'deploy-prod').status);
      expect(failed.reason).toMatch(/taken by another process|address already in use/);
      expect(await versionAt(prodUrl)).toBe('7.0.0'); // the publish pair was never touched
      await reExecuteLink('4');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    const since = Date.now();
    const res = await call('PUT', step(await getExecution('4'), 'deploy-prod')._links[REL.reExecute].href, { as: 'alice' });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ id: '5', trigger: 'RE_EXECUTE', reExecutionOf: '4' });
    const fixed = await pollExecution('5', ended);
    expect(fixed.status, fixed.reason).toBe('FINISHED');
    expect(fixed.images).toEqual((await getExecution('4')).images);
    expect(await builtImages('5', since)).toHaveLength(0);
    expect(await versionAt(fixed.environmentUrls.prod)).toBe('7.2.0');
    expect(await versionAt(`http://127.0.0.1:${port}/`)).toBe('7.2.0'); // the author, on the port now free
  });

  it('refuses to re-execute an execution that failed before its production deployment', async () => {
    await syncSampleRepo(h.repo, '7.3.0', async (dir) => {
      await fs.writeFile(path.join(dir, 'tests', 'test_broken.py'),
        'import unittest\n\n\nclass Broken(unittest.TestCase):\n    def test_broken(self):\n        self.assertEqual(1, 2)\n');
    });
    await start('carol');
    const failed = await pollExecution('6', ended, 8 * 60_000);
    expect(failed.status).toBe('FAILED');
    expect(step(failed, 'build').status).toBe('FAILED');
    await pipelineIdle();
    const rep = await getExecution('6');
    expect(withLink(rep, REL.reExecute)).toEqual([]);
    const refused = await call('PUT', `${step(rep, 'deploy-prod')._links.self.href}/reExecute`, { as: 'alice' });
    expect(refused.status).toBe(412);
    expect(refused.json.detail).toMatch(/before its production deployment/);
    expect((await call('PUT', `${step(rep, 'build')._links.self.href}/reExecute`, { as: 'alice' })).status).toBe(404);
  });

  it('refuses to re-execute a push update (PUSH_UPGRADES)', async () => {
    const push = await start('alice', '?trigger=PUSH_UPGRADES');
    expect(push).toMatchObject({ id: '7', trigger: 'PUSH_UPGRADES' });
    const running = await getExecution('7');
    const [current] = withLink(running, REL.cancel);
    expect((await call('PUT', step(running, current)._links[REL.cancel].href, { as: 'dave' })).status).toBe(403);
    expect((await call('PUT', step(running, current)._links[REL.cancel].href, { as: 'carol' })).status).toBe(202);
    expect((await pollExecution('7', ended)).status).toBe('CANCELLED');
    await pipelineIdle();
    const rep = await getExecution('7');
    expect(withLink(rep, REL.reExecute)).toEqual([]);
    const refused = await call('PUT', `${step(rep, 'deploy-prod')._links.self.href}/reExecute`, { as: 'alice' });
    expect(refused.status).toBe(412);
    expect(refused.json.detail).toMatch(/push update \(PUSH_UPGRADES\)/);

    const list = await call('GET', `${pipelinePath}/executions?limit=5`, { as: 'dave' });
    expect(list.json._totalNumberOfItems).toBe(7);
    expect(list.json._embedded.executions.map((e: { id: string; trigger: string }) => `${e.id} ${e.trigger}`))
      .toEqual(['7 PUSH_UPGRADES', '6 MANUAL', '5 RE_EXECUTE', '4 MANUAL', '3 MANUAL']);
    expect(list.json._links.next.href).toBe(`${pipelinePath}/executions?start=5&limit=5`);
  });

  it('the CLI says the same: `re-execute` exits 3 with the reason, `list --json` lists the executions', async () => {
    const cli = (...args: string[]) => promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'stagecoach'), ...args], {
      env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress') }, cwd: PROJECT_ROOT,
    }).then((r) => ({ code: 0, stdout: r.stdout }), (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }));
    const refused = await cli('re-execute', ID, '--by', 'alice', '--json');
    expect(refused.code).toBe(3);
    expect(JSON.parse(refused.stdout)).toMatchObject({ accepted: false, message: expect.stringMatching(/push update/) });
    const listed = await cli('list', ID, '--json');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((e: { id: string }) => e.id)).toEqual(['7', '6', '5', '4', '3', '2', '1']);
  });

  it('never logs a token', () => {
    const logs = logLines.join('');
    expect(logs).toMatch(/"authorization":"\[redacted\]"/);
    for (const token of Object.values(TOKENS)) expect(logs).not.toContain(token);
    expect(logs).not.toContain('not-a-known-token-at-all');
  });
});
