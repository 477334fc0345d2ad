/**
 * Delivery insights, the DORA figures, from the executions' own state (what their histories hold): pure, so every
 * figure can be checked by hand. The shape follows GitLab's DORA metrics API (metric, interval daily / monthly / all,
 * environment tier, `[{date, value}]`), and each point lists the executions it was computed from.
 *
 * A deployment is an execution's deploy step to the tier's environment that ended: succeeded (FINISHED) or failed
 * (FAILED, ERROR, ROLLED_BACK); one cancelled before it touched a node is neither. It counts at the time it ended.
 * A deployment is rework when its execution is a re-execution (RE_EXECUTE) or an emergency one (EMERGENCY, the
 * hotfix mode) and it started within the rework window after the pipeline's previous deployment to that tier.
 */
import type { ExecutionState, StepStatus } from '../shared/types';

export const DORA_METRICS = ['deployment_frequency', 'lead_time_for_changes', 'change_failure_rate', 'time_to_restore_service', 'rework_rate'] as const;
export type DoraMetric = (typeof DORA_METRICS)[number];
export const DORA_INTERVALS = ['daily', 'monthly', 'all'] as const;
export type DoraInterval = (typeof DORA_INTERVALS)[number];
/** GitLab's tier names, and the environment each means here. */
export const ENVIRONMENT_TIERS = { production: 'prod', staging: 'stage' } as const;
export type EnvironmentTier = keyof typeof ENVIRONMENT_TIERS;

export const DEFAULT_REWORK_WINDOW_MS = 24 * 3600_000;

export interface InsightsQuery {
  metric: DoraMetric;
  interval: DoraInterval;
  tier: EnvironmentTier;
  /** The range: deployments that ended in [start, end). */
  start: Date;
  end: Date;
  reworkWindowMs?: number;
}

/** One execution behind a point, and what it contributed (seconds, or whether it failed or was rework). */
export interface Contribution {
  pipelineId: string;
  executionId: string;
  status: StepStatus;
  endedAt: string;
  seconds?: number;
  failed?: boolean;
  rework?: boolean;
  /** Why a deployment counts as a failed change: its own status, or the rework deployment that followed it. */
  why?: string;
  /** For time to restore: the deployment that restored it. */
  restoredBy?: string;
}

export interface DoraPoint {
  /** The bucket's first day (YYYY-MM-DD); for `all`, the range's start. */
  date: string;
  /** Count (deployment_frequency), median seconds (lead time, time to restore), ratio 0..1 (rates); null without data. */
  value: number | null;
  executions: Contribution[];
}

interface Deployment {
  pipelineId: string;
  executionId: string;
  status: StepStatus;
  startedMs: number;
  endedMs: number;
  endedAt: string;
  commitMs?: number;
  reworkCandidate: boolean;
  failed: boolean;
}

const FAILED: readonly StepStatus[] = ['FAILED', 'ERROR', 'ROLLED_BACK'];

/** The tier's deployments of these executions, per pipeline in the order they ended. */
function deploymentsOf(executions: ExecutionState[], tier: EnvironmentTier): Map<string, Deployment[]> {
  const byPipeline = new Map<string, Deployment[]>();
  for (const e of executions) {
    const step = e.steps.find((s) => s.action === 'deploy' && s.environmentType === ENVIRONMENT_TIERS[tier]);
    if (!step?.startedAt || !step.finishedAt || !(step.status === 'FINISHED' || FAILED.includes(step.status))) continue;
    const list = byPipeline.get(e.pipelineId) ?? [];
    list.push({
      pipelineId: e.pipelineId, executionId: e.id, status: step.status,
      startedMs: Date.parse(step.startedAt), endedMs: Date.parse(step.finishedAt), endedAt: step.finishedAt,
      ...(e.commitTime ? { commitMs: Date.parse(e.commitTime) } : {}),
      reworkCandidate: e.trigger === 'RE_EXECUTE' || e.mode === 'EMERGENCY',
      failed: step.status !== 'FINISHED',
    });
    byPipeline.set(e.pipelineId, list);
  }
  for (const list of byPipeline.values()) list.sort((a, b) => a.endedMs - b.endedMs);
  return byPipeline;
}

const median = (values: number[]): number | null => {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The buckets of the range: each day, each month, or the whole range. */
function bucketsOf(query: InsightsQuery): string[] {
  if (query.interval === 'all') return [day(query.start.getTime())];
  const buckets: string[] = [];
  const cursor = new Date(Date.UTC(query.start.getUTCFullYear(), query.start.getUTCMonth(), query.interval === 'daily' ? query.start.getUTCDate() : 1));
  while (cursor.getTime() < query.end.getTime() && buckets.length < 1000) {
    buckets.push(day(cursor.getTime()));
    if (query.interval === 'daily') cursor.setUTCDate(cursor.getUTCDate() + 1);
    else cursor.setUTCMonth(cursor.getUTCMonth() + 1);
  }
  return buckets;
}

function bucketOf(ms: number, query: InsightsQuery): string {
  if (query.interval === 'all') return day(query.start.getTime());
  return query.interval === 'daily' ? day(ms) : `${day(ms).slice(0, 7)}-01`;
}

const ref = (d: Deployment) => `${d.pipelineId}/${d.executionId}`;
const base = (d: Deployment): Contribution => ({ pipelineId: d.pipelineId, executionId: d.executionId, status: d.status, endedAt: d.endedAt });

/** Every deployment's contribution to `metric`, each with the time it is counted at; undefined: it does not count. */
function contributions(list: Deployment[], metric: DoraMetric, windowMs: number): Array<{ at: number; c: Contribution }> {
  const isRework = (d: Deployment, i: number) => d.reworkCandidate && i > 0 && d.startedMs - list[i - 1].endedMs <= windowMs;
  const out: Array<{ at: number; c: Contribution }> = [];
  list.forEach((d, i) => {
    switch (metric) {
      case 'deployment_frequency':
        if (!d.failed) out.push({ at: d.endedMs, c: base(d) });
        break;
      case 'lead_time_for_changes':
        if (!d.failed && d.commitMs !== undefined) out.push({ at: d.endedMs, c: { ...base(d), seconds: (d.endedMs - d.commitMs) / 1000 } });
        break;
      case 'change_failure_rate': {
        const next = list[i + 1];
        const reworked = !d.failed && next !== undefined && isRework(next, i + 1);
        const why = d.failed ? d.status : reworked ? `followed by rework ${ref(next)}` : undefined;
        out.push({ at: d.endedMs, c: { ...base(d), failed: d.failed || reworked, ...(why ? { why } : {}) } });
        break;
      }
      case 'time_to_restore_service': {
        // An incident opens at a failure after a success (or at the first deployment) and closes at the next success.
        if (!d.failed || (i > 0 && list[i - 1].failed)) break;
        const restored = list.slice(i + 1).find((later) => !later.failed);
        if (restored) out.push({ at: d.endedMs, c: { ...base(d), seconds: (restored.endedMs - d.endedMs) / 1000, restoredBy: ref(restored) } });
        break;
      }
      case 'rework_rate':
        out.push({ at: d.endedMs, c: { ...base(d), rework: isRework(d, i) } });
        break;
    }
  });
  return out;
}

function valueOf(metric: DoraMetric, items: Contribution[]): number | null {
  switch (metric) {
    case 'deployment_frequency': return items.length;
    case 'lead_time_for_changes':
    case 'time_to_restore_service': return median(items.map((c) => c.seconds!));
    case 'change_failure_rate': return items.length ? items.filter((c) => c.failed).length / items.length : null;
    case 'rework_rate': return items.length ? items.filter((c) => c.rework).length / items.length : null;
  }
}

/** The metric over the range, one point per bucket, each with the executions behind it. */
export function doraMetric(executions: ExecutionState[], query: InsightsQuery): DoraPoint[] {
  const windowMs = query.reworkWindowMs ?? DEFAULT_REWORK_WINDOW_MS;
  const points = new Map(bucketsOf(query).map((date) => [date, [] as Contribution[]]));
  for (const list of deploymentsOf(executions, query.tier).values()) {
    for (const { at, c } of contributions(list, query.metric, windowMs)) {
      if (at < query.start.getTime() || at >= query.end.getTime()) continue;
      points.get(bucketOf(at, query))?.push(c);
    }
  }
  return [...points].map(([date, items]) => ({ date, value: valueOf(query.metric, items), executions: items }));
}
