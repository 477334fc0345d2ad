/**
 * Benchmark 1: orchestration overhead per activity. N no-op activities in sequence through Temporal (the bench-only
 * noopSequence workflow, on the dev server and a worker in its own process) against the same N calls made directly.
 * One activity's cost is read from the workflow's history: the time from one ActivityTaskScheduled event to the
 * next (dispatch to the worker, execution, completion, the workflow task that schedules the next one). The same is
 * read from the REAL rollingDeployment workflow over a P-pair topology with the fake activities. When the harness
 * runs on the tuned dev server, the no-op sequence is also measured on a stock one (bench/lib/dev-server.ts).
 */
import type { rollingDeployment } from '../../src/workflows/rolling-deployment';
import { TASK_QUEUE } from '../../src/shared/ids';
import { activityCycles, dispatchLatencies, eventTimeMs, fetchEvents } from '../lib/drive';
import { startDevServer } from '../lib/dev-server';
import { benchPipelineConfig } from '../lib/fake-activities';
import { noopActivities } from '../lib/noop-activity';
import { summarize } from '../lib/stats';
import { NOOP_TASK_QUEUE, type BenchContext, type BenchResult, type Metric } from '../lib/types';
import { WorkerChild } from '../lib/worker-child';

const TARGET = { op: '<=' as const, value: 30, text: 'p50 ≤ 30 ms per activity' };

export async function benchOverhead(ctx: BenchContext): Promise<BenchResult> {
  const n = ctx.size === 'small' ? 100 : 500;
  const pairs = ctx.size === 'small' ? 5 : 20;
  await ctx.sharedWorker();

  // The same calls made directly (in this process, no Temporal).
  const direct: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    await noopActivities.noop({ i });
    direct.push(performance.now() - started);
  }
  const directSummary = summarize(direct);

  // Warm-up: the first workflow on a fresh worker pays for loading the bundle into its V8 context.
  await ctx.client.workflow.execute('noopSequence', { taskQueue: NOOP_TASK_QUEUE, workflowId: 'bench-overhead-warmup', args: [10] });

  const started = performance.now();
  await ctx.client.workflow.execute('noopSequence', { taskQueue: NOOP_TASK_QUEUE, workflowId: 'bench-overhead-noop', args: [n] });
  const wallMs = performance.now() - started;
  const events = await fetchEvents(ctx.client, 'bench-overhead-noop');
  const cycles = summarize(activityCycles(events));
  const dispatch = dispatchLatencies(events);

  // The real rolling deployment (no parent: it reports to nobody), fake activities.
  const config = benchPipelineConfig(`ovh-p${pairs}`);
  const rolloutId = 'bench-overhead-rollout';
  const rolloutStarted = performance.now();
  const rollout = await ctx.client.workflow.execute<typeof rollingDeployment>('rollingDeployment', {
    taskQueue: TASK_QUEUE, workflowId: rolloutId,
    args: [{
      pipelineId: config.id, executionId: '1', environment: config.environments.prod,
      images: { app: `sha256:${'a'.repeat(64)}`, dispatcher: `sha256:${'d'.repeat(64)}` },
      app: { port: config.app.port, healthPath: config.app.healthPath }, warmPages: config.cache.warmPages,
    }],
  });
  const rolloutWallMs = performance.now() - rolloutStarted;
  if (rollout.status !== 'FINISHED') throw new Error(`the bench rollout ended ${rollout.status}: ${rollout.reason}`);
  const rolloutEvents = await fetchEvents(ctx.client, rolloutId);
  const rolloutActivities = rolloutEvents.filter((e) => e.activityTaskScheduledEventAttributes).length;
  const rolloutCycles = summarize(activityCycles(rolloutEvents));
  const span = eventTimeMs(rolloutEvents.at(-1)!) - eventTimeMs(rolloutEvents[0]);

  let stock: { n: number; cycles: ReturnType<typeof summarize>; activityDispatch: ReturnType<typeof summarize>; workflowTaskDispatch: ReturnType<typeof summarize> } | undefined;
  if (ctx.devServer === 'tuned') {
    const stockN = Math.min(n, 200);
    const server = await startDevServer('stock');
    try {
      const worker = await WorkerChild.start(ctx.workerConfig({ address: server.env.address, noopBundlePath: ctx.noopBundlePath, noopTaskQueue: NOOP_TASK_QUEUE }));
      try {
        await server.env.client.workflow.execute('noopSequence', { taskQueue: NOOP_TASK_QUEUE, workflowId: 'bench-overhead-warmup', args: [10] });
        await server.env.client.workflow.execute('noopSequence', { taskQueue: NOOP_TASK_QUEUE, workflowId: 'bench-overhead-noop', args: [stockN] });
        const stockEvents = await fetchEvents(server.env.client, 'bench-overhead-noop');
        const d = dispatchLatencies(stockEvents);
        stock = { n: stockN, cycles: summarize(activityCycles(stockEvents)), activityDispatch: summarize(d.activity), workflowTaskDispatch: summarize(d.workflowTask) };
      } finally {
        await worker.stop();
      }
    } finally {
      await server.env.teardown();
    }
  }
  const stockMetrics: Metric[] = stock ? [
    // For comparison only, without the target: every dev server Stagecoach starts is tuned (DEV_SERVER_DYNAMIC_CONFIG).
    { name: 'overhead per activity p50 (STOCK dev server)', value: stock.cycles.p50 - directSummary.p50, unit: 'ms', note: 'history queue readers at their default 20 loads/s on the dev server\'s single shard' },
    { name: 'overhead per activity p95 (STOCK dev server)', value: stock.cycles.p95 - directSummary.p95, unit: 'ms' },
  ] : [];

  return {
    id: 1,
    name: 'Orchestration overhead per activity',
    scale: `N = ${n} no-op activities; rollout of ${pairs} pairs (${rolloutActivities} activities); ${ctx.devServer} dev server`,
    metrics: [
      { name: 'overhead per activity p50 (noop workflow)', value: cycles.p50 - directSummary.p50, unit: 'ms', target: TARGET },
      { name: 'overhead per activity p95 (noop workflow)', value: cycles.p95 - directSummary.p95, unit: 'ms' },
      { name: 'client wall time / N', value: wallMs / n, unit: 'ms' },
      { name: 'of which task dispatch p50 (activity + workflow task)', value: summarize(dispatch.activity).p50 + summarize(dispatch.workflowTask).p50, unit: 'ms' },
      { name: 'direct call p50', value: directSummary.p50, unit: 'ms' },
      { name: 'per activity p50 (real rollingDeployment)', value: rolloutCycles.p50, unit: 'ms', target: TARGET },
      { name: 'per activity p95 (real rollingDeployment)', value: rolloutCycles.p95, unit: 'ms' },
      ...stockMetrics,
    ],
    details: {
      n, devServer: ctx.devServer, direct: directSummary, noopCycles: cycles, noopWallMs: wallMs, noopHistoryEvents: events.length,
      dispatch: { activity: summarize(dispatch.activity), workflowTask: summarize(dispatch.workflowTask) }, stockDevServer: stock,
      rollout: { pairs, activities: rolloutActivities, cycles: rolloutCycles, wallMs: rolloutWallMs, historySpanMs: span, perActivityMs: span / rolloutActivities, historyEvents: rolloutEvents.length },
    },
  };
}
