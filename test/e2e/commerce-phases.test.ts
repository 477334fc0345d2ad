/**
 * Adobe Commerce's phases (issue 3, item 5) on real Temporal, Docker, HAProxy and Varnish: build, deploy and
 * post-deploy hooks run in their phase and order (proven from the image and the recorded cycle), publish and author
 * run with a read-only root filesystem except their declared mounts, a failing deploy hook rolls the rollout back,
 * and an environment in maintenance mode holds requests at the load balancer while every node is replaced, then
 * releases them with none lost (and, past its bound, answers a maintenance page).
 */
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { createLoadBalancerActivities } from '../../src/activities/load-balancer';
import { createTopologyActivities } from '../../src/activities/topology';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { syncSampleRepo } from '../../src/dev/sample-repo';
import { rolloutWorkflowId } from '../../src/shared/ids';
import { rolloutStateQuery } from '../../src/shared/messages';
import type { CycleRecord, ExecutionState, RolloutResult } from '../../src/shared/types';
import { containerName } from '../../src/topology/names';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';
import { moreAnswers } from '../helpers/load';

const ID = 't-commerce';
let h: Harness;
/** Production's site, known once the first case has deployed it. */
let prodUrl: string;

const HOOKS = {
  build: [
    'echo "built $(cat /app/VERSION)" > /app/build-hook.txt',
    // No network inside the build: only the loopback interface exists.
    'ls /sys/class/net > /app/build-network.txt',
  ],
  deploy: [
    'echo "deploy $(cat /app/VERSION) in $STAGECOACH_ENVIRONMENT" >> /app/var/hooks.log',
    'echo "migrated to $(cat /app/VERSION)"',
  ],
  postDeploy: [
    // Warm-up through the site: which version the load balancer serves when the hook runs.
    'echo "post-deploy $(cat /app/VERSION) in $STAGECOACH_ENVIRONMENT, site serves ' +
      '$(python3 -c "import os, urllib.request; print(urllib.request.urlopen(os.environ[\'SITE_URL\']).headers[\'X-App-Version\'])")" >> /app/var/hooks.log',
  ],
};

const config = (deployHooks = HOOKS.deploy) => testPipeline(ID, h.repo, {
  app: { hooks: { ...HOOKS, deploy: deployHooks }, mounts: ['/app/var'], readOnlyRootFilesystem: true },
  environments: {
    stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
    prod: { pairs: 2, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s', strategy: 'maintenance', holdTimeout: '90s' },
  },
  // Keep this suite short: the functional tests and the audit are covered elsewhere.
  tests: { functional: { enabled: false }, ui: { enabled: false } },
});

beforeAll(async () => {
  h = await startHarness('commerce', [ID]);
  await h.writePipeline(config());
});
afterAll(async () => h?.close());

async function toApproval(): Promise<string> {
  const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol', mode: 'EMERGENCY' });
  const state = await h.waitFor(ID, executionId, isWaitingAt('approval'), 6 * 60_000);
  expect(state.status, state.reason).toBe('RUNNING');
  return executionId;
}
async function release(executionId: string) {
  await h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' });
  await h.waitFor(ID, executionId, isWaitingAt('schedule'));
  await h.stagecoach.send(ID, executionId, 'schedule', { by: 'alice', now: true });
}
/** An execution to the approval wait, then released under a patient load on Production until it ends. */
async function deployUnderPatientLoad() {
  const executionId = await toApproval();
  const load = startPatientLoad(prodUrl);
  await moreAnswers(load);
  await release(executionId);
  const state = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
  await moreAnswers(load, 10, 60_000);
  return { executionId, state, samples: await load.stop() };
}
const rollout = (executionId: string, env: 'stage' | 'prod') =>
  h.client.workflow.getHandle(rolloutWorkflowId(ID, executionId, env)).query(rolloutStateQuery) as Promise<RolloutResult>;
const container = (env: string, node: string) => h.docker.getContainer(containerName(ID, env, node));

/** Runs a shell command in a container (as its user); answers its exit code and output. */
async function exec(c: Docker.Container, command: string): Promise<{ exitCode: number; output: string }> {
  const e = await c.exec({ Cmd: ['sh', '-c', command], AttachStdout: true, AttachStderr: true });
  const stream = (await e.start({ hijack: true, stdin: false })) as unknown as Readable;
  const chunks: Buffer[] = [];
  const sink = { write: (b: Buffer) => { chunks.push(b); return true; } };
  c.modem.demuxStream(stream, sink as never, sink as never);
  await new Promise((r) => { stream.on('end', r); stream.on('close', r); });
  let info = await e.inspect();
  while (info.Running) { await new Promise((r) => setTimeout(r, 50)); info = await e.inspect(); }
  return { exitCode: info.ExitCode ?? -1, output: Buffer.concat(chunks).toString('utf8') };
}
/** Reads one file of an image (a container created from it, never started). */
async function imageFile(image: string, file: string): Promise<string> {
  const c = await h.docker.createContainer({ Image: image, Entrypoint: ['cat', file], Tty: true, Labels: { 'stagecoach.pipeline': ID } });
  try {
    await c.start();
    await c.wait();
    const logs = await c.logs({ stdout: true, stderr: true });
    return logs.toString('utf8');
  } finally {
    await c.remove({ force: true });
  }
}
const ops = (cycle: CycleRecord[]) => cycle.map((c) => `${c.node}:${c.op}`);

/** Requests with a long timeout (a held request waits at the load balancer): every answer, or error, recorded. */
function startPatientLoad(url: string, workers = 3) {
  const samples: Array<{ sent: number; at: number; status?: number; version?: string | null; heldMs?: number; error?: string }> = [];
  let running = true;
  const worker = async () => {
    while (running) {
      const sent = Date.now();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
        await res.arrayBuffer();
        samples.push({ sent, at: Date.now(), status: res.status, version: res.headers.get('x-app-version'), heldMs: Number(res.headers.get('x-held-ms') ?? 0) });
      } catch (err) {
        samples.push({ sent, at: Date.now(), error: (err as Error).message });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const all = Array.from({ length: workers }, worker);
  return {
    answered: () => samples.filter((x) => x.status !== undefined).length,
    async stop() { running = false; await Promise.all(all); return samples; },
  };
}

describe('Adobe Commerce phases: hooks, read-only root filesystem, maintenance mode', () => {
  let first: ExecutionState;

  it('runs the build, deploy and post-deploy hooks in their phase and order, under a read-only root', async () => {
    await syncSampleRepo(h.repo, '5.0.0');
    const executionId = await toApproval();
    await release(executionId);
    first = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    expect(first.status, first.reason).toBe('FINISHED');
    prodUrl = first.urls.prod!;
    await h.recordHistory('rollout-hooks-rolling', rolloutWorkflowId(ID, executionId, 'stage'));
    await h.recordHistory('rollout-hooks-maintenance', rolloutWorkflowId(ID, executionId, 'prod'));

    // Build hooks: part of the image, run without network, recorded on the image.
    const image = first.artifacts.images!.app.id;
    expect((await imageFile(image, '/app/build-hook.txt')).trim()).toBe('built 5.0.0');
    expect((await imageFile(image, '/app/build-network.txt')).trim()).toBe('lo');
    expect(JSON.parse((await h.docker.getImage(image).inspect()).Config.Labels['stagecoach.hooks.build'])).toEqual(HOOKS.build);

    // Rolling (Stage): author, then the deploy hooks in order in the new author before any pair is touched, then the
    // pair, then the post-deploy hook once the pair is back in service.
    const stage = await rollout(executionId, 'stage');
    expect(ops(stage.cycle)).toEqual([
      'author:replaceAuthor', 'author:healthAuthor', 'author:deployHook', 'author:deployHook',
      ...['drain', 'waitSessions', 'maint', 'replacePublish', 'replaceDispatcher', 'healthPublish', 'healthDispatcher',
        'flush', 'warm', 'ready', 'waitUp'].map((op) => `pair-1:${op}`),
      'author:postDeployHook',
    ]);
    const hooks = stage.cycle.filter((c) => c.hook).map((c) => c.hook!);
    expect(hooks.map((x) => [x.phase, x.index, x.command, x.exitCode])).toEqual([
      ['deploy', 0, HOOKS.deploy[0], 0], ['deploy', 1, HOOKS.deploy[1], 0], ['postDeploy', 0, HOOKS.postDeploy[0], 0],
    ]);
    expect(hooks[1].output).toBe('migrated to 5.0.0');

    // Maintenance mode (Production): requests held before any pair is detached; every node replaced and healthy
    // before the deploy hook; every pair UP before the release; the post-deploy hook last.
    const prod = ops((await rollout(executionId, 'prod')).cycle);
    const last = (op: string) => prod.map((o) => o.split(':')[1]).lastIndexOf(op);
    const firstOf = (op: string) => prod.map((o) => o.split(':')[1]).indexOf(op);
    expect(prod[0]).toBe('lb:holdRequests');
    expect(last('maint')).toBeLessThan(firstOf('replaceAuthor'));
    expect(last('healthDispatcher')).toBeLessThan(firstOf('deployHook'));
    expect(last('deployHook')).toBeLessThan(firstOf('flush'));
    expect(last('waitUp')).toBeLessThan(firstOf('releaseRequests'));
    expect(prod.slice(-2)).toEqual(['lb:releaseRequests', 'author:postDeployHook']);
    for (const pair of ['pair-1', 'pair-2']) expect(prod.filter((o) => o.startsWith(`${pair}:`))).toHaveLength(11);

    // What the hooks wrote to the author's mount: deploy before post-deploy, and the site already on the new version.
    const log = await exec(container('prod', 'author'), 'cat /app/var/hooks.log');
    expect(log.output.trim().split('\n')).toEqual(['deploy 5.0.0 in prod', 'post-deploy 5.0.0 in prod, site serves 5.0.0']);

    // Read-only root filesystem: a write outside the declared mounts fails, inside succeeds.
    for (const node of ['publish-1', 'author']) {
      const outside = await exec(container('prod', node), 'echo x > /app/outside.txt');
      expect(outside.exitCode).not.toBe(0);
      expect(outside.output).toMatch(/Read-only file system/);
      expect((await exec(container('prod', node), 'echo x > /app/var/inside.txt && cat /app/var/inside.txt')).output.trim()).toBe('x');
    }
    expect((await container('prod', 'publish-1').inspect()).HostConfig.ReadonlyRootfs).toBe(true);
  });

  it('maintenance mode holds requests while every node is replaced and releases them with none lost', async () => {
    await syncSampleRepo(h.repo, '5.0.1');
    const { state, samples } = await deployUnderPatientLoad();
    expect(state.status, state.reason).toBe('FINISHED');

    expect(samples.length).toBeGreaterThan(50);
    expect(samples.filter((s) => s.error)).toEqual([]);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    // Old version, then the new one, never mixed back: the environment switched at once.
    const bySent = [...samples].sort((a, b) => a.sent - b.sent).map((s) => s.version);
    const firstNew = bySent.indexOf('5.0.1');
    expect(firstNew).toBeGreaterThan(0);
    expect(bySent.slice(0, firstNew).every((v) => v === '5.0.0')).toBe(true);
    expect(bySent.slice(firstNew).every((v) => v === '5.0.1')).toBe(true);
    // Requests were really held at the load balancer (and released), not just lucky.
    const held = samples.filter((s) => (s.heldMs ?? 0) > 0);
    expect(held.length).toBeGreaterThan(0);
    expect(held.every((s) => s.version === '5.0.1')).toBe(true);
    expect(Math.max(...held.map((s) => s.heldMs!))).toBeGreaterThan(1000);

    // The mount is a named volume: the author's hook log kept the first deployment's lines.
    const log = await exec(container('prod', 'author'), 'cat /app/var/hooks.log');
    expect(log.output.trim().split('\n')).toEqual([
      'deploy 5.0.0 in prod', 'post-deploy 5.0.0 in prod, site serves 5.0.0',
      'deploy 5.0.1 in prod', 'post-deploy 5.0.1 in prod, site serves 5.0.1',
    ]);
    const lb = createLoadBalancerActivities({ docker: createDockerProvider(), secret: h.secret });
    const prodEnv = parsePipelineConfig(config()).environments.prod;
    expect((await lb.readServers({ pipelineId: ID, environment: prodEnv })).map((s) => s.status)).toEqual(['UP', 'UP']);
  });

  it('in maintenance mode a failing deploy hook restores every node while requests stay held, none lost', async () => {
    await h.writePipeline(config([HOOKS.deploy[0], 'test "$STAGECOACH_ENVIRONMENT" != prod || { echo "migration failed" >&2; exit 5; }']));
    await syncSampleRepo(h.repo, '5.0.9');
    const { executionId, state, samples } = await deployUnderPatientLoad();
    await h.writePipeline(config());
    expect(state.status).toBe('FAILED');
    expect(state.steps.find((s) => s.stepId === 'deploy-prod')!.status).toBe('ROLLED_BACK');
    expect(state.reason).toMatch(/deploy hook .* exited 5: migration failed/);

    // Every request answered, by the version that was serving: the new one never took traffic.
    expect(samples.filter((s) => s.error || s.status !== 200)).toEqual([]);
    expect(new Set(samples.map((s) => s.version))).toEqual(new Set(['5.0.1']));
    expect(samples.some((s) => (s.heldMs ?? 0) > 0)).toBe(true);

    const result = await rollout(executionId, 'prod');
    expect(result.status).toBe('ROLLED_BACK');
    const cycle = ops(result.cycle);
    // Restored one node at a time (author, then the pairs, each attached again), then the requests released.
    const restores = ops(result.cycle.filter((c) => c.restore));
    expect(restores.filter((o) => o.endsWith(':waitUp')).map((o) => o.split(':')[0])).toEqual(['pair-2', 'pair-1']);
    expect(restores.at(-1)).toBe('lb:releaseRequests');
    expect(cycle).not.toContain('author:postDeployHook');
    const lb = createLoadBalancerActivities({ docker: createDockerProvider(), secret: h.secret });
    const prodEnv = parsePipelineConfig(config()).environments.prod;
    expect((await lb.readServers({ pipelineId: ID, environment: prodEnv })).map((s) => s.status)).toEqual(['UP', 'UP']);
    expect((await fetch(prodUrl)).headers.get('x-app-version')).toBe('5.0.1');
  });

  it('the hold is bounded: past holdTimeout the load balancer answers its maintenance page', async () => {
    const docker = createDockerProvider();
    const topology = createTopologyActivities({ docker, secret: 'test' });
    const lb = createLoadBalancerActivities({ docker, secret: 'test' });
    // An environment of its own whose only dispatcher does not exist: no server is ever usable.
    const environment = { ...parsePipelineConfig(config()).environments.prod, name: 'bound', pairs: 1, window: 1, holdTimeout: '2s' };
    const { url } = await topology.prepareEnvironment({ pipelineId: ID, environment });
    const timed = async () => {
      const started = Date.now();
      const res = await fetch(url);
      return { status: res.status, body: await res.text(), ms: Date.now() - started, held: res.headers.get('x-held-ms') };
    };
    // The new load balancer needs a moment before it answers.
    for (let i = 0; i < 50 && !(await fetch(url).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 200));
    const plain = await timed();
    expect(plain.status).toBe(503);
    expect(plain.ms).toBeLessThan(1000);
    expect(plain.body).not.toMatch(/maintenance/);

    await lb.setRequestHold({ pipelineId: ID, environment, hold: true });
    const held = await timed();
    expect(held.status).toBe(503);
    expect(held.body).toMatch(/Down for maintenance/);
    expect(held.ms).toBeGreaterThanOrEqual(2000);
    expect(held.ms).toBeLessThan(3500);
    expect(Number(held.held)).toBeGreaterThanOrEqual(2000);

    await lb.setRequestHold({ pipelineId: ID, environment, hold: false });
    expect((await timed()).ms).toBeLessThan(1000);
  });

  it('a failing deploy hook (a write outside the mounts) rolls the rollout back', async () => {
    await h.writePipeline(config([HOOKS.deploy[0], 'echo "schema v2" > /app/schema.txt']));
    await syncSampleRepo(h.repo, '5.0.2');
    const stageBefore = (await fetch(first.urls.stage!)).headers.get('x-app-version');
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol', mode: 'EMERGENCY' });
    const state = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    expect(state.status).toBe('FAILED');
    expect(state.steps.find((s) => s.stepId === 'deploy-stage')!.status).toBe('ROLLED_BACK');
    expect(state.reason).toMatch(/rolled back: author failed: deploy hook "echo "schema v2" > \/app\/schema.txt" exited \d+/);
    expect(state.reason).toMatch(/Read-only file system/);

    const stage = await rollout(executionId, 'stage');
    expect(stage.status).toBe('ROLLED_BACK');
    const hooks = stage.cycle.filter((c) => c.hook).map((c) => [c.hook!.index, c.hook!.exitCode === 0]);
    expect(hooks).toEqual([[0, true], [1, false]]);
    // The author was restored; no pair was touched; no post-deploy hook ran.
    expect(ops(stage.cycle.filter((c) => c.restore))).toEqual(['author:replaceAuthor', 'author:healthAuthor']);
    expect(ops(stage.cycle).filter((o) => o.startsWith('pair-') || o.endsWith('postDeployHook'))).toEqual([]);
    const stageUrl = state.urls.stage ?? first.urls.stage!;
    expect((await fetch(stageUrl)).headers.get('x-app-version')).toBe(stageBefore);
    const author = await container('stage', 'author').inspect();
    expect(author.Image).toBe(stage.nodes.find((n) => n.name === 'author')!.previousImages!.author);
  });

  it('a failing build hook fails the image build with its output, before anything is deployed', async () => {
    await h.writePipeline(testPipeline(ID, h.repo, {
      ...config(),
      app: { hooks: { build: ['echo "compiling assets"', 'echo "asset compiler: no such theme" >&2; exit 7'] }, mounts: ['/app/var'], readOnlyRootFilesystem: true },
    }));
    await syncSampleRepo(h.repo, '5.0.3');
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol', mode: 'EMERGENCY' });
    const state = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    expect(state.status).toBe('FAILED');
    expect(state.steps.find((s) => s.action === 'buildImage')!.status).toBe('FAILED');
    expect(state.reason).toMatch(/returned a non-zero code: 7/);
    expect(state.reason).toMatch(/asset compiler: no such theme/);
    expect(state.steps.find((s) => s.stepId === 'deploy-stage')!.status).toBe('NOT_STARTED');
  });
});
