/**
 * Version-sticky sessions (issue 19, item 4): during a rolling deployment of a 3-pair Production, simulated visitors
 * on 127.0.0.1, each with a cookie jar of its own, change version at most once and never back, with no answer other
 * than 2xx; visitors that keep no cookie, on the same load balancer at the same time, flip between versions (what
 * stickiness prevents). Rollouts run as rollingDeployment workflows on the harness's worker, with images built once
 * from examples/app for two versions.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tarFs from 'tar-fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { haproxyCommand, parseMapEntries, runtimeEndpointOf } from '../../src/activities/load-balancer';
import { EXAMPLES_DIR } from '../../src/config/paths';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { TASK_QUEUE } from '../../src/shared/ids';
import type { RolloutResult } from '../../src/shared/types';
import { HAPROXY_VERSION_MAP, VERSION_COOKIE } from '../../src/topology/haproxy-config';
import { LABEL, LOAD_BALANCER_PROCESS } from '../../src/topology/names';
import type { rollingDeployment } from '../../src/workflows/rolling-deployment';
import { startHarness, type Harness } from '../helpers/harness';
import { startVisitors, versionChanges } from '../helpers/load';
import { eventually } from '../helpers/wait';

const ID = 't-sticky';
const APP = { port: 8080, healthPath: '/health' };
const STICKY_VISITORS = 50;
const FORGETFUL_VISITORS = 10;
let h: Harness;
const images: Record<string, { app: string; dispatcher: string }> = {};
let url: string;
const environment = () => parsePipelineConfig({
  id: ID, repository: 'unused', environments: { prod: { pairs: 3, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' } },
}).environments.prod;

async function build(context: string, tag: string, target?: string): Promise<string> {
  const stream = (await h.docker.buildImage(tarFs.pack(context) as unknown as Readable, { t: tag, target, rm: true, forcerm: true })) as Readable;
  await new Promise<void>((resolve, reject) => h.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()),
    (e: { error?: string }) => { if (e.error) reject(new Error(`docker build of ${tag} failed: ${e.error}`)); }));
  return (await h.docker.getImage(tag).inspect()).Id;
}

let rollouts = 0;
async function rollOut(version: string): Promise<RolloutResult> {
  rollouts += 1;
  const result = await h.client.workflow.execute<typeof rollingDeployment>('rollingDeployment', {
    taskQueue: TASK_QUEUE, workflowId: `${ID}-rollout-${rollouts}-${Date.now()}`,
    args: [{ pipelineId: ID, executionId: String(rollouts), environment: environment(), images: images[version], app: APP, warmPages: ['/'] }],
  });
  expect(result.status, result.reason).toBe('FINISHED');
  return result;
}

/** The version map as the runtime API has it, and as the file in the run volume a new HAProxy would load says. */
async function versionMap() {
  const api = await runtimeEndpointOf({ docker: createDockerProvider(), secret: h.secret }, ID, environment());
  const runtime = Object.fromEntries(parseMapEntries(await haproxyCommand(api, `show map ${HAPROXY_VERSION_MAP}`)));
  const [haproxy] = await h.docker.listContainers({ filters: { label: [`${LABEL.pipeline}=${ID}`, `${LABEL.environment}=prod`, `${LABEL.node}=${LOAD_BALANCER_PROCESS}`] } });
  const exec = await h.docker.getContainer(haproxy.Id).exec({ Cmd: ['cat', HAPROXY_VERSION_MAP], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => { stream.on('data', (c: Buffer) => chunks.push(c)); stream.on('end', resolve); stream.on('error', reject); });
  // The exec stream is multiplexed (8-byte frame headers): only the entries, of the form "key value", are read.
  const text = Buffer.concat(chunks).toString('utf8');
  const file = Object.fromEntries([...text.matchAll(/(pair-\d+) ([0-9a-f]+)/g)].map((m) => [m[1], m[2]]));
  return { runtime, file };
}

beforeAll(async () => {
  h = await startHarness('sticky', [ID]);
  for (const version of ['5.0.0', '5.0.1']) {
    const dir = path.join(h.tmp, `app-${version}`);
    await fs.cp(path.join(EXAMPLES_DIR, 'app'), dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'VERSION'), `${version}\n`);
    images[version] = {
      app: await build(dir, `stagecoach/${ID}:${version}`, 'runtime'),
      dispatcher: await build(path.join(dir, 'dispatcher'), `stagecoach/${ID}-dispatcher:${version}`),
    };
  }
}, 10 * 60_000);
afterAll(async () => h?.close());

describe('version-sticky sessions during a rolling deployment', () => {
  it('first rollout: every server has its pair\'s version in the map, and answers set the cookie', async () => {
    url = (await rollOut('5.0.0')).url!;
    const { runtime, file } = await versionMap();
    expect(Object.keys(runtime).sort()).toEqual(['pair-1', 'pair-2', 'pair-3']);
    expect(new Set(Object.values(runtime)).size).toBe(1);
    expect(file).toEqual(runtime);
    const res = await fetch(url);
    expect(res.headers.get('x-app-version')).toBe('5.0.0');
    expect(res.headers.getSetCookie().join()).toContain(`${VERSION_COOKIE}=${runtime['pair-1']}`);
    // A visitor whose cookie names the version it gets is not sent the cookie again.
    const again = await fetch(url, { headers: { cookie: `${VERSION_COOKIE}=${runtime['pair-1']}` } });
    expect(again.headers.getSetCookie()).toEqual([]);
  }, 8 * 60_000);

  it('visitors with a cookie jar change version at most once, never back; visitors without one flip', async () => {
    const before = (await versionMap()).runtime['pair-1'];
    const sticky = startVisitors(url, { visitors: STICKY_VISITORS, cookies: true, pauseMs: 400, maxSeconds: 300 });
    const forgetful = startVisitors(url, { visitors: FORGETFUL_VISITORS, cookies: false, pauseMs: 200, maxSeconds: 300 });
    // Every visitor has had answers (and the sticky ones their cookie) before the rollout starts.
    await eventually('every visitor answered twice', () => (sticky.answered() >= 2 * STICKY_VISITORS ? true : undefined), 60_000);
    await rollOut('5.0.1');
    const after = sticky.answered();
    await eventually('every visitor answered twice more', () => (sticky.answered() >= after + 2 * STICKY_VISITORS ? true : undefined), 60_000);
    const [stickyTraces, forgetfulTraces] = await Promise.all([sticky.stop(), forgetful.stop()]);

    const all = [...stickyTraces, ...forgetfulTraces];
    const answers = all.flatMap((t) => t.answers);
    expect(answers.length).toBeGreaterThan(500);
    expect({ non2xx: answers.filter((a) => a.status < 200 || a.status >= 300).length, errors: all.flatMap((t) => t.errors) })
      .toEqual({ non2xx: 0, errors: [] });
    // Each sticky visitor: old, then new (once), or only one of them; every one ends on the new version.
    const stickyPaths = stickyTraces.map(versionChanges);
    for (const seen of stickyPaths) expect([['5.0.0', '5.0.1'], ['5.0.1']]).toContainEqual(seen);
    expect(stickyPaths.filter((p) => p.length === 2).length).toBeGreaterThan(STICKY_VISITORS / 2);
    // Without the cookie, the same load balancer at the same time sends a visitor back to the old version.
    const flipsBack = forgetfulTraces.map(versionChanges).filter((p) => p.lastIndexOf('5.0.0') > p.indexOf('5.0.1') && p.includes('5.0.1'));
    expect(flipsBack.length).toBeGreaterThan(0);

    const { runtime, file } = await versionMap();
    expect(new Set(Object.values(runtime)).size).toBe(1);
    expect(runtime['pair-1']).not.toBe(before);
    expect(file).toEqual(runtime);
  }, 10 * 60_000);

  it('a HAProxy started again loads the versions the worker last set, and visitors keep their version', async () => {
    const { runtime: before } = await versionMap();
    const [haproxy] = await h.docker.listContainers({ filters: { label: [`${LABEL.pipeline}=${ID}`, `${LABEL.environment}=prod`, `${LABEL.node}=${LOAD_BALANCER_PROCESS}`] } });
    await h.docker.getContainer(haproxy.Id).restart({ t: 1 });
    const runtime = await eventually('the runtime API answers the version map again', async () => {
      const map = await versionMap().catch(() => undefined);
      return map && Object.keys(map.runtime).length === 3 ? map.runtime : undefined;
    }, 60_000);
    expect(runtime).toEqual(before);
    const res = await eventually('the site answers again', async () => {
      const answer = await fetch(url, { headers: { cookie: `${VERSION_COOKIE}=${before['pair-1']}` } }).catch(() => undefined);
      return answer?.ok ? answer : undefined;
    }, 30_000);
    expect(res.headers.get('x-app-version')).toBe('5.0.1');
    expect(res.headers.getSetCookie()).toEqual([]);
  }, 3 * 60_000);
});
