/**
 * A bench worker in a process of its own (forked by worker-child.ts), so its memory is measured alone: the REAL
 * workflows (the bundle of src/workflows) with the FAKE activities of fake-activities.ts on the `stagecoach` task
 * queue, with createWorker's options (src/worker.ts); optionally the bench-only no-op workflow on a second queue.
 *
 * Configuration: the BENCH_WORKER_CONFIG environment variable (JSON, see WorkerProcessConfig). Talks to its parent
 * over the IPC channel: sends `ready` once polling, answers `stats`, `firstStarts` and `stop` requests.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import fs from 'node:fs';
import { TASK_QUEUE } from '../../src/shared/ids';
import { WORKER_TUNING } from '../../src/worker';
import { createBenchActivities } from './fake-activities';
import { noopActivities } from './noop-activity';

export interface WorkerProcessConfig {
  address: string;
  namespace: string;
  /** The prebuilt bundle of src/workflows. */
  bundlePath: string;
  /** Activity names of the real createActivities(), so any without a fake is still registered (as a no-op). */
  realActivityNames: string[];
  /** When set, also runs bench/workflows/noop.ts (this bundle) on `noopTaskQueue`. */
  noopBundlePath?: string;
  noopTaskQueue?: string;
  /** Worker options over createWorker's WORKER_TUNING (src/worker.ts), e.g. { maxCachedWorkflows: 300 }. */
  workerOptions?: Partial<WorkerOptions>;
}

export interface WorkerStats {
  pid: number;
  rss: number;
  /** Highest RSS sampled every 50 ms since start (or the last `resetPeak`). */
  peakRss: number;
  /** The kernel's high-water mark of the process's RSS (VmHWM), when /proc is there. */
  vmHwm?: number;
  heapUsed: number;
  /** The main thread's V8 heap, committed. */
  heapTotal: number;
  /** Memory of C++ objects bound to JS objects, and ArrayBuffers (main thread). */
  external: number;
  /** CPU time used by the process since it started (user + system), ms. */
  cpuMs: number;
  activityCounts: Record<string, number>;
}

export type WorkerRequest =
  | { id: number; type: 'stats'; resetPeak?: boolean }
  | { id: number; type: 'firstStarts'; workflowIds: string[] }
  | { id: number; type: 'stop' };

function vmHwm(): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_WORKER_CONFIG ?? '{}') as WorkerProcessConfig;
  const send = (message: unknown) => process.send?.(message);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: config.address });
  const fake = createBenchActivities(config.realActivityNames);
  const workers: Worker[] = [
    await Worker.create({
      connection,
      namespace: config.namespace,
      taskQueue: TASK_QUEUE,
      workflowBundle: { codePath: config.bundlePath },
      activities: fake.activities,
      identity: `bench-worker-${process.pid}`,
      shutdownGraceTime: '5 seconds',
      // As createWorker (src/worker.ts) sets them, unless the benchmark overrides some.
      ...WORKER_TUNING,
      ...config.workerOptions,
    }),
  ];
  if (config.noopBundlePath && config.noopTaskQueue) {
    workers.push(await Worker.create({
      connection,
      namespace: config.namespace,
      taskQueue: config.noopTaskQueue,
      workflowBundle: { codePath: config.noopBundlePath },
      activities: noopActivities,
      identity: `bench-noop-worker-${process.pid}`,
      shutdownGraceTime: '5 seconds',
    }));
  }
  let peakRss = process.memoryUsage().rss;
  setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 50).unref();
  const running = Promise.all(workers.map((w) => w.run()));
  running.catch((err: Error) => {
    send({ type: 'error', message: `worker stopped: ${err.stack ?? err.message}` });
    process.exit(1);
  });

  process.on('message', (request: WorkerRequest) => {
    void (async () => {
      try {
        switch (request.type) {
          case 'stats': {
            const memory = process.memoryUsage();
            peakRss = Math.max(peakRss, memory.rss);
            const stats: WorkerStats = {
              pid: process.pid, rss: memory.rss, peakRss, vmHwm: vmHwm(), heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external,
              cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
              activityCounts: Object.fromEntries(fake.log.counts),
            };
            if (request.resetPeak) peakRss = memory.rss;
            send({ type: 'reply', id: request.id, data: stats });
            break;
          }
          case 'firstStarts':
            send({ type: 'reply', id: request.id, data: request.workflowIds.map((id) => fake.log.firstStarts.get(id) ?? null) });
            break;
          case 'stop':
            for (const w of workers) w.shutdown();
            await running;
            await connection.close();
            send({ type: 'reply', id: request.id, data: null });
            setTimeout(() => process.exit(0), 50);
            break;
        }
      } catch (err) {
        send({ type: 'reply', id: request.id, error: (err as Error).message });
      }
    })();
  });
  // The parent gone means nobody will stop us: stop.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', pid: process.pid, missing: fake.missing });
}

main().catch((err: Error) => {
  process.send?.({ type: 'error', message: err.stack ?? err.message });
  process.exit(1);
});
