/** The override wait of a gate's important failures, shared by the quality gate and the Stage gates. */
import type { DurationSpec } from '../../shared/duration';
import type { StepState } from '../../shared/types';
import { describeMetric, type Metric } from './quality-gates';
import { usersHolding } from './roles';
import { StopExecution, type ApprovalDecision, type StepContext } from './step-context';

/**
 * A gate's important failures (codeQuality, securityTest, performanceTest): wait, with the gate's own limit, for an
 * `override` listing every failing important metric by an approver holding one of the gate's roles, or a reject.
 * A reject or the limit ends the execution (CANCELLED) with the reason; an override marks the metrics overridden.
 */
export async function awaitOverride(ctx: StepContext, step: StepState, gate: {
  gate: string; noun: 'metric' | 'check'; metrics: Metric[]; important: Metric[]; roles: string[]; timeout: DurationSpec; note?: string;
}): Promise<void> {
  const { important, metrics, timeout, note = '' } = gate;
  const list = important.map(describeMetric).join('; ');
  const ids = important.map((m) => m.kpi);
  const allowed = usersHolding(ctx.config, gate.roles);
  const decision: ApprovalDecision = { approvedBy: [] };
  ctx.decisions.approvals[step.stepId] = decision;
  ctx.decisions.override = undefined;
  step.details.summary = `important ${gate.noun}(s) failed: ${list}; waiting for an override of ${ids.join(', ')} or a reject${note}`;
  const decided = await ctx.wait(step, { accepts: ['override', 'reject', 'cancel'], allowed, metrics: ids }, timeout,
    () => decision.rejected !== undefined || ctx.decisions.override !== undefined);
  if (!decided) {
    throw new StopExecution('CANCELLED', 'CANCELLED', `no override within ${timeout}: the ${gate.gate} timed out (failing: ${ids.join(', ')})`);
  }
  if (decision.rejected) {
    const { by, reason } = decision.rejected;
    step.details.decision = 'rejected';
    throw new StopExecution('CANCELLED', 'CANCELLED', `${gate.gate} rejected by ${by}${reason ? `: ${reason}` : ''} (failing: ${ids.join(', ')})`);
  }
  const override = ctx.decisions.override!;
  for (const m of metrics) if (!m.passed && override.metrics.includes(m.kpi)) m.override = true;
  Object.assign(step.details, {
    summary: `important ${gate.noun}(s) overridden by ${override.by}: ${list}${note}`,
    decision: 'overridden', overriddenBy: override.by, overriddenAt: override.at,
  });
}
