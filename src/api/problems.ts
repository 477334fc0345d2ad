/**
 * The API's errors, answered as `application/problem+json`, and the one map from a failure type (shared/errors.ts:
 * the workflows' refusals, the client's own failures) to an HTTP status.
 */
import { StagecoachError, isDeadlineExceeded, isUnreachable, messageFor } from '../client/errors';
import { ClientFailure, NonRetryable, Refusal, type FailureType, type RefusalReason } from '../shared/errors';

/** An error answered as `application/problem+json`. */
export class ApiProblem extends Error {
  constructor(readonly status: number, readonly type: string, readonly title: string, detail: string, readonly headers: Record<string, string> = {}) {
    super(detail);
    this.name = 'ApiProblem';
  }
}

export const PROBLEM_BASE = 'urn:stagecoach:problem:';

export const problem = {
  badRequest: (detail: string) => new ApiProblem(400, `${PROBLEM_BASE}bad-request`, 'Bad request', detail),
  unauthorized: (detail: string, error?: string) => new ApiProblem(401, `${PROBLEM_BASE}unauthorized`, 'Unauthorized', detail,
    { 'www-authenticate': `Bearer realm="stagecoach"${error ? `, error="${error}"` : ''}` }),
  forbidden: (detail: string) => new ApiProblem(403, `${PROBLEM_BASE}forbidden`, 'Forbidden', detail),
  notFound: (detail: string) => new ApiProblem(404, `${PROBLEM_BASE}not-found`, 'Not found', detail),
  busy: (detail: string) => new ApiProblem(412, `${PROBLEM_BASE}pipeline-busy`, 'Pipeline is busy', detail),
  precondition: (detail: string) => new ApiProblem(412, `${PROBLEM_BASE}not-allowed-now`, 'Not possible in the current state', detail),
  refusedUser: (detail: string) => new ApiProblem(403, `${PROBLEM_BASE}refused`, 'Refused by the execution', detail),
  unavailable: (detail: string) => new ApiProblem(503, `${PROBLEM_BASE}unavailable`, 'Service unavailable', detail),
  noWorker: (detail: string) => new ApiProblem(503, `${PROBLEM_BASE}no-worker`, 'No worker', detail),
  internal: (detail: string) => new ApiProblem(500, `${PROBLEM_BASE}internal`, 'Internal error', detail),
};

/**
 * The problem for a failure type. The execution's refusals of a user (approver list, self-approval) are 403; what
 * the state does not allow now (busy, nothing waits for it, not re-executable) is 412, as Cloud Manager answers.
 * A failure type not listed (a failed step's, which no request meets) is an internal error.
 */
const PROBLEMS_BY_TYPE: Array<[(detail: string) => ApiProblem, FailureType[]]> = [
  [problem.badRequest, [Refusal.InvalidRequest, NonRetryable.InvalidConfig, NonRetryable.RepositoryNotFound, NonRetryable.BranchNotFound]],
  [problem.refusedUser, [Refusal.Forbidden]],
  [problem.notFound, [NonRetryable.PipelineNotFound, ClientFailure.NotFound]],
  [problem.busy, [Refusal.Busy]],
  [problem.precondition, [Refusal.NotWaiting, Refusal.NotAllowedNow, Refusal.NotReExecutable]],
  [problem.unavailable, [ClientFailure.Unreachable]],
  [problem.noWorker, [ClientFailure.NoWorker]],
];
const PROBLEM_BY_TYPE = new Map(PROBLEMS_BY_TYPE.flatMap(([answer, types]) => types.map((type) => [type, answer] as const)));

export function problemForType(type: FailureType, detail: string): ApiProblem {
  return (PROBLEM_BY_TYPE.get(type) ?? problem.internal)(detail);
}

export function problemForRefusal(refusal: RefusalReason): ApiProblem {
  return problemForType(refusal.type, refusal.message);
}

/** A StagecoachError, or Temporal out of reach, in HTTP terms; anything else as it is (the error handler answers 500). */
export function fromError(err: unknown): unknown {
  if (err instanceof StagecoachError) return problemForType(err.type, err.message);
  if (isUnreachable(err) || isDeadlineExceeded(err)) return problem.unavailable(messageFor(err));
  return err;
}
