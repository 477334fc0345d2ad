/**
 * The rollback: a rollout that does not finish, because a node fails or the execution is cancelled, restores every
 * node it touched to its previous images with the same detach/attach cycle, last touched first, so the environment
 * ends on one version with every node attached.
 */
import { CancellationScope, isCancellation } from '@temporalio/workflow';
import { rootCause } from '../../shared/errors';
import type { RolloutNodeState } from '../../shared/types';
import { containerActivities, loadBalancerActivities } from '../activity-profiles';
import type { RolloutContext } from './context';
import type { NodeCycleRunner, NodeImages } from './node-cycle';
import type { RequestHold } from './request-hold';

export interface RollbackParts {
  cycle: NodeCycleRunner;
  requests: RequestHold;
  /** The nodes whose containers were (or may have been) replaced, in the order they were touched. */
  touched: readonly RolloutNodeState[];
}

/** Records why the rollout stopped, then restores what it touched; the final status is ROLLED_BACK, CANCELLED or FAILED. */
export async function rollBack(ctx: RolloutContext, { cycle, requests, touched }: RollbackParts, err: unknown): Promise<void> {
  const { record } = ctx;
  const state = record.state;
  const cancelled = isCancellation(err);
  const failedNode = state.nodes.find((n) => n.name === state.currentNode);
  if (failedNode && !cancelled) failedNode.error = rootMessage(err);
  state.reason = cancelled ? 'the execution was cancelled during the rollout' : `${state.currentNode ?? 'a node'} failed: ${rootMessage(err)}`;
  state.status = 'ROLLING_BACK';
  // Restore in a scope that a cancellation cannot interrupt: the environment must end on one version, attached.
  await CancellationScope.nonCancellable(async () => {
    await record.reportDelivered();
    for (const n of [...touched].reverse()) {
      try {
        const previous = n.previousImages ?? {};
        const images: NodeImages = { author: previous.author || undefined, publish: previous.publish || undefined, dispatcher: previous.dispatcher || undefined };
        if (!Object.values(images).some(Boolean)) {
          // First deployment of this node: there is no previous version; it stays out of the load balancer.
          n.error ??= 'no previous version to restore (first deployment): left detached';
          if (n.role === 'pair') await loadBalancerActivities.setServerState({ ...ctx.target, server: n.name, state: 'maint' });
          record.setPhase(n, 'failed');
          continue;
        }
        await cycle.restore(n, images);
      } catch (restoreErr) {
        n.phase = 'failed';
        n.error = `restore failed: ${rootMessage(restoreErr)}`;
        state.status = 'FAILED';
      }
    }
    // Maintenance mode: the held requests go to the restored nodes (or, bounded, get the maintenance page).
    if (requests.holding) await requests.release('restore').catch(() => undefined);
    if (state.status === 'ROLLING_BACK') state.status = cancelled ? 'CANCELLED' : 'ROLLED_BACK';
    state.currentNode = undefined;
    state.url = (await containerActivities.describeEnvironment(ctx.target).catch(() => undefined))?.url;
    await record.reportDelivered();
  });
}

function rootMessage(err: unknown): string {
  return (rootCause(err) as { message?: string } | undefined)?.message ?? String(err);
}
