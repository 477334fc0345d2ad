/**
 * kill -9 the worker at every step boundary and inside every phase of a node's rollout cycle: right after an effect
 * and before Temporal hears of it, and in the middle of one (an image build, a test container's run, between
 * creating and starting a container, between removing the old one and creating the new, a deploy and a post-deploy
 * hook while it runs, a drain wait, a cache flush, a warm-up); a fresh worker each time. The executions complete,
 * every node ends with exactly one container on the expected image, attached and UP, nothing was created twice, and
 * each hook ran exactly once (counted from Docker's live event stream and from the hook's own record).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { extractTar } from '../../src/activities/containers';
import { createLoadBalancerActivities } from '../../src/activities/load-balancer';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { syncSampleRepo } from '../../src/dev/sample-repo';
import { LOAD_BALANCER_NODE, LOAD_BALANCER_PROCESS, containerName } from '../../src/topology/names';
import { testPipeline } from '../helpers/harness';
import { FaultLab, tally, type ContainerEvent, type Fault } from './lab';

const ID = 'f-crash';
const FILE = 'crash-and-resume';
const lab = new FaultLab('crash', [ID], { accountExecutions: true });
/** Each hook run leaves its key in the author's mount, a volume kept across deployments: the hook's own record. */
const HOOK_RECORD = '/app/var/hook-runs';
const HOOK = `echo "$STAGECOACH_HOOK_KEY" >> ${HOOK_RECORD}; sleep 1`;
const config = () => testPipeline(ID, lab.repo, {
  environments: { stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '3s' }, prod: { pairs: 2, loadBalancerPort: 0, authorPort: 0, drainTimeout: '3s' } },
  app: { mounts: ['/app/var'], hooks: { deploy: [HOOK], postDeploy: [HOOK] } },
});

beforeAll(async () => {
  await lab.start();
  await lab.writePipeline(config());
});
afterAll(async () => lab.close());

const after = (activity: string): Fault => ({ name: `after ${activity}`, arm: { FAULT_KILL_AFTER: activity } });
const during = (what: string, activity: string, ms: number): Fault => ({ name: `during ${what}`, arm: { FAULT_KILL_DURING: `${activity}@${ms}ms` } });
const onDocker = (what: string, action: string, env: string, node: string, ...more: string[]): Fault => ({
  name: what, arm: { FAULT_KILL_ON_DOCKER: [action, `stagecoach.environment=${env}`, `stagecoach.node=${node}`, ...more].join('@') },
});
/** The node's container as the dead worker left it: its state, or gone. */
const leftAs = async (env: string, node: string) =>
  (await lab.docker.getContainer(containerName(ID, env, node)).inspect().catch(() => undefined))?.State.Status ?? 'gone';
const created = (env: string, node: string): Fault => ({
  ...onDocker(`${env} ${node} created, not yet started`, 'create', env, node),
  landed: async () => { const left = await leftAs(env, node); return left === 'created' ? undefined : `left ${left}`; },
});
const removed = (env: string, node: string): Fault => ({
  ...onDocker(`${env} ${node} removed, the new one not yet created`, 'destroy', env, node),
  landed: async () => { const left = await leftAs(env, node); return left === 'gone' ? undefined : `left ${left}`; },
});
const hook = (env: string, phase: string) => onDocker(`${env} ${phase} hook running`, 'exec_start', env, 'author', '~stagecoach-exec:');
const testRun: Fault = { name: 'stage functional test container running', arm: { FAULT_KILL_ON_DOCKER: 'start@~functional-tests' } };
/** The pair cycle's waits and cache work of one pair, each killed while it runs. */
const pairEffects = (env: string, pair: number): Fault[] => [
  during(`${env} pair-${pair} drain wait`, `waitForSessionsDrained@${env}@pair-${pair}`, 1),
  during(`${env} pair-${pair} cache flush`, `flushCache@${env}@pair=${pair}`, 1),
  during(`${env} pair-${pair} warm-up`, `warmCache@${env}@pair=${pair}`, 15),
];

async function checkProduction(expectedImages: { app: string; dispatcher: string }) {
  const containers = await lab.docker.listContainers({ all: true, filters: { label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=prod'] } });
  const byNode = new Map<string, typeof containers>();
  for (const c of containers) byNode.set(c.Labels['stagecoach.node'], [...(byNode.get(c.Labels['stagecoach.node']) ?? []), c]);
  for (const node of ['author', 'publish-1', 'publish-2', 'dispatcher-1', 'dispatcher-2']) {
    const list = byNode.get(node) ?? [];
    expect(list, node).toHaveLength(1);
    expect(list[0].State, node).toBe('running');
    expect(list[0].ImageID, node).toBe(node.startsWith('dispatcher') ? expectedImages.dispatcher : expectedImages.app);
  }
  const servers = await createLoadBalancerActivities({ docker: createDockerProvider(), secret: lab.secret })
    .readServers({ pipelineId: ID, environment: parsePipelineConfig(config()).environments.prod });
  const detached = servers.filter((s) => s.status !== 'UP');
  await tally({ nodesChecked: 5, nodesLeftDetached: detached.length });
  expect(servers.map((s) => s.status)).toEqual(['UP', 'UP']);
}

/** The keys the hook recorded in an environment's author, one line per run. */
async function hookRecord(env: string): Promise<string[]> {
  const archive = await lab.docker.getContainer(containerName(ID, env, 'author')).getArchive({ path: HOOK_RECORD });
  const files = await extractTar(archive as never);
  return [...files.values()][0].toString('utf8').split('\n').filter(Boolean);
}

/**
 * Each node created once by this execution, each hook run once (4 runs: deploy and post-deploy, Stage and
 * Production), by Docker's events and by the hooks' own records (which hold `earlierRuns` of earlier rollouts in each
 * environment).
 */
async function checkEffectsOnce(events: ContainerEvent[], { earlierRuns, firstDeploy }: { earlierRuns: number; firstDeploy: boolean }) {
  const creations: Record<string, number> = {};
  for (const e of events.filter((x) => x.action === 'create' && x.node)) creations[`${e.environment} ${e.node}`] = (creations[`${e.environment} ${e.node}`] ?? 0) + 1;
  const hookStarts: Record<string, number> = {};
  for (const e of events.filter((x) => x.action.startsWith('exec_start') && x.action.includes('stagecoach-exec:'))) {
    const key = /stagecoach-exec:(\S+)/.exec(e.action)![1];
    hookStarts[key] = (hookStarts[key] ?? 0) + 1;
  }
  const stage = await hookRecord('stage');
  const prod = await hookRecord('prod');
  const records = [...stage, ...prod];
  const recent = [...stage.slice(earlierRuns), ...prod.slice(earlierRuns)];
  const recorded: Record<string, number> = {};
  for (const key of records) recorded[key] = (recorded[key] ?? 0) + 1;
  const doubled = Object.values(creations).filter((n) => n > 1).length + Object.values(recorded).filter((n) => n > 1).length
    + Object.values(hookStarts).filter((n) => n > 1).length;
  await tally({ effectsDoubled: doubled, hooksRun: recent.length });
  const once = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, 1]));
  // A load balancer is made with its environment (its holder, `lb`, and the HAProxy beside it, `lb-haproxy`), and
  // kept while its configuration stays the same.
  const nodes = ['author', 'publish-1', 'dispatcher-1', ...(firstDeploy ? [LOAD_BALANCER_NODE, LOAD_BALANCER_PROCESS] : [])];
  expect(creations).toEqual(once([...nodes.map((n) => `stage ${n}`), ...[...nodes, 'publish-2', 'dispatcher-2'].map((n) => `prod ${n}`)]));
  expect(Object.keys(hookStarts)).toHaveLength(4);
  expect(hookStarts).toEqual(once(Object.keys(hookStarts)));
  expect(recorded).toEqual(once(records));
  expect(recent.sort()).toEqual(Object.keys(hookStarts).sort());
}

describe('worker killed (SIGKILL) and restarted', () => {
  it('at each step boundary and inside each effect of a first execution, which still reaches Production', async () => {
    const watch = await lab.watchContainers(ID);
    const final = await lab.runThroughFaults(ID, FILE, [
      after('resolveBranch'), during('the unit-test build', 'buildAndTest', 1500), after('buildAndTest'),
      during('the runtime image build', 'buildImages', 1500), after('buildImages'), after('prepareEnvironment'),
      created('stage', 'author'), hook('stage', 'deploy'), pairEffects('stage', 1)[0], created('stage', 'publish-1'),
      created('stage', 'dispatcher-1'), ...pairEffects('stage', 1).slice(1), hook('stage', 'post-deploy'),
      after('productTest'), testRun, after('customTests'), after('contentAudit'),
      created('prod', 'author'), after('deployNode@prod@author'), hook('prod', 'deploy'), created('prod', 'publish-1'),
      created('prod', 'dispatcher-2'), hook('prod', 'post-deploy'), after('describeEnvironment@prod'),
    ]);
    expect(final.status, final.reason).toBe('FINISHED');
    await tally({ executionsCompleted: 1 });
    await checkProduction({ app: final.artifacts.images!.app.id, dispatcher: final.artifacts.images!.dispatcher.id });
    await checkEffectsOnce(await watch.stop(), { earlierRuns: 0, firstDeploy: true });
  });

  it('inside every phase of a node\'s cycle, without doubling any effect', async () => {
    await syncSampleRepo(lab.repo, '5.1.0');
    const watch = await lab.watchContainers(ID);
    const final = await lab.runThroughFaults(ID, FILE, [
      removed('stage', 'author'), hook('stage', 'deploy'), removed('stage', 'publish-1'), removed('stage', 'dispatcher-1'),
      hook('stage', 'post-deploy'), testRun,
      removed('prod', 'author'), hook('prod', 'deploy'),
      ...pairEffects('prod', 1).slice(0, 1), removed('prod', 'publish-1'), removed('prod', 'dispatcher-1'), ...pairEffects('prod', 1).slice(1),
      // pair-2 of Production: draining, detached, deploying, health-checking, flushing, warming, attaching
      after('setServerState@prod@pair-2@drain'), pairEffects('prod', 2)[0], after('waitForSessionsDrained@prod@pair-2'),
      after('setServerState@prod@pair-2@maint'), removed('prod', 'publish-2'), after('deployNode@prod@publish-2'),
      removed('prod', 'dispatcher-2'), after('deployNode@prod@dispatcher-2'), after('checkHealth'),
      pairEffects('prod', 2)[1], after('flushCache@prod'), pairEffects('prod', 2)[2], after('warmCache@prod'),
      after('setServerState@prod@pair-2@ready'), after('waitForServerUp@prod@pair-2'), hook('prod', 'post-deploy'),
    ]);
    expect(final.status, final.reason).toBe('FINISHED');
    await tally({ executionsCompleted: 1 });
    const images = final.artifacts.images!;
    await checkProduction({ app: images.app.id, dispatcher: images.dispatcher.id });
    // Each node was created exactly once by this execution, although the worker died right after most of the
    // replacements and between removing and creating others: the retried activity found its own effect, or went on
    // from where the dead one stopped, and did not redo it.
    await checkEffectsOnce(await watch.stop(), { earlierRuns: 2, firstDeploy: false });
    const cycle = final.rollouts.prod!;
    expect(cycle.nodes.map((n) => n.phase)).toEqual(['done', 'done', 'done']);
  });
});
