/**
 * Continue-as-new carry-over: a rollout's history stays small however large the topology. Once a run's history
 * reaches the environment's limit, it continues as new at the next window boundary, handing the next run its state,
 * the nodes it touched (so a rollback in a later run restores them too) and the plan position to go on from.
 */
import { continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import type { RolloutNodeState, RolloutResult } from '../../shared/types';
import { DEFAULT_ROLLOUT_HISTORY_LIMIT } from '../../shared/config-defaults';
import type { RolloutContext } from './context';
import type { RolloutInput, RolloutResume } from './input';

/** A plan position as a run hands it on: the plan stage, and the window group within it. */
export type PlanPoint = Pick<RolloutResume, 'stage' | 'group'>;

/** Where a run starts in its plan: the beginning, or where the run before it continued as new. */
export function startingPoint(input: RolloutInput): PlanPoint {
  return input.resume ? { stage: input.resume.stage, group: input.resume.group } : { stage: 0, group: 0 };
}

/**
 * Called at a window boundary, every node of the window attached: continues as new (which ends this run) when the
 * history is long, more windows follow and maintenance mode holds no requests; else returns and the run goes on.
 */
export async function continueAsNewWhenLong(
  ctx: RolloutContext, next: PlanPoint, at: { moreWindows: boolean; holdingRequests: boolean; touched: readonly RolloutNodeState[] },
): Promise<void> {
  const limit = ctx.input.environment.rolloutHistoryLimit ?? DEFAULT_ROLLOUT_HISTORY_LIMIT;
  // Added later: patched (asked only when it would act), so rollouts recorded before it replay as they ran.
  if (at.moreWindows && !at.holdingRequests && workflowInfo().historyLength >= limit && patched('rollout-continue-as-new')) {
    await ctx.record.reportDelivered();
    await continueAsNew<(input: RolloutInput) => Promise<RolloutResult>>({
      ...ctx.input, resume: { state: ctx.record.state, touched: at.touched.map((n) => n.name), stage: next.stage, group: next.group },
    });
  }
}
