/**
 * The environment keeper's heal under worker crashes (issue 20): Production's pair-2 publish is removed from outside,
 * and the worker is killed (SIGKILL) twice while the keeper heals it — the moment the new publish container is
 * created, and again while pair-2's cache is warmed — with a fresh worker each time. The heal completes once: each
 * of the pair's containers is created exactly once (Docker's live event stream), on the released images, every
 * server UP, one heal in the keeper's log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { createLoadBalancerActivities } from '../../src/activities/load-balancer';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { keeperWorkflowId } from '../../src/shared/ids';
import type { KeeperState } from '../../src/shared/keeper';
import { keeperStateQuery } from '../../src/shared/messages';
import { containerName, publishNodeName } from '../../src/topology/names';
import { testPipeline } from '../helpers/harness';
import { FaultLab, tally, tallyFaults, type Fault } from './lab';

const ID = 'f-keeper';
const FILE = 'keeper-heal';
const lab = new FaultLab('keeper', [ID], { accountExecutions: true });
const config = () => testPipeline(ID, lab.repo, {
  environments: {
    stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '3s' },
    prod: { pairs: 2, loadBalancerPort: 0, authorPort: 0, drainTimeout: '3s', keeper: { enabled: true, interval: '5s' } },
  },
});
const keeper = () => lab.client.workflow.getHandle(keeperWorkflowId(ID, 'prod'));
const keeperState = () => keeper().query(keeperStateQuery).catch(() => undefined);

beforeAll(async () => {
  await lab.start();
  await lab.writePipeline(config());
});
afterAll(async () => {
  // A keeper never ends by itself: stopped first, so no later worker of another file heals what the lab removes.
  await keeper().terminate('test over').catch(() => undefined);
  await lab.close();
});

async function keeperUntil(what: string, until: (s: KeeperState) => boolean, timeoutMs = 3 * 60_000): Promise<KeeperState> {
  const deadline = Date.now() + timeoutMs;
  let last: KeeperState | undefined;
  while (Date.now() < deadline) {
    last = (await keeperState()) ?? last;
    if (last && until(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}; keeper: ${JSON.stringify(last)}`);
}

const healEnded = (s: KeeperState) => s.lastHeal?.outcome === 'healed' || s.lastHeal?.outcome === 'failed';

describe('the keeper healing with its worker killed', () => {
  it('twice during one heal: the heal completes once, nothing created twice, every server UP', async () => {
    const released = await lab.runThroughFaults(ID, FILE, []);
    expect(released.status, released.reason).toBe('FINISHED');
    await tally({ executionsCompleted: 1 });
    const images = released.artifacts.images!;
    await lab.startWorker();
    await keeperUntil('the keeper to watch the release', (s) => s.status === 'WATCHING' && s.nodes.length === 3 && s.nodes.every((n) => n.condition === 'healthy'));
    await lab.stopWorker();

    const faults: Fault[] = [
      { name: 'keeper heal: prod publish-2 created, not yet started', arm: { FAULT_KILL_ON_DOCKER: `create@stagecoach.pipeline=${ID}@stagecoach.environment=prod@stagecoach.node=publish-2` } },
      { name: 'keeper heal: prod pair-2 warm-up', arm: { FAULT_KILL_DURING: 'warmCache@prod@pair=2@15ms' } },
    ];
    const watch = await lab.watchContainers(ID);
    const injected: string[] = [];
    try {
      await lab.startWorker(faults[0].arm);
      await lab.docker.getContainer(containerName(ID, 'prod', publishNodeName(2))).remove({ force: true });
      for (const [i, fault] of faults.entries()) {
        const killed = await lab.waitForKill(async () => healEnded((await keeperState()) ?? ({} as KeeperState)));
        if (!killed) throw new Error(`the worker was to be killed: ${fault.name}; the keeper: ${JSON.stringify(await keeperState())}`);
        injected.push(fault.name);
        await lab.startWorker(faults[i + 1]?.arm ?? {});
      }
    } finally {
      await tallyFaults(FILE, injected);
    }
    const healed = await keeperUntil('the heal of pair-2 to end', (s) => healEnded(s) && s.status === 'WATCHING');
    const events = await watch.stop();
    await lab.stopWorker();

    expect(healed.lastHeal, JSON.stringify(healed.lastHeal)).toMatchObject({ node: 'pair-2', outcome: 'healed', reason: 'lost: publish-2 has no container' });
    expect(healed.audit.filter((a) => a.what === 'heal')).toHaveLength(1);
    // The pair's two containers, each created once by the heal (a retried activity found its own effect).
    const creations: Record<string, number> = {};
    for (const e of events.filter((x) => x.action === 'create' && x.environment === 'prod')) creations[e.node] = (creations[e.node] ?? 0) + 1;
    const doubled = Object.values(creations).filter((n) => n > 1).length;
    await tally({ effectsDoubled: doubled });
    expect(creations).toEqual({ 'publish-2': 1, 'dispatcher-2': 1 });

    const containers = await lab.docker.listContainers({ all: true, filters: { label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=prod'] } });
    for (const node of ['author', 'publish-1', 'publish-2', 'dispatcher-1', 'dispatcher-2']) {
      const list = containers.filter((c) => c.Labels['stagecoach.node'] === node);
      expect(list, node).toHaveLength(1);
      expect([list[0].State, list[0].ImageID], node).toEqual(['running', node.startsWith('dispatcher') ? images.dispatcher.id : images.app.id]);
    }
    const servers = await createLoadBalancerActivities({ docker: createDockerProvider(), secret: lab.secret })
      .readServers({ pipelineId: ID, environment: parsePipelineConfig(config()).environments.prod });
    await tally({ nodesChecked: 5, nodesLeftDetached: servers.filter((s) => s.status !== 'UP').length });
    expect(servers.map((s) => s.status)).toEqual(['UP', 'UP']);
  });
});
