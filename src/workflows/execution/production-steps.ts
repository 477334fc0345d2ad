/** The production phase's waits before the rollout: the approval, the managed review and the schedule. */
import { eligibleApprovers, namesMatch } from './message-rules';
import { StopExecution, type ApprovalDecision, type StepRunner } from './step-context';

/**
 * approval and managed (Cloud Manager's managed review): wait for the required number of distinct approvals from
 * those allowed, or one reject. The one who started the execution never approves it.
 */
export const approvalStep = (which: 'approval' | 'managed'): StepRunner => async (ctx, step) => {
  const { config, state } = ctx;
  const managed = config.approval.managedReview;
  const timeout = which === 'approval' ? config.approval.timeout : managed!.timeout;
  // `?? 1`: executions started before `required` existed carry configs without it (replay must agree).
  const required = which === 'approval' ? config.approval.required ?? 1 : 1;
  const allowed = which === 'approval' ? eligibleApprovers(state, config) : managed!.approvers.filter((n) => !namesMatch(config)(n, state.user));
  const decision: ApprovalDecision = { approvedBy: [] };
  ctx.decisions.approvals[step.stepId] = decision;
  const decided = await ctx.wait(step, { accepts: ['approve', 'reject', 'cancel'], allowed, approvedBy: decision.approvedBy, required },
    timeout, () => decision.rejected !== undefined || decision.approvedBy.length >= required);
  const what = which === 'approval' ? 'approval' : 'managed review';
  if (!decided) {
    throw new StopExecution('CANCELLED', 'CANCELLED',
      `no ${what} decision within ${timeout}` + (decision.approvedBy.length ? ` (${decision.approvedBy.length} of ${required} approvals)` : '') + `: the ${what} timed out`);
  }
  if (decision.rejected) {
    const { by, reason } = decision.rejected;
    step.details = { summary: `rejected by ${by}`, decision: 'rejected', by, reason };
    throw new StopExecution('CANCELLED', 'CANCELLED', `${which === 'approval' ? '' : 'managed review '}rejected by ${by}${reason ? `: ${reason}` : ''}`);
  }
  step.details = {
    summary: `approved by ${decision.approvedBy.join(', ')}`, decision: 'approved', by: decision.approvedBy.join(', '),
    approvedBy: decision.approvedBy, required,
  };
};

export const schedule: StepRunner = async (ctx, step) => {
  const allowed = ctx.config.approval.approvers.map((a) => a.name);
  const got = await ctx.wait(step, { accepts: ['schedule', 'cancel'], allowed }, ctx.config.schedule.timeout,
    () => ctx.decisions.schedule !== undefined);
  if (!got) throw new StopExecution('CANCELLED', 'CANCELLED', `no schedule within ${ctx.config.schedule.timeout}: the schedule step timed out`);
  // A durable timer until the scheduled time; a new `schedule` while it runs replaces it. Rescheduling stays bound
  // by the step's original waiting limit.
  const limit = ctx.state.waiting?.expiresAt ?? new Date(ctx.nowMs()).toISOString();
  for (;;) {
    const request = ctx.decisions.schedule!;
    const version = request.version;
    const at = request.now ? ctx.nowMs() : Date.parse(request.at!);
    step.details = { summary: request.now ? `deploy now (by ${request.by})` : `scheduled for ${request.at} by ${request.by}`, scheduledBy: request.by, scheduledAt: new Date(at).toISOString() };
    const delay = at - ctx.nowMs();
    if (delay <= 0) return;
    const rescheduled = await ctx.wait(step, { accepts: ['schedule', 'cancel'], allowed, scheduledAt: new Date(at).toISOString() }, delay,
      () => ctx.decisions.schedule!.version !== version, limit);
    if (!rescheduled) return;
  }
};
