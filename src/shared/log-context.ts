/**
 * What a log line, a span or a metric says about where it comes from: the pipeline, the execution, the step, the
 * environment and the node. Read from the workflow id (ids.ts makes them) and, for the step, from the header the
 * workflows put on each activity they schedule (src/workflows/context-interceptors.ts).
 */

/** The activity header that carries the step (its action) the execution was at when it scheduled the activity. */
export const STEP_HEADER = 'stagecoach-step';

export interface LogContext {
  pipeline?: string;
  execution?: string;
  step?: string;
  /** The environment's name where the input names it, else its type (`stage`, `prod`) from a rollout's id. */
  environment?: string;
  node?: string;
}

/** `stagecoach-<pipeline>`, `…-execution-<n>`, `…-execution-<n>-deploy-<type>`, `…-execution-<n>-events`. */
const WORKFLOW_ID = /^stagecoach-(.+?)(?:-execution-(\d+)(?:-deploy-([a-z]+)|-events)?)?$/;

/** The pipeline, execution and (for a rollout) environment type and step its workflow id names. */
export function contextOfWorkflowId(workflowId: string): LogContext {
  const match = WORKFLOW_ID.exec(workflowId);
  if (!match) return {};
  const [, pipeline, execution, environmentType] = match;
  return {
    pipeline,
    ...(execution ? { execution } : {}),
    ...(environmentType ? { environment: environmentType, step: 'deploy' } : {}),
  };
}
