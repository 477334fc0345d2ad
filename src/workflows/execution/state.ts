/** The execution's state object (what the `state` query returns) and pure helpers over it. */
import type { StepDefinition } from '../../shared/steps';
import { isConfigured, stepsFor } from '../../shared/steps';
import type {
  AuditEntry, ExecutionMode, ExecutionState, ExecutionStatus, PipelineConfig, StepState, Trigger, WaitingState,
} from '../../shared/types';
import { appendAuditEntry } from '../audit-log';

export interface ExecutionInput {
  pipelineId: string;
  executionId: string;
  trigger: Trigger;
  mode: ExecutionMode;
  /** Who started it. */
  user: string;
  config: PipelineConfig;
  /** For PUSH_UPGRADES: the commit in Production, rebuilt on the updated base image. */
  pinnedCommit?: string;
  /** For RE_EXECUTE: the execution whose artifacts are deployed again. */
  reExecuteOf?: { executionId: string; artifacts: ExecutionState['artifacts']; commitId?: string };
}

export interface ExecutionResult {
  status: ExecutionStatus;
  reason?: string;
  state: ExecutionState;
}

export function initialState(input: ExecutionInput, now: string): ExecutionState {
  const definitions = stepsFor(input.config.type, input.trigger);
  return {
    id: input.executionId,
    pipelineId: input.pipelineId,
    pipelineType: input.config.type,
    status: 'NOT_STARTED',
    trigger: input.trigger,
    mode: input.mode,
    user: input.user,
    createdAt: now,
    updatedAt: now,
    repository: input.config.repository,
    branch: input.config.branch,
    commitId: input.reExecuteOf?.commitId,
    steps: definitions
      .filter((d) => isConfigured(d, input.config))
      .map((d, i) => toStepState(d, i, input.config)),
    artifacts: { reports: [] },
    rollouts: {},
    urls: {},
    audit: [],
    reExecutionOf: input.reExecuteOf?.executionId,
  };
}

function toStepState(definition: StepDefinition, index: number, config: PipelineConfig): StepState {
  const environment = definition.environmentType ? config.environments[definition.environmentType] : undefined;
  return {
    id: String(index + 1),
    stepId: definition.stepId,
    phaseId: definition.phaseId,
    action: definition.action,
    environment: environment?.name,
    environmentType: definition.environmentType,
    status: 'NOT_STARTED',
    details: {},
  };
}

export function definitionOf(state: ExecutionState, step: StepState): StepDefinition {
  const found = stepsFor(state.pipelineType, state.trigger).find((d) => d.stepId === step.stepId);
  if (!found) throw new Error(`no definition for step ${step.stepId}`);
  return found;
}

export function currentStep(state: ExecutionState): StepState | undefined {
  return state.steps.find((s) => s.stepId === state.currentStepId);
}

export function stepOf(state: ExecutionState, stepId: string): StepState | undefined {
  return state.steps.find((s) => s.stepId === stepId);
}

/** Every decision is kept; refusals are bounded per sender (audit-log.ts). */
export function appendAudit(state: ExecutionState, entry: AuditEntry): void {
  appendAuditEntry(state, entry);
}

function formatRemaining(ms: number): string {
  if (ms <= 0) return 'now';
  const minutes = Math.floor(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes % 60} min`;
  return minutes > 0 ? `${minutes} min` : `${Math.ceil(ms / 1000)} s`;
}

export function describeWaiting(waiting: WaitingState, nowMs: number): string {
  const who = waiting.allowed.length ? waiting.allowed.join(', ') : 'anyone';
  const left = formatRemaining(Date.parse(waiting.expiresAt) - nowMs);
  const timer = waiting.scheduledAt ? `; deploys at ${waiting.scheduledAt} (in ${formatRemaining(Date.parse(waiting.scheduledAt) - nowMs)})` : '';
  const failing = waiting.metrics?.length ? `; an override lists ${waiting.metrics.join(', ')}` : '';
  return `Waiting at **${waiting.stepId}** for ${waiting.accepts.join(' / ')} by ${who}; expires ${waiting.expiresAt} (${left} left)${timer}${failing}`;
}

/** The Markdown shown as the workflow's current details in the Web UI: status, waiting step, steps table. */
export function renderDetails(state: ExecutionState, nowMs: number): string {
  const lines = [
    `**Pipeline** ${state.pipelineId} · **execution** ${state.id} · **status** ${state.status} · **trigger** ${state.trigger}` +
      ` · **mode** ${state.mode} · **started by** ${state.user}`,
    `**Commit** ${state.commitId ?? '(not resolved yet)'} on ${state.branch}` +
      (state.artifacts.version ? ` · **version** ${state.artifacts.version}` : ''),
  ];
  if (state.mode === 'EMERGENCY') {
    const skipped = state.steps.filter((s) => stepsFor(state.pipelineType, state.trigger).find((d) => d.stepId === s.stepId)?.skippedIn?.includes('EMERGENCY'));
    lines.push('', `**Emergency mode:** skips ${skipped.map((s) => s.action).join(', ') || 'nothing in this pipeline'}; never the approval`);
  }
  if (state.waiting) lines.push('', describeWaiting(state.waiting, nowMs));
  if (state.reason) lines.push('', `**Reason:** ${state.reason}`);
  lines.push('', '| phase | step | environment | status | started | finished | details |', '| --- | --- | --- | --- | --- | --- | --- |');
  for (const step of state.steps) {
    const summary = typeof step.details.summary === 'string' ? step.details.summary.replaceAll('|', '\\|') : '';
    lines.push(`| ${step.phaseId} | ${step.action} | ${step.environment ?? ''} | ${step.status} | ${step.startedAt ?? ''} | ${step.finishedAt ?? ''} | ${summary} |`);
  }
  const urls = Object.entries(state.urls).map(([env, url]) => `${env}: ${url}`);
  if (urls.length) lines.push('', `**URLs** ${urls.join(' · ')}`);
  return lines.join('\n');
}
