/**
 * When an execution accepts approve, reject, schedule, override and cancel. Pure functions answering a refusal, its
 * type and its reason (undefined when accepted), shared by the signal and the update of each message.
 */
import { msToNumber } from '@temporalio/common/lib/time';
import { Refusal, type RefusalReason } from '../../shared/errors';
import type { ExecutionAction } from '../../shared/messages';
import { cancelRefusal, refusal } from '../../shared/refusals';
import { sameName } from '../../shared/identity';
import { isTerminal, type ExecutionState, type PipelineConfig } from '../../shared/types';
import { roleProblem } from './roles';
import { OVERRIDE_GATES, overrideRolesOf } from './stage-gates';

const MAX_TEXT = 1000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a message's payload shape: what the update validator rejects before anything is recorded. */
export function payloadProblem(action: ExecutionAction, request: unknown): string | undefined {
  if (!isObject(request)) return `${action} takes one object argument, e.g. {"by": "alice"}`;
  const { by } = request;
  if (typeof by !== 'string' || !by.trim()) return `${action} needs "by": the name of who is asking`;
  if (by.length > 100) return '"by" is longer than 100 characters';
  for (const key of ['comment', 'reason'] as const) {
    const value = request[key];
    if (value !== undefined && (typeof value !== 'string' || value.length > MAX_TEXT)) return `"${key}" must be a string of at most ${MAX_TEXT} characters`;
  }
  if (action === 'schedule') {
    const { at, now } = request;
    if ((at === undefined) === (now !== true)) return 'schedule needs exactly one of "now": true or "at": an ISO 8601 time';
    if (at !== undefined && (typeof at !== 'string' || Number.isNaN(Date.parse(at)))) return `"at" is not an ISO 8601 time: ${JSON.stringify(at)}`;
  }
  if (action === 'override') {
    const { metrics } = request;
    if (!Array.isArray(metrics) || metrics.some((m) => typeof m !== 'string')) return 'override needs "metrics": the list of failing metric ids it overrides';
  }
  return undefined;
}

function notWaitingFor(state: ExecutionState, what: string): RefusalReason {
  if (isTerminal(state.status)) return refusal(Refusal.NotWaiting, `execution ${state.id} has ended (${state.status}): nothing waits for ${what}`);
  const step = state.steps.find((s) => s.stepId === state.currentStepId);
  return refusal(Refusal.NotWaiting, `execution ${state.id} is not waiting for ${what}` + (step ? ` (current step: ${step.action}, ${step.status})` : ''));
}

/**
 * How names are compared: trimmed and case-folded (" Alice" is alice) in executions that carry an identity
 * configuration; exactly in older ones, whose histories decided that way.
 */
export function namesMatch(config: PipelineConfig): (a: string, b: string) => boolean {
  return config.trust ? sameName : (a, b) => a === b;
}

/** The approvers a decision may come from: configured approvers other than the one who started the execution. */
export function eligibleApprovers(state: ExecutionState, config: PipelineConfig): string[] {
  const same = namesMatch(config);
  return config.approval.approvers.map((a) => a.name).filter((name) => !same(name, state.user));
}

function approverProblem(state: ExecutionState, config: PipelineConfig, by: string): RefusalReason | undefined {
  const waiting = state.waiting!;
  const same = namesMatch(config);
  if (same(by, state.user)) return refusal(Refusal.Forbidden, `self-approval is not allowed: ${by} started execution ${state.id}`);
  if (waiting.approvedBy?.some((name) => same(name, by))) return refusal(Refusal.NotAllowedNow, `${by} has already approved; ${waiting.required} distinct approvals are needed`);
  if (waiting.action === 'managed') {
    const reviewers = config.approval.managedReview?.approvers ?? [];
    if (!reviewers.some((name) => same(name, by))) {
      return refusal(Refusal.Forbidden, `${by} is not a managed-review approver of pipeline ${state.pipelineId} (managed review: ${reviewers.join(', ')})`);
    }
    return undefined;
  }
  const approvers = config.approval.approvers;
  // A signed pipeline says who approves: without approvers, nobody may (a declared demo stays open to anyone).
  if (!approvers.length && config.trust?.model === 'signed') {
    return refusal(Refusal.Forbidden, `pipeline ${state.pipelineId} names no approvers: with signed decisions, approval.approvers must say who approves`);
  }
  if (approvers.length && !approvers.some((a) => same(a.name, by))) {
    return refusal(Refusal.Forbidden, `${by} is not an approver of pipeline ${state.pipelineId} (approvers: ${approvers.map((a) => a.name).join(', ')})`);
  }
  return undefined;
}

/**
 * Who may override a gate (codeQuality, securityTest, performanceTest) or reject at it: a user of the pipeline
 * holding one of that gate's `overrideRoles`.
 */
function overriderProblem(state: ExecutionState, config: PipelineConfig, by: string): RefusalReason | undefined {
  const action = state.waiting!.action;
  return roleProblem(config, by, { roles: overrideRolesOf(action, config), doing: `override ${OVERRIDE_GATES[action] ?? 'quality gates'}`, same: namesMatch(config) });
}

/** Who may cancel: the execution's starter, and the users holding one of `cancelRoles` (with the role rules). */
function cancellerProblem(state: ExecutionState, config: PipelineConfig, by: string): RefusalReason | undefined {
  const cancelRoles = config.trust?.cancelRoles;
  if (!cancelRoles || namesMatch(config)(by, state.user)) return undefined;
  return roleProblem(config, by, { roles: cancelRoles, doing: 'cancel executions', same: namesMatch(config) });
}

export function refusalReason(
  action: ExecutionAction, request: Record<string, unknown>, state: ExecutionState, config: PipelineConfig, nowMs: number,
): RefusalReason | undefined {
  const by = String(request.by);
  const waiting = state.waiting;
  switch (action) {
    case 'approve':
    case 'reject':
      if (!waiting?.accepts.includes(action)) return notWaitingFor(state, 'an approval decision');
      if (OVERRIDE_GATES[waiting.action]) return overriderProblem(state, config, by);
      return approverProblem(state, config, by);
    case 'schedule': {
      if (!waiting?.accepts.includes('schedule')) return notWaitingFor(state, 'a schedule');
      const approvers = config.approval.approvers;
      if (approvers.length && !approvers.some((a) => namesMatch(config)(a.name, by))) {
        return refusal(Refusal.Forbidden, `${by} may not schedule deployments of pipeline ${state.pipelineId} (allowed: ${approvers.map((a) => a.name).join(', ')})`);
      }
      if (typeof request.at === 'string') {
        const at = Date.parse(request.at);
        if (at <= nowMs) return refusal(Refusal.NotAllowedNow, `the time ${request.at} is in the past (now: ${new Date(nowMs).toISOString()}); use --now to deploy at once`);
        const limit = Date.parse(waiting.expiresAt);
        if (at > limit) return refusal(Refusal.NotAllowedNow, `the time ${request.at} is beyond the schedule step's waiting limit (${waiting.expiresAt})`);
      }
      return undefined;
    }
    case 'override': {
      if (!waiting?.accepts.includes('override')) return notWaitingFor(state, 'a quality gate override');
      const who = overriderProblem(state, config, by);
      if (who) return who;
      // Cloud Manager's rule: an override names every failing important metric, and nothing else.
      const failing = waiting.metrics ?? [];
      const listed = request.metrics as string[];
      const missing = failing.filter((m) => !listed.includes(m));
      if (missing.length) {
        return refusal(Refusal.InvalidRequest, `an override must list every failing important metric: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing (failing: ${failing.join(', ')})`);
      }
      const unknown = [...new Set(listed.filter((m) => !failing.includes(m)))];
      if (unknown.length) {
        return refusal(Refusal.InvalidRequest, `${unknown.join(', ')} ${unknown.length > 1 ? 'are not failing important metrics' : 'is not a failing important metric'} of execution ${state.id} (failing: ${failing.join(', ')})`);
      }
      return undefined;
    }
    case 'cancel':
      return cancelRefusal(state) ?? cancellerProblem(state, config, by);
  }
}

/** Milliseconds of a configured duration ('14 days', '90s', 500). */
export function durationMs(duration: string | number): number {
  return msToNumber(duration as never);
}
