/**
 * What a deployment tells its environment's keeper: that it starts (the keeper finishes the heal it runs and pauses;
 * answered then), and that it ended (the keeper resumes; on the new release when it finished, which starts the keeper
 * the first time). Only for an environment whose keeper is enabled.
 */
import { CancellationScope, patched, workflowInfo } from '@temporalio/workflow';
import type { Trust } from '../../shared/identity';
import type { KeeperRelease } from '../../shared/keeper';
import type { EnvironmentType, ExecutionState, RolloutResult, WebhookConfig } from '../../shared/types';
import { containerActivities } from '../activity-profiles';
import type { RolloutInput } from '../rollout/input';

export interface KeeperHook {
  /** Ends the pause; `result` is the rollout's (absent when it did not return: cancelled, or its child failed). */
  ended(result: RolloutResult | undefined): Promise<void>;
}

/** Pauses the keeper before the rollout starts; undefined when the environment has no keeper. */
export async function pauseKeeperFor(
  state: ExecutionState, environmentType: EnvironmentType, rollout: RolloutInput, pipeline: { webhooks: WebhookConfig[]; trust?: Trust },
): Promise<KeeperHook | undefined> {
  // Added later: patched, so executions recorded before the keeper existed replay as they ran.
  if (!rollout.environment.keeper?.enabled || !patched('tell-keeper-of-deployment')) return undefined;
  const target = { pipelineId: state.pipelineId, environmentType };
  const hook: KeeperHook = {
    // The keeper must hear it even when the execution is being cancelled, or it would stay paused.
    ended: (result) => CancellationScope.nonCancellable(async () => {
      const finished = result?.status === 'FINISHED';
      const release: KeeperRelease | undefined = finished ? {
        executionId: state.id, executionUid: workflowInfo().firstExecutionRunId,
        execution: { trigger: state.trigger, mode: state.mode, user: state.user }, finishedAt: new Date().toISOString(),
        environment: rollout.environment, images: rollout.images, warmPages: rollout.warmPages, webhooks: pipeline.webhooks,
        ...(pipeline.trust ? { trust: pipeline.trust } : {}),
        app: {
          port: rollout.app.port, healthPath: rollout.app.healthPath,
          ...(rollout.app.mounts ? { mounts: rollout.app.mounts } : {}),
          ...(rollout.app.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
        },
      } : undefined;
      await containerActivities.notifyKeeperDeploymentEnded({
        ...target, ended: { executionId: state.id, status: result?.status ?? 'STOPPED', ...(release ? { release } : {}) },
      });
    }),
  };
  // A pause that did not answer (the execution cancelled while the keeper finished a heal) may still have reached it.
  await containerActivities.pauseKeeper({ ...target, executionId: state.id }).catch(async (err: unknown) => {
    await hook.ended(undefined);
    throw err;
  });
  return hook;
}
