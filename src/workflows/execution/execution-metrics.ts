/**
 * What an execution counts for Prometheus, through the workflow's own metricMeter: the SDK hands each value to the
 * worker through a sink (no command, nothing in the history) and skips it while a history replays, so a worker that
 * replays an execution never counts it twice and old histories replay unchanged. The worker's Runtime exports them
 * on its Prometheus endpoint beside the SDK's own (src/observability/runtime-telemetry.ts). Every label is a closed
 * set (statuses, triggers, actions, environment types), never an id or a name.
 */
import { metricMeter } from '@temporalio/workflow';
import type { ExecutionState, PipelineConfig, StepState } from '../../shared/types';
import type { Metric } from './quality-gates';

const executionsStarted = () => metricMeter.createCounter('stagecoach_executions_started', undefined, 'Executions started, by trigger and mode');
const executionsEnded = () => metricMeter.createCounter('stagecoach_executions_ended', undefined, 'Executions ended, by outcome (their final status) and trigger');
const stepDuration = () => metricMeter.createHistogram('stagecoach_step_duration_seconds', 'float', 's', 'Steps from start to end, by action, environment type and final status');
const rolloutsEnded = () => metricMeter.createCounter('stagecoach_rollouts_ended', undefined, 'Deploy steps ended, by environment type, strategy and outcome');
const rollbacks = () => metricMeter.createCounter('stagecoach_rollbacks', undefined, 'Deploy steps that rolled back, by environment type and strategy');
const nodesDeployed = () => metricMeter.createCounter('stagecoach_nodes_deployed', undefined, 'Nodes on the new images after a finished rollout, by environment type and role');
const waitsOpened = () => metricMeter.createCounter('stagecoach_waits_opened', undefined, 'Waits for a person opened, by kind (the waiting step\'s action)');
const waitsClosed = () => metricMeter.createCounter('stagecoach_waits_closed', undefined, 'Waits for a person closed, by kind and outcome (decided, timed_out, cancelled)');
const gateVerdicts = () => metricMeter.createCounter('stagecoach_gate_verdicts', undefined, 'Gate steps ended, by gate and verdict (passed, overridden, failed, cancelled)');
const decisionsRefused = () => metricMeter.createCounter('stagecoach_decisions_refused', undefined, 'Decisions refused, by action and how they came (signal or update)');

/** The steps whose end is a gate verdict. */
const GATES = new Set<StepState['action']>(['codeQuality', 'securityTest', 'performanceTest']);

export function countExecutionStarted(state: ExecutionState): void {
  executionsStarted().add(1, { trigger: state.trigger, mode: state.mode });
}

export function countExecutionEnded(state: ExecutionState): void {
  executionsEnded().add(1, { outcome: state.status, trigger: state.trigger });
}

/** One step's end: its duration and, for a deploy step or a gate, what the rollout or the gate came to. */
export function countStepEnded(state: ExecutionState, step: StepState, config: PipelineConfig): void {
  const environmentType = step.environmentType ?? 'none';
  if (step.startedAt && step.finishedAt) {
    const seconds = Math.max(0, (Date.parse(step.finishedAt) - Date.parse(step.startedAt)) / 1000);
    stepDuration().record(seconds, { action: step.action, environment_type: environmentType, status: step.status });
  }
  if (step.action === 'deploy' && step.environmentType) {
    const rollout = state.rollouts[step.environmentType];
    const strategy = config.environments[step.environmentType]?.strategy ?? 'rolling';
    rolloutsEnded().add(1, { environment_type: environmentType, strategy, outcome: step.status });
    if (step.status === 'ROLLED_BACK') rollbacks().add(1, { environment_type: environmentType, strategy });
    if (step.status === 'FINISHED') {
      for (const node of rollout?.nodes ?? []) nodesDeployed().add(1, { environment_type: environmentType, role: node.role });
    }
  }
  if (GATES.has(step.action) && !step.details.skipped) gateVerdicts().add(1, { gate: step.action, verdict: gateVerdict(step) });
}

function gateVerdict(step: StepState): string {
  if (step.status !== 'FINISHED') return step.status === 'FAILED' ? 'failed' : 'cancelled';
  const metrics = Array.isArray(step.details.metrics) ? step.details.metrics as Metric[] : [];
  return metrics.some((m) => m.override) ? 'overridden' : 'passed';
}

export function countWaitOpened(step: StepState): void {
  waitsOpened().add(1, { kind: step.action });
}

/** `decided`: true when the wait's condition came true, false at its limit, undefined when it was cancelled. */
export function countWaitClosed(step: StepState, decided: boolean | undefined): void {
  waitsClosed().add(1, { kind: step.action, outcome: decided === undefined ? 'cancelled' : decided ? 'decided' : 'timed_out' });
}

export function countDecisionRefused(action: string, via: 'signal' | 'update'): void {
  decisionsRefused().add(1, { action, via });
}
