/**
 * One topology across two Docker Engines (issue 3: each node's Docker host configurable). Production's load balancer
 * and pair 1's dispatcher run on this machine's engine; its author, pair 1's publish and pair 2 on a second, separate
 * dockerd (its own image store and networks), reached as a remote engine over mutual TLS on 127.0.0.1. The images the
 * build made are copied there by ID; HAProxy reaches pair 2's dispatcher, and pair 1's dispatcher its publish, at
 * fixed addresses on the other engine's subnet; the author's post-deploy hook reaches the load balancer at its own. A
 * rollout across both engines keeps every request served.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { createLoadBalancerActivities, haproxyCommand, RUNTIME_API_PORT } from '../../src/activities/load-balancer';
import { runtimeApiClientCredentials } from '../../src/activities/runtime-api-credentials';
import { publishedPort } from '../../src/activities/containers';
import { containerName } from '../../src/topology/names';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { syncSampleRepo } from '../../src/dev/sample-repo';
import { rolloutWorkflowId } from '../../src/shared/ids';
import { rolloutStateQuery } from '../../src/shared/messages';
import type { ExecutionState, RolloutResult } from '../../src/shared/types';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';
import { moreAnswers, startLoad, summarize, type LoadSample } from '../helpers/load';
import { startSecondEngine, type SecondEngine } from '../helpers/second-engine';

const ID = 't-span';
// Outside Docker's default address pools (172.17–31.0.0/16, 192.168.0.0/16), so no other network takes them.
const LB_SUBNET = '10.213.1.0/24';
const RACK_B_SUBNET = '10.213.2.0/24';
const POST_DEPLOY = 'python3 -c "import os, urllib.request; r = urllib.request.urlopen(os.environ[\'SITE_URL\'], timeout=5); ' +
  'print(os.environ[\'SITE_URL\'], r.headers[\'X-App-Version\'])"';

let h: Harness;
let rackB: SecondEngine;
const config = () => testPipeline(ID, h.repo, {
  app: { hooks: { postDeploy: [POST_DEPLOY] } },
  environments: {
    stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
    prod: {
      pairs: 2, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s',
      subnet: LB_SUBNET,
      // publishAddress: where rack-b publishes ports and the worker reaches them (its default, named: this machine).
      engines: { 'rack-b': { docker: { ...rackB.tls, publishAddress: '127.0.0.1' }, subnet: RACK_B_SUBNET } },
      // Pair 2 whole; pair 1 split: its dispatcher here, its publish there.
      placement: { author: 'rack-b', 'pair-2': 'rack-b', 'publish-1': 'rack-b' },
    },
  },
});

beforeAll(async () => {
  h = await startHarness('span', [ID]);
  rackB = await startSecondEngine(path.join(h.tmp, 'rack-b'), { subnets: [RACK_B_SUBNET] });
  await h.writePipeline(config());
}, 5 * 60_000);
afterAll(async () => {
  // The second engine first: the harness removes its temporary directory, which holds that engine's data root.
  await rackB?.stop();
  await h?.close();
});

/** An execution to the approval wait, approved and scheduled now, to its end; with `prodUrl`, under a bounded load from release to end. */
async function deployToProduction(version: string, prodUrl?: string): Promise<{ state: ExecutionState; samples?: LoadSample[] }> {
  await syncSampleRepo(h.repo, version);
  const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
  const atApproval = await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
  expect(atApproval.status, atApproval.reason).toBe('RUNNING');
  // The load covers Production's rollout only (bounded: it stops by itself after 3 minutes).
  const load = prodUrl ? startLoad(prodUrl) : undefined;
  await h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' });
  await h.waitFor(ID, executionId, isWaitingAt('schedule'));
  await h.stagecoach.send(ID, executionId, 'schedule', { by: 'alice', now: true });
  const state = await h.waitFor(ID, executionId, hasEnded, 6 * 60_000);
  if (load) await moreAnswers(load);
  const samples = await load?.stop();
  expect(state.status, state.reason).toBe('FINISHED');
  return { state, samples };
}
const prodNodes = async (docker: typeof h.docker) =>
  (await docker.listContainers({ filters: { label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=prod'] } }))
    .map((c) => ({ node: c.Labels['stagecoach.node'], image: c.ImageID, address: Object.values(c.NetworkSettings.Networks)[0]?.IPAddress }))
    .sort((a, b) => a.node.localeCompare(b.node));
const environment = () => parsePipelineConfig(config()).environments.prod;
/** Requests HAProxy has sent to each server since it started (`stot` in `show stat`). */
async function requestsPerServer(): Promise<Record<string, number>> {
  const port = await publishedPort(h.docker.getContainer(containerName(ID, 'prod', 'lb')), RUNTIME_API_PORT);
  const [header, ...rows] = (await haproxyCommand({ host: '127.0.0.1', port, credentials: runtimeApiClientCredentials(h.secret, ID, 'prod') }, 'show stat')).trim().split('\n').map((l) => l.replace(/^#\s*/, '').split(','));
  const col = (name: string) => header.indexOf(name);
  return Object.fromEntries(rows.filter((r) => r[col('pxname')] === 'dispatchers' && r[col('svname')].startsWith('pair-'))
    .map((r) => [r[col('svname')], Number(r[col('stot')])]));
}

describe('a topology spanning two Docker Engines', () => {
  let prodUrl: string;

  it('deploys Production across both engines, with the images built here copied there by ID', async () => {
    const { state } = await deployToProduction('6.0.0');
    prodUrl = state.urls.prod!;
    const { app, dispatcher } = { app: state.artifacts.images!.app.id, dispatcher: state.artifacts.images!.dispatcher.id };

    // Where each node runs, what it runs and at which address.
    expect(await prodNodes(h.docker)).toEqual([
      { node: 'dispatcher-1', image: dispatcher, address: '10.213.1.11' },
      { node: 'lb', image: expect.any(String), address: '10.213.1.2' },
      // HAProxy runs in the holder's (the lb node's) network namespace: no address of its own.
      { node: 'lb-haproxy', image: expect.any(String), address: undefined },
    ]);
    expect(await prodNodes(rackB.docker)).toEqual([
      { node: 'author', image: app, address: '10.213.2.3' },
      { node: 'dispatcher-2', image: dispatcher, address: '10.213.2.12' },
      { node: 'publish-1', image: app, address: '10.213.2.101' },
      { node: 'publish-2', image: app, address: '10.213.2.102' },
    ]);
    // The second engine holds the very images built on the first (nothing was built there).
    expect((await rackB.docker.getImage(app).inspect()).Id).toBe(app);
    expect((await rackB.docker.listImages()).map((i) => i.Id).sort()).toEqual([app, dispatcher].sort());

    // The validate step checked both engines.
    expect(state.steps.find((x) => x.action === 'validate')!.details.dockerEngines)
      .toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^https://127\\.0\\.0\\.1:${rackB.tls.port}: Docker `))]));

    // HAProxy reaches pair 2 on the other engine: both servers UP, and both take requests.
    const servers = await createLoadBalancerActivities({ docker: createDockerProvider(), secret: h.secret }).readServers({ pipelineId: ID, environment: environment() });
    expect(servers.map((s) => [s.server, s.status])).toEqual([['pair-1', 'UP'], ['pair-2', 'UP']]);
    const before = await requestsPerServer();
    for (let i = 0; i < 20; i++) expect((await fetch(`${prodUrl}?n=${i}`)).headers.get('x-app-version')).toBe('6.0.0');
    const after = await requestsPerServer();
    expect(after['pair-1'] - before['pair-1']).toBeGreaterThan(0);
    expect(after['pair-2'] - before['pair-2']).toBeGreaterThan(0);

    // The author's post-deploy hook, on the second engine, reached the site through the load balancer's fixed address.
    await h.recordHistory('rollout-spanning-engines', rolloutWorkflowId(ID, state.id, 'prod'));
    const rollout = await h.client.workflow.getHandle(rolloutWorkflowId(ID, state.id, 'prod')).query(rolloutStateQuery) as RolloutResult;
    // The rollout's state says where each node runs.
    expect(rollout.nodes.map((n) => [n.name, n.engine]))
      .toEqual([['author', 'rack-b'], ['pair-1', 'publish on rack-b, dispatcher on default'], ['pair-2', 'rack-b']]);
    const hook = rollout.cycle.find((c) => c.hook?.phase === 'postDeploy')!.hook!;
    expect([hook.exitCode, hook.output?.trim()]).toEqual([0, 'http://10.213.1.2:80/ 6.0.0']);
  });

  it('rolls a new version across both engines with zero downtime', async () => {
    const { state, samples = [] } = await deployToProduction('6.0.1', prodUrl);
    const summary = summarize(samples);
    expect(summary.non2xx).toBe(0);
    expect(summary.errors).toBe(0);
    expect(summary.maxGapMs).toBeLessThan(1000);
    expect(summary.versions).toEqual(['6.0.0', '6.0.1']);
    expect(samples.filter((s) => s.status).slice(-20).every((s) => s.version === '6.0.1')).toBe(true);
    const app = state.artifacts.images!.app.id;
    expect((await prodNodes(rackB.docker)).filter((n) => n.node !== 'dispatcher-2').map((n) => n.image)).toEqual([app, app, app]);
  });

  it('refuses a placement that would move running nodes, before anything is built, and Production keeps serving', async () => {
    const moved = config();
    const prod = (moved.environments as Record<string, Record<string, unknown>>).prod;
    prod.placement = { author: 'rack-b', 'publish-1': 'rack-b' }; // pair 2 back to this machine's engine
    await h.writePipeline(moved);
    try {
      const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
      const state = await h.waitFor(ID, executionId, hasEnded);
      expect(state.status).toBe('FAILED');
      expect(state.reason).toMatch(/publish-2 runs on rack-b, placed on default; dispatcher-2 runs on rack-b, placed on default\. A rollout does not move a running node between engines\. Remove sc-t-span-prod-publish-2 \(on rack-b\)/);
      expect(state.steps.find((x) => x.action === 'validate')!.status).toBe('FAILED');
      expect(state.steps.find((x) => x.action === 'buildImage')!.status).toBe('NOT_STARTED');
      // Nothing moved: pair 2 still runs on rack-b and serves the last version.
      expect((await prodNodes(rackB.docker)).map((n) => n.node)).toEqual(['author', 'dispatcher-2', 'publish-1', 'publish-2']);
      expect((await fetch(prodUrl)).headers.get('x-app-version')).toBe('6.0.1');
    } finally {
      await h.writePipeline(config());
    }
  });
});
