/**
 * Benchmark 4: K executions at once on one worker. For each K, a fresh worker process (the real workflows, fake
 * activities, createWorker's options); K pipelines (`c<K>-<i>`) each start one execution at the same moment; each
 * runs Stage (1 pair), its tests, waits for approval, is approved and scheduled now by this harness as soon as the
 * visibility store shows it waiting, and rolls a 2-pair Production. Measured: executions per minute (K over the
 * time from the first start to the last end) and the worker process's RSS (sampled every 50 ms inside it, and the
 * kernel's high-water mark).
 */
import type { WorkerOptions } from '@temporalio/worker';
import { Stagecoach } from '../../src/client/operations';
import { executionWorkflowId } from '../../src/shared/ids';
import { WORKER_TUNING } from '../../src/worker';
import type { ExecutionResult } from '../../src/workflows/execution/state';
import { release, startExecution } from '../lib/drive';
import { MB, mapLimit, sleep, withTimeout } from '../lib/stats';
import type { BenchContext, BenchResult, Metric } from '../lib/types';
import { WorkerChild, workerNodeArgs } from '../lib/worker-child';

interface KRun {
  k: number;
  wallMs: number;
  executionsPerMinute: number;
  baselineRssMb: number;
  peakRssMb: number;
  vmHwmMb?: number;
  endRssMb: number;
  /** [ms since start, RSS MB, main-thread V8 heap used MB, its heap committed MB, its external MB] every second. */
  rssSeriesMb: Array<[number, number, number, number, number]>;
  statuses: Record<string, number>;
  activities: number;
  /** Worker CPU time during the run over its wall time: 1 = one core busy all along. */
  workerCpuCores: number;
}

/**
 * Worker options over createWorker's (WORKER_TUNING in src/worker.ts), to see what a setting costs:
 * BENCH_WORKER_OPTIONS (JSON, e.g. '{"maxConcurrentWorkflowTaskExecutions":40}') and BENCH_MAX_CACHED_WORKFLOWS
 * (the sticky cache size). BENCH_WORKER_NODE_ARGS replaces the worker process's Node/V8 flags (bench/lib/worker-child.ts).
 */
function workerOptions(): Partial<WorkerOptions> {
  const options = process.env.BENCH_WORKER_OPTIONS ? JSON.parse(process.env.BENCH_WORKER_OPTIONS) as Partial<WorkerOptions> : {};
  if (process.env.BENCH_MAX_CACHED_WORKFLOWS) options.maxCachedWorkflows = Number(process.env.BENCH_MAX_CACHED_WORKFLOWS);
  return options;
}

const EXECUTION_ID = /^stagecoach-(.+)-execution-(\d+)$/;

async function runK(ctx: BenchContext, k: number): Promise<KRun> {
  const worker = await WorkerChild.start(ctx.workerConfig({ workerOptions: workerOptions() }));
  const stagecoach = new Stagecoach(ctx.client);
  let sampling = true;
  let polling = true;
  try {
    const baseline = await worker.stats(true);
    const pipelines = Array.from({ length: k }, (_, i) => `c${k}-${i + 1}`);
    const series: Array<[number, number, number, number, number]> = [];
    const t0 = Date.now();
    const sampler = (async () => {
      while (sampling) {
        const s = await worker.stats().catch(() => undefined);
        if (s) series.push([Date.now() - t0, Math.round(s.rss / MB), Math.round(s.heapUsed / MB), Math.round(s.heapTotal / MB), Math.round(s.external / MB)]);
        await sleep(1000);
      }
    })();

    // Release each execution as soon as the visibility store shows it waiting for approval (falling back to each
    // execution's state query if listing fails).
    const started: Array<{ pipelineId: string; executionId: string }> = [];
    const released = new Set<string>();
    const releases: Array<Promise<void>> = [];
    const errors: string[] = [];
    const releaseOnce = (pipelineId: string, executionId: string, atApproval?: Parameters<typeof release>[3]) => {
      const key = `${pipelineId}/${executionId}`;
      if (released.has(key)) return;
      released.add(key);
      releases.push(release(stagecoach, pipelineId, executionId, atApproval).then(() => undefined, (err: Error) => { errors.push(`${key}: ${err.message}`); }));
    };
    let listErrors = 0;
    const poller = (async () => {
      while (polling) {
        if (listErrors < 5) {
          try {
            const query = `WorkflowType = 'pipelineExecution' AND ExecutionStatus = 'Running' AND PipelineStep = 'approval'`;
            for await (const wf of ctx.client.workflow.list({ query })) {
              const match = EXECUTION_ID.exec(wf.workflowId);
              if (match && match[1].startsWith(`c${k}-`)) releaseOnce(match[1], match[2]);
            }
          } catch (err) {
            listErrors += 1;
            if (listErrors === 5) ctx.log(`  listing workflows failed (${(err as Error).message}); polling each execution's state instead`);
          }
        } else {
          await mapLimit(started.filter((s) => !released.has(`${s.pipelineId}/${s.executionId}`)), 10, async ({ pipelineId, executionId }) => {
            const state = await stagecoach.executionState(pipelineId, executionId).catch(() => undefined);
            if (state?.waiting?.action === 'approval') releaseOnce(pipelineId, executionId, state);
          });
        }
        await sleep(250);
      }
    })();

    const ends: number[] = [];
    const results = await withTimeout(Promise.all(pipelines.map(async (pipelineId) => {
      const { executionId } = await startExecution(ctx.client, pipelineId);
      started.push({ pipelineId, executionId });
      const result = await ctx.client.workflow.getHandle(executionWorkflowId(pipelineId, executionId)).result() as ExecutionResult;
      ends.push(Date.now());
      return result;
    })), Math.max(180_000, k * 8_000), `${k} concurrent executions`).finally(() => { polling = false; });
    const wallMs = Math.max(...ends) - t0;
    polling = false;
    await poller;
    await Promise.all(releases);
    if (errors.length) throw new Error(`releasing executions failed: ${errors.slice(0, 3).join('; ')}`);
    sampling = false;
    await sampler;
    const end = await worker.stats();

    const statuses: Record<string, number> = {};
    for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const failed = results.find((r) => r.status !== 'FINISHED');
    if (failed) throw new Error(`of ${k} concurrent executions, not all finished: ${JSON.stringify(statuses)}; e.g. ${failed.reason}`);
    // Let the pipeline workflows record their ended executions before this worker goes away.
    await mapLimit(pipelines, 20, async (id) => {
      for (let tries = 0; (await stagecoach.pipelineState(id)).running && tries < 100; tries++) await sleep(50);
    });
    return {
      k, wallMs, executionsPerMinute: k / (wallMs / 60_000),
      baselineRssMb: baseline.rss / MB, peakRssMb: end.peakRss / MB, vmHwmMb: end.vmHwm && end.vmHwm / MB, endRssMb: end.rss / MB,
      rssSeriesMb: series, statuses, activities: Object.values(end.activityCounts).reduce((a, b) => a + b, 0),
      workerCpuCores: (end.cpuMs - baseline.cpuMs) / wallMs,
    };
  } finally {
    sampling = false;
    polling = false;
    await worker.stop();
  }
}

export async function benchConcurrency(ctx: BenchContext): Promise<BenchResult> {
  const ks = process.env.BENCH_K ? process.env.BENCH_K.split(',').map(Number) : ctx.size === 'small' ? [10] : [10, 50, 200];
  const runs: KRun[] = [];
  for (const k of ks) {
    runs.push(await runK(ctx, k));
    const r = runs.at(-1)!;
    ctx.log(`  K=${k}: ${r.executionsPerMinute.toFixed(0)} executions/min, peak RSS ${r.peakRssMb.toFixed(0)} MB (baseline ${r.baselineRssMb.toFixed(0)} MB), ${r.activities} activities in ${(r.wallMs / 1000).toFixed(1)} s; worker CPU ${r.workerCpuCores.toFixed(2)} cores`);
  }
  const metrics: Metric[] = [];
  for (const r of runs) {
    metrics.push(
      { name: `K=${r.k}: executions per minute`, value: r.executionsPerMinute, unit: '/min' },
      {
        name: `K=${r.k}: worker peak RSS`, value: r.vmHwmMb ?? r.peakRssMb, unit: 'MB',
        ...(r.k === 200 ? { target: { op: '<' as const, value: 500, text: '200 concurrent executions < 500 MB RSS' } } : {}),
      },
    );
  }
  if (runs.length > 1) {
    const [first, last] = [runs[0], runs.at(-1)!];
    metrics.push({ name: 'RSS growth per 100 concurrent executions', value: ((last.vmHwmMb ?? last.peakRssMb) - (first.vmHwmMb ?? first.peakRssMb)) / ((last.k - first.k) / 100), unit: 'MB' });
  }
  return {
    id: 4,
    name: 'Concurrent executions on one worker',
    scale: `K = ${ks.join(', ')} executions at once (Stage 1 pair, Production 2 pairs, fake activities)`,
    metrics,
    details: {
      runs, workerOptions: { ...WORKER_TUNING, ...workerOptions() }, workerNodeArgs: workerNodeArgs().join(' '),
    },
  };
}
