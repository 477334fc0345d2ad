/**
 * `stagecoach insights [<pipeline>]`: the five DORA figures over a range, from the executions' own histories
 * (src/observability/insights.ts says how each is counted), with the executions each came from.
 */
import { DORA_METRICS, doraMetric, type Contribution, type DoraMetric, type InsightsQuery } from '../../observability/insights';
import { InsightsQueryError, parseInsightsQuery } from '../../observability/insights-query';
import { executionsForInsights } from '../../observability/insights-source';
import { EXIT, UsageError } from '../errors';
import { table } from '../format';
import { jsonFlag, type Command, type Values } from './command';
import { out, str, withStagecoach } from './context';

const DAY_MS = 86_400_000;
/** The API's parameter names in a refusal, said as this command's flags. */
const FLAG_OF_PARAMETER = { start_date: '--since', end_date: '--until', environment_tiers: '--tier', rework_window: '--rework-window' };

/** `--since 30d` (days before now), a date or a time. */
function sinceOf(value: string | undefined, now: Date): string | undefined {
  const days = value !== undefined ? /^(\d+)d$/.exec(value) : null;
  return days ? new Date(now.getTime() - Number(days[1]) * DAY_MS).toISOString() : value;
}

function describe(metric: DoraMetric, value: number | null, contributions: Contribution[]): string {
  if (value === null) return 'no data';
  switch (metric) {
    case 'deployment_frequency': return `${value} deployment(s)`;
    case 'lead_time_for_changes':
    case 'time_to_restore_service': return `median ${formatSeconds(value)} (${contributions.length} measured)`;
    default: return `${Math.round(value * 1000) / 10}% (${contributions.filter((c) => c.failed || c.rework).length} of ${contributions.length})`;
  }
}

function formatSeconds(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${Math.round(seconds / 360) / 10} h`;
  return `${Math.round(seconds / 8640) / 10} d`;
}

async function insights(values: Values, [pipelineId]: string[]): Promise<number> {
  const now = new Date();
  let base: InsightsQuery;
  try {
    base = parseInsightsQuery({
      metric: DORA_METRICS[0], interval: 'all', environment_tiers: str(values, 'tier'), start_date: sinceOf(str(values, 'since'), now),
      end_date: str(values, 'until'), rework_window: str(values, 'rework-window'),
    }, now);
  } catch (err) {
    if (err instanceof InsightsQueryError) {
      const message = Object.entries(FLAG_OF_PARAMETER).reduce((m, [parameter, flag]) => m.replaceAll(parameter, flag), err.message);
      throw new UsageError(`insights: ${message}`, 'insights');
    }
    throw err;
  }
  return withStagecoach('no insights were read', async (sc) => {
    const executions = await executionsForInsights(sc.client, { ...(pipelineId ? { pipelineId } : {}), from: base.start });
    const figures = DORA_METRICS.map((metric) => ({ metric, ...doraMetric(executions, { ...base, metric })[0] }));
    if (values.json === true) {
      out(JSON.stringify({ pipeline: pipelineId ?? null, tier: base.tier, start: base.start.toISOString(), end: base.end.toISOString(), figures }, null, 2));
      return EXIT.ok;
    }
    out(`${pipelineId ? `pipeline ${pipelineId}` : 'every pipeline'}, ${base.tier}, ${base.start.toISOString()} to ${base.end.toISOString()} (${executions.length} executions read)`);
    table(['metric', 'value', 'from executions'], figures.map((f) => [
      f.metric, describe(f.metric, f.value, f.executions), f.executions.map((c) => `${pipelineId ? '' : `${c.pipelineId}/`}${c.executionId}`).join(' ') || '-',
    ])).forEach((l) => out(l));
    return EXIT.ok;
  });
}

export const insightsCommand: Command = {
  name: 'insights',
  summary: 'delivery figures (DORA): deployment frequency, lead time, change failure rate, time to restore, rework rate',
  details: [
    'Computed from the executions\' histories; each figure lists the executions it came from. Daily and monthly points: the',
    'API\'s GET /api/program/1/dora/metrics (docs/operations.md, "Insights").',
  ],
  positionals: [{ name: 'pipeline', description: 'one pipeline (default: every pipeline)', optional: true }],
  flags: [
    { name: 'since', type: 'string', value: 'WHEN', description: 'the range\'s start: a date, a time, or 30d for 30 days ago (default 90d)' },
    { name: 'until', type: 'string', value: 'DATE', description: 'the range\'s end, exclusive (default now)' },
    { name: 'tier', type: 'string', value: 'TIER', description: 'the environment: production (default) or staging' },
    { name: 'rework-window', type: 'string', value: 'DURATION', description: 'how soon a re-execution or emergency execution counts as rework (default 24 hours)' },
    jsonFlag,
  ],
  examples: ['./bin/stagecoach insights sample --since 30d', './bin/stagecoach insights --since 2026-01-01 --tier staging --json'],
  run: insights,
};
