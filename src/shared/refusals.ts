/**
 * Refusal rules that both sides need: the workflows refuse with them, the HTTP API offers a link only where they
 * would accept. Pure functions answering a refusal (undefined: accepted).
 */
import { Refusal, type RefusalReason, type RefusalType } from './errors';
import type { ReExecuteRequest } from './messages';
import { isTerminal, type ExecutionState, type PipelineState, type StepStatus } from './types';

export const refusal = (type: RefusalType, message: string): RefusalReason => ({ type, message });

/** A payload problem (a reason, or undefined) as an invalid-request refusal. */
export function invalidRequest(problem: string | undefined): RefusalReason | undefined {
  return problem === undefined ? undefined : refusal(Refusal.InvalidRequest, problem);
}

/** Cancel applies to the whole execution, whatever the step: refused once it has ended or is being cancelled. */
export function cancelRefusal(state: Pick<ExecutionState, 'id' | 'status'>): RefusalReason | undefined {
  if (isTerminal(state.status)) return refusal(Refusal.NotAllowedNow, `execution ${state.id} has already ended (${state.status})`);
  if (state.status === 'CANCELLING') return refusal(Refusal.NotAllowedNow, `execution ${state.id} is already being cancelled`);
  return undefined;
}

/** Steps whose end, in any way, makes an execution re-executable. */
const PROD_DEPLOY_COMPLETED: StepStatus[] = ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED', 'ROLLED_BACK'];

/** Why the last execution cannot be re-executed now (undefined: it can). Cloud Manager's rules. */
export function reExecuteRefusal(state: PipelineState, busy: boolean, request: ReExecuteRequest): RefusalReason | undefined {
  const last = state.executions.at(-1);
  const no = (message: string) => refusal(Refusal.NotReExecutable, message);
  if (busy) return refusal(Refusal.Busy, `pipeline ${state.pipelineId} is busy: an execution is running; re-execute once it has ended`);
  if (!last) return no(`pipeline ${state.pipelineId} has no execution to re-execute`);
  if (request.executionId !== undefined && request.executionId !== last.id) {
    return no(`only the pipeline's last execution (${last.id}) can be re-executed, not execution ${request.executionId}`);
  }
  if (last.trigger === 'PUSH_UPGRADES') return no(`execution ${last.id} was a push update (PUSH_UPGRADES): push updates cannot be re-executed`);
  if (!last.prodDeployStatus || !PROD_DEPLOY_COMPLETED.includes(last.prodDeployStatus)) {
    return no(`execution ${last.id} ended (${last.status}) before its production deployment: only a production deployment that ran can be re-executed`);
  }
  if (!last.artifacts?.images) return no(`execution ${last.id} has no images to deploy again`);
  return undefined;
}
