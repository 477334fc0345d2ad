/**
 * The request bodies of advance and cancel, as Cloud Manager's clients send them, mapped to the execution's
 * validated updates (approve, reject, schedule, override, cancel). Pure: unit-tested on plain objects.
 */
import { ClientFailure, Refusal, type ClientFailureType, type RefusalType } from '../../shared/errors';
import type { ExecutionAction } from '../../shared/messages';
import type { ExecutionState, StepState } from '../../shared/types';
import { advanceProblem, stepStateId } from '../representation';

export type AdvanceOutcome =
  | { ok: true; action: Exclude<ExecutionAction, 'cancel'>; request: Record<string, unknown> }
  | { ok: false; type: RefusalType; detail: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalText(body: Record<string, unknown>, key: string): string | undefined | { problem: string } {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 1000) return { problem: `"${key}" must be a string of at most 1000 characters` };
  return v;
}

/**
 * Which message an advance body means at the step the execution waits at, with Cloud Manager's bodies:
 * - approval (and managed review): `{ "approved": true }` approves, `{ "approved": false, "reason"?: ... }` rejects
 *   (`start` instead of `approved` at a managed review, as the library sends it);
 * - schedule: Cloud Manager's `{ "type": "IMMEDIATE" }` or `{ "type": "SCHEDULED", "schedule": "<ISO 8601 time>" }`;
 *   Stagecoach's shorter `{ "schedule": "now" }` or `{ "schedule": "<ISO 8601 time>" }` too;
 * - a gate's override (codeQuality, securityTest, performanceTest): `{ "metrics": [{ "kpi": "<id>", "override": true }, ...] }`
 *   (plain ids are accepted too); `{ "approved": false, "reason"?: ... }` rejects at the gate.
 * The user (`by`) comes from the token, never from the body.
 */
export function advanceMessage(state: ExecutionState, step: StepState, received: unknown): AdvanceOutcome {
  const problem = advanceProblem(state, step);
  if (problem) return { ok: false, type: Refusal.NotWaiting, detail: problem };
  const accepts = state.waiting!.accepts;
  if (!isObject(received)) return { ok: false, type: Refusal.InvalidRequest, detail: `advance needs a JSON object body; ${expectedBody(accepts)}` };
  // Cloud Manager's clients answer a managed review with `start`, an approval with `approved`: the same decision.
  const body = step.action === 'managed' && received.approved === undefined && typeof received.start === 'boolean'
    ? { ...received, approved: received.start } : received;
  // A gate waiting for an override also accepts a reject: the body says which.
  const gate = accepts.includes('override');
  if ((accepts.includes('approve') || accepts.includes('reject')) && !(gate && body.approved === undefined)) {
    if (typeof body.approved !== 'boolean') return { ok: false, type: Refusal.InvalidRequest, detail: `step ${step.stepId} waits for an approval decision; ${expectedBody(accepts)}` };
    const comment = optionalText(body, body.approved ? 'comment' : 'reason');
    if (isObject(comment)) return { ok: false, type: Refusal.InvalidRequest, detail: comment.problem as string };
    if (body.approved && !accepts.includes('approve')) {
      return { ok: false, type: Refusal.InvalidRequest, detail: `step ${step.stepId} waits for an override of its failing metrics, not an approval; ${expectedBody(accepts)}` };
    }
    if (body.approved) return { ok: true, action: 'approve', request: comment !== undefined ? { comment } : {} };
    return { ok: true, action: 'reject', request: comment !== undefined ? { reason: comment } : {} };
  }
  if (accepts.includes('schedule')) return scheduleMessage(step, body, accepts);
  if (accepts.includes('override')) {
    const metrics = body.metrics;
    if (!Array.isArray(metrics) || !metrics.length) return { ok: false, type: Refusal.InvalidRequest, detail: `step ${step.stepId} waits for an override of its failing metrics; ${expectedBody(accepts)}` };
    const ids: string[] = [];
    for (const m of metrics) {
      if (typeof m === 'string' && m) ids.push(m);
      else if (isObject(m) && typeof (m.kpi ?? m.id) === 'string') {
        if (m.override !== false) ids.push(String(m.kpi ?? m.id));
      } else return { ok: false, type: Refusal.InvalidRequest, detail: `each metric is {"kpi": "<id>", "override": true} or a metric id (got ${JSON.stringify(m)})` };
    }
    if (!ids.length) return { ok: false, type: Refusal.InvalidRequest, detail: 'no metric is overridden ("override": true on at least one)' };
    // The gate needs every failing important metric overridden: one left out is a bad request, not a refusal of the user.
    const missing = (state.waiting!.metrics ?? []).filter((id) => !ids.includes(id));
    if (missing.length) return { ok: false, type: Refusal.InvalidRequest, detail: `the override must list every failing important metric; missing: ${missing.join(', ')}` };
    return { ok: true, action: 'override', request: { metrics: ids } };
  }
  return { ok: false, type: Refusal.NotWaiting, detail: `step ${step.stepId} accepts ${accepts.join(', ')} only` };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T/;

/** A schedule body; a time in the past is a bad request, as Cloud Manager answers it. */
function scheduleMessage(step: StepState, body: Record<string, unknown>, accepts: string[], now = Date.now()): AdvanceOutcome {
  const bad = (why: string): AdvanceOutcome => ({ ok: false, type: Refusal.InvalidRequest, detail: `step ${step.stepId} waits for a schedule; ${why}; ${expectedBody(accepts)}` });
  if (body.type === 'IMMEDIATE' || body.schedule === 'now') return { ok: true, action: 'schedule', request: { now: true } };
  if (body.type !== undefined && body.type !== 'SCHEDULED') return bad(`"type" must be IMMEDIATE or SCHEDULED (got ${JSON.stringify(body.type)})`);
  const when = body.schedule;
  if (typeof when !== 'string' || !ISO_TIME.test(when) || Number.isNaN(Date.parse(when))) return bad(`"schedule" is not an ISO 8601 time (got ${JSON.stringify(when) ?? 'nothing'})`);
  if (Date.parse(when) <= now) return bad(`${when} is in the past`);
  return { ok: true, action: 'schedule', request: { at: new Date(Date.parse(when)).toISOString() } };
}

export function expectedBody(accepts: string[]): string {
  if (accepts.includes('override')) {
    return 'send {"metrics": [{"kpi": "<metric id>", "override": true}]}' + (accepts.includes('reject') ? ' to override, or {"approved": false, "reason": "..."} to reject' : '');
  }
  if (accepts.includes('approve') || accepts.includes('reject')) return 'send {"approved": true} to approve or {"approved": false, "reason": "..."} to reject';
  if (accepts.includes('schedule')) return 'send {"type": "IMMEDIATE"} or {"type": "SCHEDULED", "schedule": "<ISO 8601 time, e.g. 2030-01-31T22:00:00Z>"}';
  return 'nothing to send';
}

export type CancelOutcome =
  | { ok: true; action: 'cancel'; request: { reason?: string } }
  | { ok: true; action: 'reject'; request: { reason?: string } }
  | { ok: false; type: RefusalType; detail: string };

/**
 * What a cancel body means. Cloud Manager's clients cancel a waiting approval with `{"approved": false}`, a managed
 * review with `{"start": false}` and a waiting quality gate with `{"override": false}`: those reject the waiting step
 * (under the advance roles, so a Business Owner may send them); anything else (`{"cancel": true}`, `{}`, no body,
 * `{"reason": ...}`) cancels the execution.
 */
export function cancelMessage(state: ExecutionState, step: StepState, body: unknown): CancelOutcome {
  if (body !== undefined && !isObject(body)) return { ok: false, type: Refusal.InvalidRequest, detail: 'cancel takes an optional JSON object, e.g. {"cancel": true} or {"reason": "..."}' };
  const b = body ?? {};
  const reason = optionalText(b, 'reason');
  if (isObject(reason)) return { ok: false, type: Refusal.InvalidRequest, detail: reason.problem as string };
  const request = reason !== undefined ? { reason } : {};
  if (b.approved === false || b.start === false || b.override === false) {
    const problem = advanceProblem(state, step);
    if (problem) return { ok: false, type: Refusal.NotWaiting, detail: problem };
    if (!state.waiting!.accepts.includes('reject')) return { ok: false, type: Refusal.NotWaiting, detail: `step ${step.stepId} cannot be rejected; it accepts ${state.waiting!.accepts.join(', ')}` };
    return { ok: true, action: 'reject', request };
  }
  return { ok: true, action: 'cancel', request };
}

/**
 * Cloud Manager's start with `stepId` (and `sourceExecutionId`): starting again from the production deploy step of an
 * execution is a RE_EXECUTE of it, the same as its reExecute link. Any other step is a bad request: Stagecoach does
 * not resume a pipeline from an arbitrary step, and never silently runs a normal execution instead.
 * `source` is the execution named by sourceExecutionId, or the pipeline's last one.
 */
export function reExecutionOfStart(source: ExecutionState | undefined, stepId: string):
  { ok: true; executionId: string } | { ok: false; type: RefusalType | ClientFailureType; detail: string } {
  if (!source) return { ok: false, type: ClientFailure.NotFound, detail: `no execution to start step ${stepId} of` };
  const step = source.steps.find((s) => s.stepId === stepId || stepStateId(source, s) === stepId);
  if (!step) return { ok: false, type: Refusal.InvalidRequest, detail: `execution ${source.id} has no step ${stepId}` };
  if (!(step.action === 'deploy' && step.environmentType === 'prod')) {
    return { ok: false, type: Refusal.InvalidRequest, detail: `an execution can start from the production deploy step only (a re-execution), not from ${step.stepId}` };
  }
  return { ok: true, executionId: source.id };
}
