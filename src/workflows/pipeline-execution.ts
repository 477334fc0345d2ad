/** pipelineExecution: one execution of a pipeline, from validation to Production. A thin entry over Execution. */
import { Execution } from './execution/execution';
import type { ExecutionInput, ExecutionResult } from './execution/state';

export type { ExecutionInput, ExecutionResult };

export async function pipelineExecution(input: ExecutionInput): Promise<ExecutionResult> {
  const execution = new Execution(input);
  execution.installHandlers();
  return execution.run();
}
