/**
 * Cloud Manager's own client library, @adobe/aio-lib-cloudmanager (pinned), against the running API (issue 17): the
 * API listens on 127.0.0.1 in this process, a worker on the shared dev server runs the executions on the real Docker
 * Engine, and every call below is the library's, unchanged except for the base URL and the token. Where the library
 * has no call (the schedule, a start from a step), the request is the one Cloud Manager's API guide documents, with
 * the library's headers.
 *
 * A webhook receiver written as Adobe's samples write them (x-adobe-signature checked over the raw body, `event`
 * read from the JSON) receives the first execution's events.
 *
 * One pipeline (`t-cm-<pid>`, also in program 7), executions in order:
 *   1 MANUAL (carol) → FINISHED     the whole flow: navigate, start, follow, tail, metrics, log, approve, schedule
 *   2 RE_EXECUTE of 1 (alice)       start with stepId=deploy-prod; another step id is a 400
 *   3 MANUAL (carol) → CANCELLED    cancelled through the library while it builds; a second start is 412 busy
 *   4 MANUAL (carol) → CANCELLED    rejected through the cancel link at the approval by bob (a Business Owner)
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { Writable } from 'node:stream';
import { init } from '@adobe/aio-lib-cloudmanager';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, testPipeline, type Harness } from '../helpers/harness';
import { startTestApi } from '../helpers/test-api';

const ID = `t-cm-${process.pid}`;
const ORG = '1234567890ABCDEF@AdobeOrg';
const SECRET_ENV = 'STAGECOACH_E2E_CM_WEBHOOK_SECRET';
const SECRET = 'e2e-cloudmanager-webhook-secret';
const TOKENS = {
  alice: 'test-cm-token-alice-dm-00001',
  bob: 'test-cm-token-bob-bo-000002',
  carol: 'test-cm-token-carol-dev-0003',
} as const;
type Who = keyof typeof TOKENS;

const EXECUTION = 'https://ns.adobe.com/experience/cloudmanager/pipeline-execution';
const STEP_STATE = 'https://ns.adobe.com/experience/cloudmanager/execution-step-state';
const STARTED = 'https://ns.adobe.com/experience/cloudmanager/event/started';
const WAITING = 'https://ns.adobe.com/experience/cloudmanager/event/waiting';
const ENDED = 'https://ns.adobe.com/experience/cloudmanager/event/ended';

let h: Harness;
let app: FastifyInstance;
let base: string;
let receiver: http.Server;
const received: Array<{ type: string; objectType: string; id: string }> = [];
const badSignatures: string[] = [];

type Sdk = Awaited<ReturnType<typeof init>>;
const sdk = {} as Record<Who, Sdk>;

/** The headers the library sends, for the two requests it has no call for. */
const libraryHeaders = (who: Who) => ({
  'x-gw-ims-org-id': ORG, 'X-Api-Key': 'stagecoach-e2e', Authorization: `Bearer ${TOKENS[who]}`, accept: 'application/json', 'content-type': 'application/json',
});

beforeAll(async () => {
  h = await startHarness('cmclient', [ID]);
  process.env[SECRET_ENV] = SECRET;

  // Adobe's sample receiver: the signature is the base64 HMAC-SHA256 of the raw body with the client secret.
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const digest = createHmac('sha256', SECRET).update(raw).digest('base64');
      if (req.headers['x-adobe-signature'] !== digest || req.headers['content-type'] !== 'application/json') {
        badSignatures.push(String(req.headers['x-adobe-signature']));
        res.writeHead(400).end();
        return;
      }
      const event = JSON.parse(raw.toString('utf8')).event;
      received.push({ type: event['@type'], objectType: event['xdmEventEnvelope:objectType'], id: event['activitystreams:object']['@id'] });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as net.AddressInfo).port}/webhook`;

  ({ app, base } = await startTestApi(h, [
    { name: 'alice', roles: ['DEPLOYMENT_MANAGER'], token: TOKENS.alice },
    { name: 'bob', roles: ['BUSINESS_OWNER'], token: TOKENS.bob },
    { name: 'carol', roles: ['DEVELOPER'], token: TOKENS.carol },
  ]));
  // The worker runs in this process: the events' @id links point at this API.
  process.env.STAGECOACH_API_URL = base;
  process.env.STAGECOACH_IMS_ORG = ORG;

  await h.writePipeline(testPipeline(ID, h.repo, {
    environments: {
      stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
      prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
    },
    programs: [{ id: '7', name: 'Web sites' }],
    events: { webhooks: [{ url: hookUrl, secretEnv: SECRET_ENV, format: 'cloudmanager' }] },
  }));
  for (const who of Object.keys(TOKENS) as Who[]) sdk[who] = await init(ORG, 'stagecoach-e2e', TOKENS[who], base);
});

afterAll(async () => {
  await app?.close();
  await new Promise((resolve) => receiver?.close(resolve));
  await h?.close();
  if (h && !process.env.KEEP_TOPOLOGY) {
    for (const image of await h.docker.listImages({ filters: { label: [`stagecoach.pipeline=${ID}`] } })) {
      await h.docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Helpers (through the library)

interface StepRep { id: string; stepId: string; action: string; status: string; environmentType?: string; _links: Record<string, { href: string }> }
interface ExecutionRep { id: string; status: string; trigger: string; _embedded: { stepStates: StepRep[] }; _links: Record<string, { href: string }> }

const TERMINAL = ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'];

async function execution(id: string): Promise<ExecutionRep> {
  return (await sdk.carol.getExecution('1', ID, id)) as unknown as ExecutionRep;
}

async function until(id: string, done: (rep: ExecutionRep) => boolean, timeoutMs = 8 * 60_000, intervalMs = 250): Promise<ExecutionRep> {
  const deadline = Date.now() + timeoutMs;
  let rep: ExecutionRep | undefined;
  while (Date.now() < deadline) {
    rep = await execution(id);
    if (done(rep)) return rep;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out; last: ${JSON.stringify(rep && { status: rep.status, steps: rep._embedded.stepStates.map((s) => [s.stepId, s.status]) })}`);
}
const stepOf = (rep: ExecutionRep, action: string) => rep._embedded.stepStates.find((s) => s.action === action)!;
const waitingAt = (action: string) => (rep: ExecutionRep) => stepOf(rep, action)?.status === 'WAITING' || TERMINAL.includes(rep.status);
const ended = (rep: ExecutionRep) => TERMINAL.includes(rep.status);

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { chunks.push(Buffer.from(chunk)); done(); } });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

async function pipelineIdle(): Promise<void> {
  await expect.poll(async () => (await sdk.carol.listPipelines('1')).find((p) => p.id === ID)?.status, { timeout: 20_000 }).toBe('IDLE');
}

// ---------------------------------------------------------------------------------------------------------------

describe('Cloud Manager\'s client library against Stagecoach', () => {
  let first: string;

  it('navigates programs, pipelines and environments', async () => {
    const programs = await sdk.carol.listPrograms();
    expect(programs.map((p) => p.id)).toEqual(expect.arrayContaining(['1', '7']));
    const inProgram7 = await sdk.carol.listPipelines('7');
    expect(inProgram7.map((p) => p.id)).toEqual([ID]);
    expect(inProgram7[0]).toMatchObject({ status: 'IDLE', trigger: 'MANUAL', type: 'CI_CD' });
    const environments = await sdk.carol.listEnvironments('1');
    expect(environments.filter((e) => (e as { pipelineId?: string }).pipelineId === ID).map((e) => [e.id, e.type]))
      .toEqual([[`${ID}-stage`, 'stage'], [`${ID}-prod`, 'prod']]);
  });

  it('starts an execution, follows it, tails the build log, reads the metrics and the log', async () => {
    const started = await sdk.carol.createExecution('1', ID);
    first = started.id;
    expect(started).toMatchObject({ trigger: 'MANUAL', pipelineExecutionMode: 'NORMAL' });
    expect(['NOT_STARTED', 'RUNNING']).toContain(started.status);
    expect((await sdk.carol.listPipelines('1')).find((p) => p.id === ID)?.status).toBe('BUSY');

    // Tail the first build step seen running (the library refuses a step that is not running).
    let running: string | undefined;
    await until(first, (rep) => {
      running = ['build', 'buildImage'].find((a) => stepOf(rep, a)?.status === 'RUNNING');
      return running !== undefined || ended(rep);
    }, 5 * 60_000, 100);
    expect(running, 'a build step seen running').toBeDefined();
    const tail = collector();
    const after = await sdk.carol.tailExecutionStepLog('1', ID, running!, tail.stream) as unknown as StepRep;
    expect(after.status).toBe('FINISHED');
    expect(tail.text().length).toBeGreaterThan(0);

    await until(first, (rep) => stepOf(rep, 'codeQuality').status === 'FINISHED' || ended(rep));
    const quality = await sdk.carol.getQualityGateResults('1', ID, first, 'codeQuality');
    expect(quality.metrics).toEqual(expect.arrayContaining([
      expect.objectContaining({ kpi: 'unit_tests_failed', severity: 'critical', passed: true }),
    ]));
    const log = collector();
    await sdk.carol.getExecutionStepLog('1', ID, first, 'build', log.stream);
    expect(log.text()).toMatch(/unit tests: \d+ passed/);
  });

  it('advances the approval (library) and the schedule (the guide\'s body); a schedule in the past is a 400', async () => {
    const atApproval = await until(first, waitingAt('approval'));
    expect(atApproval.status).toBe('RUNNING');
    expect((await sdk.carol.listPipelines('1')).find((p) => p.id === ID)?.status).toBe('WAITING');
    // A developer may not approve (403, Cloud Manager's error body read by the library).
    await expect(sdk.carol.advanceCurrentExecution('1', ID)).rejects.toThrow(/403/);
    await sdk.bob.advanceCurrentExecution('1', ID);

    const atSchedule = await until(first, waitingAt('schedule'));
    const advance = stepOf(atSchedule, 'schedule')._links['http://ns.adobe.com/adobecloud/rel/pipeline/advance'].href;
    const past = await fetch(`${base}${advance}`, { method: 'PUT', headers: libraryHeaders('alice'), body: JSON.stringify({ type: 'SCHEDULED', schedule: '2020-01-01T00:00:00Z' }) });
    expect(past.status).toBe(400);
    expect(((await past.json()) as { errors: Array<{ message: string }> }).errors[0].message).toMatch(/in the past/);
    const now = await fetch(`${base}${advance}`, { method: 'PUT', headers: libraryHeaders('alice'), body: JSON.stringify({ type: 'IMMEDIATE' }) });
    expect(now.status).toBe(202);

    const done = await until(first, ended);
    expect(done.status).toBe('FINISHED');
    await pipelineIdle();
    const prod = (await sdk.carol.listEnvironments('1')).find((e) => e.id === `${ID}-prod`)!;
    expect(prod.status).toBe('ready');
    expect((await fetch(prod.link('http://ns.adobe.com/adobecloud/rel/publish')!.href)).status).toBe(200);
    const listed = await sdk.carol.listExecutions('1', ID, 5);
    expect(listed[0]).toMatchObject({ id: first, status: 'FINISHED', pipelineExecutionMode: 'NORMAL', updatedAt: expect.any(String) });
  });

  it('delivers the execution\'s Cloud Manager events, signed, in order, with absolute @id links', async () => {
    const executionUrl = `${base}/api/program/1/pipeline/${ID}/execution/${first}`;
    await expect.poll(() => received.filter((e) => e.id === executionUrl && e.type === ENDED).length, { timeout: 30_000 }).toBe(1);
    expect(badSignatures).toEqual([]);
    const mine = received.filter((e) => e.id.startsWith(executionUrl));
    expect(mine[0]).toEqual({ type: STARTED, objectType: EXECUTION, id: executionUrl });
    expect(mine.at(-1)).toEqual({ type: ENDED, objectType: EXECUTION, id: executionUrl });
    const steps = mine.slice(1, -1);
    expect(steps.every((e) => e.objectType === STEP_STATE)).toBe(true);
    for (const stepUrl of new Set(steps.map((e) => e.id))) {
      const kinds = steps.filter((e) => e.id === stepUrl).map((e) => e.type);
      expect(kinds[0], stepUrl).toBe(STARTED);
      expect(kinds.at(-1), stepUrl).toBe(ENDED);
      expect(kinds.slice(1, -1).every((k) => k === WAITING), stepUrl).toBe(true);
    }
    expect(steps.filter((e) => e.type === WAITING).map((e) => e.id.split('/').pop())).toEqual(['approval', 'schedule']);
    // As the samples do next: fetch the object with the library's headers.
    const fetched = await fetch(executionUrl, { headers: libraryHeaders('carol') });
    expect(fetched.status).toBe(200);
    expect(((await fetched.json()) as ExecutionRep).status).toBe('FINISHED');
  });

  it('re-executes the production deployment by starting from its step; any other step is a 400', async () => {
    const pipeline = (await sdk.alice.listPipelines('1')).find((p) => p.id === ID)!;
    const start = `${base}${pipeline.link('http://ns.adobe.com/adobecloud/rel/execution')!.href}`;
    const other = await fetch(`${start}?stepId=build&sourceExecutionId=${first}`, { method: 'PUT', headers: libraryHeaders('alice') });
    expect(other.status).toBe(400);
    const res = await fetch(`${start}?stepId=deploy-prod&sourceExecutionId=${first}`, { method: 'PUT', headers: libraryHeaders('alice') });
    expect(res.status).toBe(201);
    const again = await res.json() as ExecutionRep;
    expect(again.trigger).toBe('RE_EXECUTE');
    expect((await until(again.id, ended)).status).toBe('FINISHED');
    await pipelineIdle();
  });

  it('cancels an execution through the library; a second start meanwhile is refused as busy', async () => {
    const started = await sdk.carol.createExecution('1', ID);
    await expect(sdk.carol.createExecution('1', ID)).rejects.toThrow(/running/i);
    await until(started.id, (rep) => stepOf(rep, 'build').status === 'RUNNING' || ended(rep), 5 * 60_000, 100);
    await sdk.carol.cancelCurrentExecution('1', ID);
    expect((await until(started.id, ended)).status).toBe('CANCELLED');
    await pipelineIdle();
  });

  it('rejects through the cancel link at the approval: a Business Owner may, a developer may not', async () => {
    const started = await sdk.carol.createExecution('1', ID);
    const atApproval = await until(started.id, waitingAt('approval'));
    expect(atApproval.status).toBe('RUNNING');
    await expect(sdk.carol.cancelCurrentExecution('1', ID)).rejects.toThrow(/403/);
    await sdk.bob.cancelCurrentExecution('1', ID);
    const done = await until(started.id, ended);
    expect(done.status).toBe('CANCELLED');
    const state = await h.stagecoach.executionState(ID, started.id);
    expect(state.reason).toMatch(/rejected by bob/);
  });
});
