/**
 * Refusals in Cloud Manager's terms: the HTTP status of each typed refusal (the ApplicationFailure `type` an update
 * or a start is refused with, src/shared/errors.ts) and the fields Cloud Manager's clients read from an error body.
 */
import { Refusal } from '../../shared/errors';

/**
 * Cloud Manager's status classes: 400 for a request that cannot be right (an override missing a failing metric, a
 * schedule in the past), 403 for a user the execution refuses (approver list, self-approval), 412 when the pipeline
 * or the execution is not in a state that allows it now (busy, nothing waits for it, not re-executable).
 */
const STATUS_OF_REFUSAL: Record<string, 400 | 403 | 412> = {
  [Refusal.InvalidRequest]: 400,
  [Refusal.NotAllowed]: 403,
  [Refusal.NotWaiting]: 412,
  [Refusal.Busy]: 412,
  [Refusal.NotReExecutable]: 412,
};

/** The HTTP status of a refusal type; an unknown type is a state the request does not fit (412). */
export function statusForRefusal(type: string | undefined): 400 | 403 | 412 {
  return (type !== undefined ? STATUS_OF_REFUSAL[type] : undefined) ?? 412;
}

/**
 * What aio-lib-cloudmanager shows of an `application/problem+json` answer: the `errors` array's messages (it says
 * nothing of a body without one). Added to every problem the API answers.
 */
export function cloudManagerErrorFields(detail: string): { errors: Array<{ message: string }> } {
  return { errors: [{ message: detail }] };
}
