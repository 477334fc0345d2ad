/**
 * What an insights request asks, in GitLab's DORA API terms, as the API's query string and the CLI's flags give it:
 * `metric`, `interval` (daily, monthly, all; default daily), `environment_tiers` (production, staging; default
 * production), `start_date` / `end_date` (default: the 90 days up to now), `rework_window` (default 24 hours).
 * A bad value is an InsightsQueryError naming the parameter and what it accepts.
 */
import { msToNumber } from '@temporalio/common/lib/time';
import {
  DEFAULT_REWORK_WINDOW_MS, DORA_INTERVALS, DORA_METRICS, ENVIRONMENT_TIERS, type DoraInterval, type DoraMetric,
  type EnvironmentTier, type InsightsQuery,
} from './insights';

export const DEFAULT_RANGE_DAYS = 90;
/** Daily points over more than this many days are refused: ask for monthly ones. */
const MAX_DAILY_DAYS = 366;
const DAY_MS = 86_400_000;

export class InsightsQueryError extends Error {}

export interface RawInsightsQuery {
  metric?: string; interval?: string; environment_tiers?: string; start_date?: string; end_date?: string; rework_window?: string;
}

function oneOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback?: T): T {
  if (value === undefined || value === '') {
    if (fallback !== undefined) return fallback;
    throw new InsightsQueryError(`${name} is required: one of ${allowed.join(', ')}`);
  }
  if (!allowed.includes(value as T)) throw new InsightsQueryError(`${name} must be one of ${allowed.join(', ')} (got ${value})`);
  return value as T;
}

function dateOf(name: string, value: string | undefined, fallback: Date): Date {
  if (value === undefined || value === '') return fallback;
  const parsed = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(parsed.getTime())) throw new InsightsQueryError(`${name} must be a date (2026-03-01) or a time (2026-03-01T12:00:00Z) (got ${value})`);
  return parsed;
}

function durationOf(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  try {
    const ms = msToNumber(/^\d+$/.test(value) ? Number(value) : value as never);
    if (ms > 0) return ms;
  } catch {
    // not a duration: said below
  }
  throw new InsightsQueryError(`${name} must be a duration such as "24 hours", "2d", "90m" (got ${value})`);
}

export function parseInsightsQuery(raw: RawInsightsQuery, now = new Date()): InsightsQuery {
  const metric: DoraMetric = oneOf('metric', raw.metric, DORA_METRICS);
  const interval: DoraInterval = oneOf('interval', raw.interval, DORA_INTERVALS, 'daily');
  const tier: EnvironmentTier = oneOf('environment_tiers', raw.environment_tiers, Object.keys(ENVIRONMENT_TIERS) as EnvironmentTier[], 'production');
  const end = dateOf('end_date', raw.end_date, now);
  const start = dateOf('start_date', raw.start_date, new Date(end.getTime() - DEFAULT_RANGE_DAYS * DAY_MS));
  if (start.getTime() >= end.getTime()) throw new InsightsQueryError(`start_date must be before end_date (${start.toISOString()} is not before ${end.toISOString()})`);
  if (interval === 'daily' && end.getTime() - start.getTime() > MAX_DAILY_DAYS * DAY_MS) {
    throw new InsightsQueryError(`daily points cover at most ${MAX_DAILY_DAYS} days: ask for interval=monthly or a shorter range`);
  }
  return { metric, interval, tier, start, end, reworkWindowMs: durationOf('rework_window', raw.rework_window, DEFAULT_REWORK_WINDOW_MS) };
}
