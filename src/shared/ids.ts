/** Workflow IDs and the task queue: one place, so the CLI, API, worker and tests agree. */

export const TASK_QUEUE = 'stagecoach';

export const WORKFLOW_TYPES = {
  pipeline: 'pipeline',
  pipelineExecution: 'pipelineExecution',
  rollingDeployment: 'rollingDeployment',
  eventDelivery: 'eventDelivery',
  environmentKeeper: 'environmentKeeper',
} as const;

/** Pipeline ids and execution ids appear in workflow ids, container names and URLs. */
export const PIPELINE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;

export function pipelineWorkflowId(pipelineId: string): string {
  return `stagecoach-${pipelineId}`;
}

export function executionWorkflowId(pipelineId: string, executionId: string): string {
  return `stagecoach-${pipelineId}-execution-${executionId}`;
}

export function rolloutWorkflowId(pipelineId: string, executionId: string, environmentType: string): string {
  return `${executionWorkflowId(pipelineId, executionId)}-deploy-${environmentType}`;
}

export function eventDeliveryWorkflowId(pipelineId: string, executionId: string): string {
  return `${executionWorkflowId(pipelineId, executionId)}-events`;
}

/** The keeper of one environment of a pipeline: one per environment, whatever execution deployed it last. */
export function keeperWorkflowId(pipelineId: string, environmentType: string): string {
  return `${pipelineWorkflowId(pipelineId)}-keeper-${environmentType}`;
}

/** The webhook deliveries of one keeper event (a heal's or a scale's, by its id). */
export function keeperEventsWorkflowId(pipelineId: string, environmentType: string, eventId: string): string {
  return `${keeperWorkflowId(pipelineId, environmentType)}-${eventId}-events`;
}

/**
 * Idempotency key of one effect on one node of one execution: the same key never acts twice. `run` (the execution
 * workflow's first run id) makes it unique even when execution numbers start again at 1 (a new Temporal server, a
 * move to a cluster); keys of executions started before it existed have none.
 */
export function nodeEffectKey(parts: { pipelineId: string; executionId: string; run?: string; environmentType: string; node: string; effect: string }): string {
  const execution = parts.run ? `${parts.executionId}@${parts.run}` : parts.executionId;
  return `${parts.pipelineId}/${execution}/${parts.environmentType}/${parts.node}/${parts.effect}`;
}
