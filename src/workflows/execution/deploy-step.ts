/** The deploy step of Stage or Production: the environment's rollout, run as a child workflow. */
import { CancellationScope, executeChild, getExternalWorkflowHandle, patched, workflowInfo } from '@temporalio/workflow';
import { rolloutWorkflowId } from '../../shared/ids';
import { pauseKeeperFor } from '../keeper/deployment-hook';
import { rollingDeployment } from '../rolling-deployment';
import type { RolloutInput } from '../rollout/input';
import { StopExecution, type StepRunner } from './step-context';

export const deploy: StepRunner = async (ctx, step) => {
  const { config, state } = ctx;
  const envType = step.environmentType!;
  const environment = config.environments[envType];
  const images = state.artifacts.images;
  if (!images) throw new StopExecution('FAILED', 'FAILED', 'no images to deploy: the buildImage step did not run');
  const rolloutId = rolloutWorkflowId(state.pipelineId, state.id, envType);
  const rollout: RolloutInput = {
    pipelineId: state.pipelineId,
    executionId: state.id,
    executionUid: workflowInfo().firstExecutionRunId,
    environment,
    images: { app: images.app.id || undefined, dispatcher: images.dispatcher.id },
    app: {
      port: config.app.port, healthPath: config.app.healthPath,
      // Adobe Commerce's phases, when the app declares them (absent in executions started before they existed).
      ...(config.app.hooks ? { hooks: { deploy: config.app.hooks.deploy, postDeploy: config.app.hooks.postDeploy } } : {}),
      ...(config.app.mounts?.length ? { mounts: config.app.mounts } : {}),
      ...(config.app.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
    },
    warmPages: config.cache.warmPages,
  };
  const keeper = await pauseKeeperFor(state, envType, rollout, { webhooks: config.events?.webhooks ?? [], trust: config.trust });
  const rolling = executeChild(rollingDeployment, {
    workflowId: rolloutId,
    staticSummary: `Rolling deployment of ${state.pipelineId} execution ${state.id} to ${environment.name}`,
    args: [rollout],
  });
  // Cancelling a child reaches only its first run (temporalio/features#503); a rollout that continued as new is
  // reached by its workflow id alone, which names the run in progress. It rolls back and ends CANCELLED as before.
  if (patched('cancel-rollout-by-workflow-id')) {
    CancellationScope.current().cancelRequested.catch(() => {
      void CancellationScope.nonCancellable(() => getExternalWorkflowHandle(rolloutId).cancel()).catch(() => undefined);
    });
  }
  const result = keeper ? await rolling.then(
    async (r) => { await keeper.ended(r); return r; },
    async (err: unknown) => { await keeper.ended(undefined); throw err; },
  ) : await rolling;
  state.urls[envType] = result.url;
  state.rollouts[envType] = result;
  if (result.status !== 'FINISHED') {
    throw new StopExecution('FAILED', result.status === 'ROLLED_BACK' ? 'ROLLED_BACK' : 'FAILED',
      `${environment.name} deployment ${result.status === 'ROLLED_BACK' ? 'rolled back' : 'failed'}: ${result.reason}`);
  }
  step.details = {
    summary: `${result.nodes.length} node(s) on the new images; serving ${result.url}`,
    url: result.url, nodes: result.nodes.map((n) => ({ name: n.name, images: n.currentImages })),
  };
};
