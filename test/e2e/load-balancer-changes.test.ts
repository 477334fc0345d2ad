/**
 * Load balancer changes without downtime (issue 16): Production's pairs 2 → 3 → 2 through rollouts, and a new load
 * balancer image, each under a bounded load on 127.0.0.1 with no answer other than 2xx and no gap of a second. The
 * holder keeps the listening sockets; each change is a new HAProxy container taking them over (one stack, rollouts
 * run as rollingDeployment workflows on the harness's worker with images built once from examples/app).
 */
import { runtimeApiServerEnv } from '../../src/activities/runtime-api-credentials';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import tarFs from 'tar-fs';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { createLoadBalancerActivities } from '../../src/activities/load-balancer';
import { createLoadBalancerContainers } from '../../src/activities/load-balancer-container';
import { createTopologyActivities, environmentHaproxyConfig } from '../../src/activities/topology';
import { EXAMPLES_DIR } from '../../src/config/paths';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { TASK_QUEUE } from '../../src/shared/ids';
import type { RolloutResult } from '../../src/shared/types';
import { LABEL, LOAD_BALANCER_PROCESS } from '../../src/topology/names';
import type { rollingDeployment } from '../../src/workflows/rolling-deployment';
import { startHarness, type Harness } from '../helpers/harness';
import { moreAnswers, startLoad, summarize } from '../helpers/load';

const ID = 't-lbchange';
const APP = { port: 8080, healthPath: '/health' };
let h: Harness;
let images: { app: string; dispatcher: string };
let url: string;
const environment = (pairs: number) =>
  parsePipelineConfig({ id: ID, repository: 'unused', environments: { prod: { pairs, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' } } }).environments.prod;
const target = (pairs: number) => ({ pipelineId: ID, environment: environment(pairs) });
const mock = new MockActivityEnvironment();

async function build(context: Readable | string, tag: string, target?: string): Promise<string> {
  const tar = typeof context === 'string' ? (tarFs.pack(context) as unknown as Readable) : context;
  const stream = (await h.docker.buildImage(tar, { t: tag, target, rm: true, forcerm: true })) as Readable;
  await new Promise<void>((resolve, reject) => h.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()),
    (e: { error?: string }) => { if (e.error) reject(new Error(`docker build of ${tag} failed: ${e.error}`)); }));
  return (await h.docker.getImage(tag).inspect()).Id;
}

let rollouts = 0;
async function rollOut(pairs: number): Promise<RolloutResult> {
  rollouts += 1;
  const result = await h.client.workflow.execute<typeof rollingDeployment>('rollingDeployment', {
    taskQueue: TASK_QUEUE, workflowId: `${ID}-rollout-${rollouts}-${Date.now()}`,
    args: [{ pipelineId: ID, executionId: String(rollouts), environment: environment(pairs), images, app: APP, warmPages: ['/'] }],
  });
  expect(result.status, result.reason).toBe('FINISHED');
  return result;
}

/** Runs `change` under load; answers what the load saw. */
async function underLoad(change: () => Promise<unknown>) {
  const load = startLoad(url, { workers: 3, pauseMs: 20, maxSeconds: 240 });
  await moreAnswers(load);
  await change();
  await moreAnswers(load);
  return summarize(await load.stop());
}
const expectNoDowntime = (seen: ReturnType<typeof summarize>) => {
  expect(seen.total).toBeGreaterThan(50);
  expect({ non2xx: seen.non2xx, errors: seen.errors }).toEqual({ non2xx: 0, errors: 0 });
  expect(seen.maxGapMs).toBeLessThan(1000);
};

const lbContainers = async () => (await h.docker.listContainers({
  all: true, filters: { label: [`${LABEL.pipeline}=${ID}`, `${LABEL.environment}=prod`] },
})).filter((c) => c.Labels[LABEL.node]?.startsWith('lb')).map((c) => ({ node: c.Labels[LABEL.node], name: c.Names[0].slice(1), id: c.Id, state: c.State }));
const haproxyContainers = async () => (await lbContainers()).filter((c) => c.node === LOAD_BALANCER_PROCESS);
const holderId = async () => (await lbContainers()).find((c) => c.node === 'lb')!.id;
const servers = async (pairs: number) =>
  (await createLoadBalancerActivities({ docker: createDockerProvider(), secret: h.secret }).readServers(target(pairs))).map((s) => `${s.server} ${s.status}`);
/** What the wanted HAProxy is given for the runtime API's TLS: the worker's secret derives it (admin plane). */
const runtimeApiEnv = () => runtimeApiServerEnv(h.secret, ID, environment(2).name);
const pairContainers = async () => (await h.docker.listContainers({ filters: { label: [`${LABEL.pipeline}=${ID}`, `${LABEL.environment}=prod`] } }))
  .map((c) => c.Labels[LABEL.node]).filter((n) => /^(publish|dispatcher)-/.test(n)).sort();

beforeAll(async () => {
  h = await startHarness('lb-changes', [ID]);
  const dir = path.join(h.tmp, 'app');
  await fs.cp(path.join(EXAMPLES_DIR, 'app'), dir, { recursive: true });
  images = {
    app: await build(dir, `stagecoach/${ID}:1`, 'runtime'),
    dispatcher: await build(path.join(dir, 'dispatcher'), `stagecoach/${ID}-dispatcher:1`),
  };
}, 10 * 60_000);
afterAll(async () => h?.close());

describe('load balancer changes under load', () => {
  let holder: string;

  it('first rollout: a holder with the ports, one HAProxy container beside it', async () => {
    const result = await rollOut(2);
    url = result.url!;
    holder = await holderId();
    expect((await haproxyContainers()).map((c) => c.state)).toEqual(['running']);
    expect(await servers(2)).toEqual(['pair-1 UP', 'pair-2 UP']);
  }, 6 * 60_000);

  it('pairs 2 → 3: a rollout adds pair 3 with no request dropped', async () => {
    const before = (await haproxyContainers())[0].name;
    const seen = await underLoad(() => rollOut(3));
    expectNoDowntime(seen);
    const after = await haproxyContainers();
    expect(after.map((c) => c.state)).toEqual(['running']);
    expect(after[0].name).not.toBe(before);
    expect(await holderId()).toBe(holder);
    expect(await servers(3)).toEqual(['pair-1 UP', 'pair-2 UP', 'pair-3 UP']);
    expect(await pairContainers()).toEqual(['dispatcher-1', 'dispatcher-2', 'dispatcher-3', 'publish-1', 'publish-2', 'publish-3']);
  }, 6 * 60_000);

  it('pairs 3 → 2: pair 3 is drained out of the load balancer, then its containers go', async () => {
    const seen = await underLoad(() => rollOut(2));
    expectNoDowntime(seen);
    expect((await haproxyContainers()).map((c) => c.state)).toEqual(['running']);
    expect(await holderId()).toBe(holder);
    expect(await servers(2)).toEqual(['pair-1 UP', 'pair-2 UP']);
    expect(await pairContainers()).toEqual(['dispatcher-1', 'dispatcher-2', 'publish-1', 'publish-2']);
  }, 6 * 60_000);

  it('a new load balancer image is rolled in, and back, with no request dropped', async () => {
    const topology = createTopologyActivities({ docker: createDockerProvider(), secret: h.secret });
    const current = (await h.docker.getContainer((await haproxyContainers())[0].id).inspect()).Image;
    // Another image: the same HAProxy with one more layer (as a rebuilt image would be: another ID).
    const pack = tarStream.pack();
    pack.entry({ name: 'Dockerfile' }, `FROM ${current}\nLABEL stagecoach.test=${ID}\n`);
    pack.finalize();
    const image = await build(pack as unknown as Readable, `stagecoach/${ID}-loadbalancer:2`);
    expect(image).not.toBe(current);
    const config = environmentHaproxyConfig(environment(2));
    const lifecycle = createLoadBalancerContainers({ docker: createDockerProvider(), secret: h.secret });

    const seen = await underLoad(async () => {
      const change = await mock.run(lifecycle.apply, target(2), { image, config, configHash: 'test-image-2', env: runtimeApiEnv() });
      expect(change).toMatchObject({ handedOver: true, newHolder: false, removedServers: [] });
      const running = await haproxyContainers();
      expect(running.map((c) => c.state)).toEqual(['running']);
      expect((await h.docker.getContainer(running[0].id).inspect()).Image).toBe(image);
      // And back to the image this build of Stagecoach makes, as the next rollout would.
      expect(await mock.run(topology.applyLoadBalancer, target(2))).toMatchObject({ handedOver: true, newHolder: false });
    });
    expectNoDowntime(seen);
    expect(await holderId()).toBe(holder);
    const running = await haproxyContainers();
    expect(running.map((c) => c.state)).toEqual(['running']);
    expect((await h.docker.getContainer(running[0].id).inspect()).Image).toBe(current);
    expect(await servers(2)).toEqual(['pair-1 UP', 'pair-2 UP']);
  }, 6 * 60_000);

  it('a pass after a hand-over left half done (old and new HAProxy both running) keeps the new one, retires the old', async () => {
    const topology = createTopologyActivities({ docker: createDockerProvider(), secret: h.secret });
    const lifecycle = createLoadBalancerContainers({ docker: createDockerProvider(), secret: h.secret });
    const wanted = (await haproxyContainers())[0].name;
    // An older configuration runs alone...
    await mock.run(lifecycle.apply, target(2), { image: (await h.docker.getContainer(wanted).inspect()).Image, config: environmentHaproxyConfig(environment(2)), configHash: 'older', env: runtimeApiEnv() });
    const older = await h.docker.getContainer((await haproxyContainers())[0].id).inspect();
    // ...and the wanted one was started beside it when its worker was lost (before the old one was retired).
    const started = await h.docker.createContainer({
      name: wanted, Image: older.Config.Image, Env: older.Config.Env, Cmd: older.Config.Cmd,
      Labels: { ...older.Config.Labels, [LABEL.configHash]: wanted.split('-').pop()! }, HostConfig: older.HostConfig,
    });
    await started.start();
    await expect.poll(async () => (await started.logs({ stdout: true, stderr: true, follow: false })).toString()).toMatch(/Loading success/);
    expect((await haproxyContainers()).filter((c) => c.state === 'running')).toHaveLength(2);

    const again = await mock.run(topology.applyLoadBalancer, target(2));
    expect(again).toMatchObject({ process: wanted, handedOver: false, newHolder: false });
    expect((await haproxyContainers()).map((c) => c.name)).toEqual([wanted]);
    expect(await servers(2)).toEqual(['pair-1 UP', 'pair-2 UP']);
    await fetch(url).then((r) => expect(r.status).toBe(200));
  }, 3 * 60_000);

  it('after an engine restart that left HAProxy stopped beside its restarted holder, the next runtime call starts it again', async () => {
    const [haproxy] = await haproxyContainers();
    // What a restart of the Docker Engine may leave: the holder up again, HAProxy stopped (it was started first, and failed).
    await h.docker.getContainer(haproxy.id).stop({ t: 1 });
    await h.docker.getContainer(holder).restart({ t: 1 });
    await expect.poll(() => servers(2), { timeout: 20_000, interval: 500 }).toEqual(['pair-1 UP', 'pair-2 UP']);
    expect((await haproxyContainers()).map((c) => [c.name, c.state])).toEqual([[haproxy.name, 'running']]);
    // A port Docker chose (loadBalancerPort 0) may change when the holder restarts.
    const { url: now } = await createTopologyActivities({ docker: createDockerProvider(), secret: h.secret }).describeEnvironment(target(2));
    await expect.poll(async () => (await fetch(now)).status, { timeout: 10_000 }).toBe(200);
  }, 2 * 60_000);
});
