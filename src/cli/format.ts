/**
 * Pure formatting for the `stagecoach` CLI: state objects in, lines of text out. No I/O, no clock of its own (the
 * current time is a parameter), so every function here can be unit-tested.
 */
import type {
  AuditEntry, ExecutionState, ExecutionSummary, PipelineState, StepState, WaitingState,
} from '../shared/types';
import { stepLabel } from '../client/artifact-refs';

export const DEFAULT_WEB_UI = 'http://127.0.0.1:8233';

export interface FormatOptions {
  /** Base URL of the Temporal Web UI (default http://127.0.0.1:8233). */
  webUi?: string;
  namespace?: string;
  /** Render times in UTC instead of the local time zone (tests). */
  utc?: boolean;
}

/** The Web UI page of one workflow. */
export function webUiWorkflowUrl(workflowId: string, opts: FormatOptions = {}): string {
  const base = (opts.webUi ?? DEFAULT_WEB_UI).replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(opts.namespace ?? 'default')}/workflows/${encodeURIComponent(workflowId)}`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** `hh:mm:ss` of a time (local, or UTC). */
export function formatClock(at: Date | string | number, utc = false): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '--:--:--';
  return utc
    ? `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`
    : `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** `YYYY-MM-DD hh:mm:ss` of an ISO time (local, or UTC); empty for undefined. */
export function formatDateTime(iso: string | undefined, utc = false): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const date = utc
    ? `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`
    : `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  return `${date} ${formatClock(d, utc)}`;
}

/** A duration in words: `45 s`, `12 min`, `3 h 5 min`, `13 d 23 h`; `0 s` for negative values. */
export function formatDuration(ms: number): string {
  if (!(ms > 0)) return '0 s';
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return seconds % 60 && minutes < 10 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** Aligns rows under headers, two spaces between columns; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells
    .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
    .join('  ')
    .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

export function stepSummary(step: StepState): string {
  const summary = step.details?.summary;
  return typeof summary === 'string' ? summary : '';
}

/** `deploy stage` / `build`: the step's action and, for deployments, its environment. */
/** One line of `--follow` output: `[hh:mm:ss] <action> <env?> <STATUS> — <summary>`. */
export function stepChangeLine(step: StepState, at: Date | string | number, utc = false): string {
  const summary = stepSummary(step);
  return `[${formatClock(at, utc)}] ${stepLabel(step)} ${step.status}${summary ? ` — ${summary}` : ''}`;
}

/** `approval`, or `deploy (step deploy-prod)` when the step id says more than the action. */
function stepOfWaiting(waiting: WaitingState): string {
  return waiting.stepId === waiting.action ? waiting.action : `${waiting.action} (step ${waiting.stepId})`;
}

/** Who may answer a wait, in words. */
function waitingWho(waiting: WaitingState): string {
  return waiting.allowed.length ? waiting.allowed.join(', ') : 'anyone';
}

/** What an execution waits for, in one line: the step, the accepted messages, who may send them, the deadline. */
export function waitingLine(waiting: WaitingState, nowMs: number, utc = false): string {
  const left = formatDuration(Date.parse(waiting.expiresAt) - nowMs);
  const timer = waiting.scheduledAt
    ? `; deploys at ${formatDateTime(waiting.scheduledAt, utc)} (in ${formatDuration(Date.parse(waiting.scheduledAt) - nowMs)})`
    : '';
  return `waiting at ${stepOfWaiting(waiting)} for ${waiting.accepts.join(' / ') || 'nothing'} by ${waitingWho(waiting)}; ` +
    `expires ${formatDateTime(waiting.expiresAt, utc)} (${left} left)${timer}`;
}

/** Remembers each step's last status and answers the steps whose status changed since the last call. */
export class StepChangeTracker {
  private readonly seen = new Map<string, string>();

  changes(state: ExecutionState): StepState[] {
    const changed: StepState[] = [];
    for (const step of state.steps) {
      const before = this.seen.get(step.stepId) ?? 'NOT_STARTED';
      if (step.status !== before) changed.push(step);
      this.seen.set(step.stepId, step.status);
    }
    return changed;
  }
}

/** One audit entry; who decided as the execution knew them: "alice (signed)", "alice, via the API", "bob (declared)". */
function auditLine(entry: AuditEntry, utc: boolean): string {
  const extra = entry.reason ? ` — ${entry.reason}` : '';
  const who = entry.outcome === 'accepted' && entry.label ? entry.label : entry.trustModel ? `${entry.by} (${entry.trustModel})` : entry.by;
  return `${formatDateTime(entry.at, utc)}  ${entry.action} by ${who} (${entry.via}): ${entry.outcome}${extra}`;
}

/** Everything `stagecoach status <pipeline> <execution>` shows. */
export function executionStateLines(
  state: ExecutionState, workflowId: string, nowMs: number, opts: FormatOptions & { auditEntries?: number } = {},
): string[] {
  const utc = opts.utc ?? false;
  const lines: string[] = [
    `Execution ${state.id} of pipeline ${state.pipelineId}: ${state.status}`,
    `  trigger ${state.trigger} · mode ${state.mode} · started by ${state.user} · type ${state.pipelineType}`,
    `  commit  ${state.commitId ?? '(not resolved yet)'} on ${state.branch} (${state.repository})`,
  ];
  if (state.artifacts?.version) lines.push(`  version ${state.artifacts.version}`);
  lines.push(`  created ${formatDateTime(state.createdAt, utc)}` +
    (state.finishedAt ? ` · finished ${formatDateTime(state.finishedAt, utc)}` : ` · updated ${formatDateTime(state.updatedAt, utc)}`));
  if (state.reExecutionOf) lines.push(`  re-execution of ${state.reExecutionOf}`);
  if (state.reason) lines.push(`  reason: ${state.reason}`);
  if (state.waiting) {
    const w = state.waiting;
    lines.push('', `Waiting at ${stepOfWaiting(w)} since ${formatDateTime(w.since, utc)}`,
      `  accepts    ${w.accepts.join(', ') || '(nothing)'}`,
      `  who        ${waitingWho(w)}`,
      `  expires    ${formatDateTime(w.expiresAt, utc)} (${formatDuration(Date.parse(w.expiresAt) - nowMs)} left)`);
    if (w.scheduledAt) lines.push(`  deploys at ${formatDateTime(w.scheduledAt, utc)} (in ${formatDuration(Date.parse(w.scheduledAt) - nowMs)})`);
    // A gate (codeQuality, securityTest, performanceTest): what an override must list, every one of them.
    if (w.metrics?.length) lines.push(`  failing    ${w.metrics.join(', ')} (an override lists them all)`);
  }
  lines.push('', 'URLs', `  Web UI  ${webUiWorkflowUrl(workflowId, opts)}`);
  for (const [env, url] of Object.entries(state.urls ?? {})) if (url) lines.push(`  ${env.padEnd(6)}  ${url}`);
  lines.push('', ...table(
    ['phase', 'action', 'env', 'status', 'started', 'finished', 'summary'],
    state.steps.map((s) => [
      s.phaseId, s.action, s.environment ?? '', s.status, formatDateTime(s.startedAt, utc), formatDateTime(s.finishedAt, utc), stepSummary(s),
    ]),
  ));
  const count = opts.auditEntries ?? 8;
  const audit = (state.audit ?? []).slice(-count);
  if (audit.length) {
    lines.push('', `Audit (last ${audit.length} of ${state.audit.length})`, ...audit.map((e) => `  ${auditLine(e, utc)}`));
  }
  return lines;
}

function summaryRow(e: ExecutionSummary, utc: boolean): string[] {
  return [
    e.id, e.status, e.trigger, e.user, formatDateTime(e.createdAt, utc), formatDateTime(e.finishedAt, utc),
    e.prodDeployStatus ?? '', e.artifacts?.version ?? '', e.commitId ? e.commitId.slice(0, 12) : '',
  ];
}

/** Everything `stagecoach status <pipeline>` shows: the running execution and the recent ones, newest first. */
export function pipelineStateLines(state: PipelineState, opts: FormatOptions & { limit?: number } = {}): string[] {
  const utc = opts.utc ?? false;
  const lines: string[] = [`Pipeline ${state.pipelineId}`];
  if (state.running) {
    const r = state.running;
    lines.push(`  running: execution ${r.id} (${r.status}, ${r.trigger}, started by ${r.user} at ${formatDateTime(r.createdAt, utc)})`,
      `  Web UI:  ${webUiWorkflowUrl(r.workflowId, opts)}`);
  } else {
    lines.push('  idle: no execution is running');
  }
  const recent = [...state.executions].reverse().slice(0, opts.limit ?? 10);
  if (recent.length) {
    lines.push('', `Recent executions (${recent.length} of ${state.executions.length}, newest first)`, ...table(
      ['id', 'status', 'trigger', 'by', 'created', 'finished', 'prod deploy', 'version', 'commit'],
      recent.map((e) => summaryRow(e, utc)),
    ));
  } else if (!state.running) {
    lines.push('  no executions yet');
  }
  return lines;
}
