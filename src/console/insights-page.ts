/**
 * A pipeline's delivery insights in the console: the five DORA figures over a range, each with a chart of its daily
 * points and the executions it was computed from. The numbers are the API's own (GET .../dora/metrics, interval
 * `all` for the figure, `daily` for the chart); the page only formats them.
 */
import { html, type Html } from './html';
import { consolePaths } from './paths';

/** The API's metric names, in the order the page shows them, with how a value reads. */
export const INSIGHTS_METRICS = [
  { metric: 'deployment_frequency', title: 'Deployment frequency', unit: 'count', explain: 'Production deployments that finished' },
  { metric: 'lead_time_for_changes', title: 'Lead time for changes', unit: 'seconds', explain: 'median, commit to Production deploy finished' },
  { metric: 'change_failure_rate', title: 'Change failure rate', unit: 'ratio', explain: 'Production deploys that failed, rolled back or were reworked' },
  { metric: 'time_to_restore_service', title: 'Time to restore service', unit: 'seconds', explain: 'median, a failed Production deploy to the next good one' },
  { metric: 'rework_rate', title: 'Rework rate', unit: 'ratio', explain: 'deployments that re-executed or hurried a fix' },
] as const;
export type InsightsMetric = (typeof INSIGHTS_METRICS)[number]['metric'];

/** A point as the API answers it. */
export interface InsightsPoint {
  date: string;
  value: number | null;
  executions: Array<{ pipelineId: string; executionId: string; status: string }>;
}

export interface InsightsSeries { metric: InsightsMetric; all: InsightsPoint | undefined; daily: InsightsPoint[] }

export function formatInsight(unit: (typeof INSIGHTS_METRICS)[number]['unit'], value: number | null): string {
  if (value === null) return 'no data';
  if (unit === 'count') return String(value);
  if (unit === 'ratio') return `${(value * 100).toFixed(value === 0 || value === 1 ? 0 : 1)} %`;
  if (value < 120) return `${Math.round(value)} s`;
  if (value < 2 * 3600) return `${(value / 60).toFixed(1)} min`;
  if (value < 2 * 86400) return `${(value / 3600).toFixed(1)} h`;
  return `${(value / 86400).toFixed(1)} d`;
}

/** Bars of the daily points (a day without data has none); the figure's text and the table say the same in words. */
function chart(title: string, points: InsightsPoint[]): Html {
  const width = 600;
  const height = 80;
  const max = Math.max(0, ...points.map((p) => p.value ?? 0));
  const step = points.length ? width / points.length : width;
  const bars = points.filter((p) => p.value !== null && max > 0).map((p) => {
    const h = Math.max(2, Math.round(((p.value ?? 0) / max) * (height - 4)));
    const x = Math.round(points.indexOf(p) * step);
    return html`<rect x="${x}" y="${height - h}" width="${Math.max(1, Math.floor(step) - 1)}" height="${h}"><title>${p.date}: ${String(p.value)}</title></rect>`;
  });
  const days = points.filter((p) => p.value !== null).length;
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img"
aria-label="${title} per day: ${days} of ${points.length} days with data">${bars}</svg>`;
}

export function insightsBody(p: { pipelineId: string; start: string; end: string; series: InsightsSeries[] }): Html {
  const bySeries = new Map(p.series.map((s) => [s.metric, s]));
  return html`<h1>Insights of ${p.pipelineId}</h1>
<p class="muted">Production, ${p.start.slice(0, 10)} to ${p.end.slice(0, 10)}, from the executions' own histories
(the same figures as <code>stagecoach insights ${p.pipelineId}</code>).</p>
${INSIGHTS_METRICS.map(({ metric, title, unit, explain }) => {
    const s = bySeries.get(metric);
    const executions = s?.all?.executions ?? [];
    return html`<section class="card insight" data-metric="${metric}" aria-labelledby="insight-${metric}">
<h2 id="insight-${metric}">${title}</h2>
<p><strong class="figure">${formatInsight(unit, s?.all?.value ?? null)}</strong> <span class="muted">${explain}</span></p>
${chart(title, s?.daily ?? [])}
${executions.length ? html`<details><summary>From ${executions.length} execution(s)</summary><ul>${executions.map((e) =>
      html`<li><a href="${consolePaths.execution(e.pipelineId, e.executionId)}">${e.pipelineId} ${e.executionId}</a> ${e.status.toLowerCase()}</li>`)}</ul></details>` : ''}
</section>`;
  })}`;
}
