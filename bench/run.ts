/**
 * `npm run bench`: Stagecoach's benchmark harness (issue 8). Starts its own Temporal dev server (the pinned CLI),
 * builds the workflow bundle once, runs each benchmark against its target, prints a table and writes the figures to
 * bench-results/<timestamp>.json and bench-results/latest.json. Method and latest figures: docs/benchmarks.md.
 *
 *   BENCH_SIZE=small (default; what CI runs: a few minutes) | full
 *   BENCH_ONLY=1,3   run only these benchmarks (7, the bundle, always runs: the others need it)
 *   BENCH_STOCK_SERVER=1   run on a dev server with its default task-queue reader rates (see bench/lib/dev-server.ts)
 *
 * Exits non-zero only when the harness itself breaks (a benchmark threw); a missed target is reported, never fatal.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { defaultActivityDeps } from '../src/worker';
import { PROJECT_ROOT } from '../src/config/paths';
import { benchBundle } from './benchmarks/bundle';
import { benchConcurrency } from './benchmarks/concurrency';
import { benchHistory } from './benchmarks/history';
import { benchLatency } from './benchmarks/latency';
import { benchOverhead } from './benchmarks/overhead';
import { benchRollout } from './benchmarks/rollout';
import { TUNED_DYNAMIC_CONFIG, startDevServer, type DevServerKind } from './lib/dev-server';
import { fmt, round } from './lib/stats';
import { NOOP_TASK_QUEUE, met, type BenchContext, type BenchResult, type BenchSize } from './lib/types';
import { WorkerChild } from './lib/worker-child';

const RESULTS_DIR = path.join(PROJECT_ROOT, 'bench-results');

const log = (message: string) => console.log(`[bench] ${message}`);

async function temporalVersion(cli: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(cli, ['--version']);
    return stdout.trim();
  } catch {
    return 'unknown';
  }
}

function printTable(size: BenchSize, results: BenchResult[]): void {
  const rows: string[][] = [['benchmark', 'size', 'metric', 'value', 'target', 'met?']];
  for (const r of [...results].sort((a, b) => a.id - b.id)) {
    if (r.error) {
      rows.push([`${r.id}. ${r.name}`, size, 'HARNESS ERROR', r.error.split('\n')[0].slice(0, 80), '', '']);
      continue;
    }
    r.metrics.forEach((m, i) => rows.push([
      i === 0 ? `${r.id}. ${r.name}` : '', i === 0 ? size : '', m.name, `${fmt(m.value)} ${m.unit}`,
      m.target?.text ?? '', m.target ? (m.met ? 'yes' : 'NO') : '',
    ]));
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  console.log('');
  console.log(line(rows[0]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows.slice(1)) console.log(line(row));
  console.log('');
}

async function main(): Promise<number> {
  const size: BenchSize = process.env.BENCH_SIZE === 'full' ? 'full' : 'small';
  const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => Number(s.trim()))) : undefined;
  const wanted = (id: number) => !only || only.has(id);
  const startedAt = new Date();
  const started = performance.now();
  Runtime.install({ logger: new DefaultLogger('WARN') });

  const tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'stagecoach-bench-'));
  const devServer: DevServerKind = process.env.BENCH_STOCK_SERVER === '1' ? 'stock' : 'tuned';
  log(`size ${size}; starting a Temporal dev server (${devServer}${devServer === 'tuned' ? `: ${TUNED_DYNAMIC_CONFIG.join(', ')}` : ''})`);
  const { env, cli } = await startDevServer(devServer);
  const results: BenchResult[] = [];
  let shared: WorkerChild | undefined;
  try {
    const realActivityNames = Object.keys(createActivities(defaultActivityDeps({ stateDir: path.join(tmpDir, 'state'), secret: 'bench' })));
    log('7. bundling the workflow code');
    const bundleStarted = performance.now();
    const bundle = await benchBundle(size, tmpDir);
    results.push({ ...bundle.result, durationMs: performance.now() - bundleStarted });

    const namespace = env.namespace ?? 'default';
    const workerConfig: BenchContext['workerConfig'] = (extra = {}) => ({
      address: env.address, namespace, bundlePath: bundle.bundlePath, realActivityNames, ...extra,
    });
    const ctx: BenchContext = {
      size, devServer, client: env.client, address: env.address, namespace, tmpDir,
      bundlePath: bundle.bundlePath, noopBundlePath: bundle.noopBundlePath, realActivityNames, workerConfig, log,
      async sharedWorker() {
        if (!shared) {
          shared = await WorkerChild.start(workerConfig({ noopBundlePath: bundle.noopBundlePath, noopTaskQueue: NOOP_TASK_QUEUE }));
          if (shared.missing.length) log(`  no fake for activities ${shared.missing.join(', ')}: registered as no-ops answering {}`);
        }
        return shared;
      },
    };

    const run = async (ids: number[], name: string, fn: () => Promise<BenchResult | BenchResult[]>) => {
      if (!ids.some(wanted)) return;
      log(`${ids.join(' and ')}. ${name}`);
      const benchStarted = performance.now();
      try {
        const out = await fn();
        const durationMs = performance.now() - benchStarted;
        for (const r of Array.isArray(out) ? out : [out]) results.push({ ...r, durationMs });
        log(`  done in ${(durationMs / 1000).toFixed(1)} s`);
      } catch (err) {
        const message = (err as Error).stack ?? String(err);
        log(`  HARNESS ERROR: ${message}`);
        for (const id of ids) results.push({ id, name, scale: '', metrics: [], details: {}, error: (err as Error).message, durationMs: performance.now() - benchStarted });
      }
    };

    await run([1], 'orchestration overhead per activity', () => benchOverhead(ctx));
    await run([2, 6], 'update → action latency; re-execute vs full execution', () => benchLatency(ctx));
    await run([5], 'history size vs Production pairs', () => benchHistory(ctx));
    // Benchmark 4 measures a worker alone: the shared one stops first (two workers would share the task queue).
    await shared?.stop();
    shared = undefined;
    await run([4], 'concurrent executions on one worker', () => benchConcurrency(ctx));
    await run([3], 'rollout efficiency on real Docker', () => benchRollout(ctx));
  } finally {
    await shared?.stop();
    await env.teardown();
    await fs.rm(tmpDir, { recursive: true, force: true });
  }

  for (const r of results) for (const m of r.metrics) {
    m.value = round(m.value);
    if (m.target) m.met = met(m.target, m.value);
  }
  results.sort((a, b) => a.id - b.id);
  printTable(size, results);

  const cpus = os.cpus();
  const report = {
    date: startedAt.toISOString(),
    size,
    devServer: { kind: devServer, dynamicConfig: devServer === 'tuned' ? TUNED_DYNAMIC_CONFIG : [] },
    durationMs: Math.round(performance.now() - started),
    machine: {
      cpus: cpus.length, cpuModel: cpus[0]?.model, memoryGiB: round(os.totalmem() / 1024 ** 3, 1), platform: `${os.platform()} ${os.release()}`,
      node: process.version, temporalCli: await temporalVersion(cli),
    },
    targets: results.flatMap((r) => r.metrics.filter((m) => m.target).map((m) => ({ benchmark: r.id, metric: m.name, value: m.value, unit: m.unit, target: m.target!.text, met: m.met }))),
    results,
  };
  await fs.mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}-${size}.json`);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  await fs.writeFile(file, json);
  await fs.writeFile(path.join(RESULTS_DIR, 'latest.json'), json);
  const errors = results.filter((r) => r.error);
  const missed = report.targets.filter((t) => !t.met);
  log(`results: ${path.relative(process.cwd(), file)} (and bench-results/latest.json); ${report.targets.length - missed.length} of ${report.targets.length} targets met; ` +
    `${(report.durationMs / 1000).toFixed(0)} s in all`);
  if (errors.length) log(`the harness broke in benchmark(s) ${errors.map((e) => e.id).join(', ')}: exit 1`);
  return errors.length ? 1 : 0;
}

main().then((code) => process.exit(code), (err: Error) => {
  console.error(`[bench] harness failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
