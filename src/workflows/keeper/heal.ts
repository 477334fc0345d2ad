/**
 * One heal: a node replaced from the release with the rollout's own node cycle (rollout-plan.ts, run by the rollout's
 * NodeCycleRunner): a pair is drained and put in maintenance, its containers retired, then created from the release's
 * images, health-checked, its cache flushed and warmed, and attached once HAProxy reports it UP; the author is
 * retired, recreated and health-checked. Retiring first matters: the cycle keeps a container already on the wanted
 * image, and a dispatcher resolves its publish's address only when it starts.
 */
import type { HealRecord, KeeperRelease } from '../../shared/keeper';
import { AUTHOR_NODE, dispatcherNodeName, pairNumber, publishNodeName } from '../../topology/names';
import { containerActivities } from '../activity-profiles';
import { AUTHOR_CYCLE, PAIR_CYCLE } from '../rollout-plan';
import { rolloutContext } from '../rollout/context';
import type { RolloutInput } from '../rollout/input';
import { NodeCycleRunner } from '../rollout/node-cycle';
import { RolloutRecord } from '../rollout/record';

/** The pair's cycle split where the pair is out of traffic: its containers are retired between the two parts. */
const DETACHED_AT = PAIR_CYCLE.findIndex((s) => s.op === 'maint') + 1;
export const DETACH_STEPS = PAIR_CYCLE.slice(0, DETACHED_AT);
export const REPLACE_STEPS = PAIR_CYCLE.slice(DETACHED_AT);

/** The rollout input a heal's cycle runs with: the release, keyed by the heal (`keyRun`) so no effect is done twice. */
function healRollout(pipelineId: string, release: KeeperRelease, keyRun: string): RolloutInput {
  return {
    pipelineId, executionId: release.executionId, executionUid: keyRun, environment: release.environment,
    images: release.images, app: release.app, warmPages: release.warmPages,
  };
}

/** The rollout's cycle runner for one node of the release, its record keeping what the cycle did. */
export function healCycle(pipelineId: string, release: KeeperRelease, nodeName: string, keyRun: string) {
  const input = healRollout(pipelineId, release, keyRun);
  const record = new RolloutRecord(input);
  return { cycle: new NodeCycleRunner(rolloutContext(input, record)), record, node: record.node(nodeName) };
}

/** Runs the heal; throws when a step fails (the node is then left detached, as a failed cycle leaves it). */
export async function runHeal(pipelineId: string, release: KeeperRelease, heal: HealRecord, keyRun: string): Promise<string> {
  const { cycle, record, node } = healCycle(pipelineId, release, heal.node, keyRun);
  const target = { pipelineId, environment: release.environment };
  if (heal.node === AUTHOR_NODE) {
    await containerActivities.retireNodeContainers({ ...target, nodes: [AUTHOR_NODE] });
    await cycle.deploy(node, AUTHOR_CYCLE, { completesCycle: true });
  } else {
    const pair = pairNumber(heal.node)!;
    await cycle.deploy(node, DETACH_STEPS, { completesCycle: false });
    // Without the app's image (a web tier's first release) the publish cannot be recreated: it stays as it is.
    const retired = release.images.app ? [publishNodeName(pair), dispatcherNodeName(pair)] : [dispatcherNodeName(pair)];
    await containerActivities.retireNodeContainers({ ...target, nodes: retired });
    await cycle.deploy(node, REPLACE_STEPS, { completesCycle: true });
  }
  return record.state.cycle.map((e) => `${e.op}${e.detail ? ` (${e.detail})` : ''}`).join(', ');
}

/** The images a heal of `node` puts there, by container role. */
export function healImages(release: KeeperRelease, node: string): Record<string, string> {
  const { app, dispatcher } = release.images;
  if (node === AUTHOR_NODE) return app ? { author: app } : {};
  return { ...(app ? { publish: app } : {}), dispatcher };
}
