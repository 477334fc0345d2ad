/**
 * The worker's Temporal Runtime, installed once before its first connection: its Prometheus endpoint serves the
 * SDK's own telemetry (workflow and activity task latencies, schedule-to-start, sticky cache, pollers) and the
 * counts the workflows make through their metricMeter (src/workflows/execution/execution-metrics.ts).
 *
 * STAGECOACH_WORKER_METRICS sets where it listens: `127.0.0.1:9464` by default (this machine only), another
 * `host:port`, or `off`.
 */
import { Runtime, type Logger, type RuntimeOptions } from '@temporalio/worker';

export const DEFAULT_WORKER_METRICS_ADDRESS = '127.0.0.1:9464';

/** Where the worker serves /metrics; undefined when switched off. */
export function workerMetricsAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.STAGECOACH_WORKER_METRICS?.trim() || DEFAULT_WORKER_METRICS_ADDRESS;
  if (value === 'off') return undefined;
  if (!/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$/.test(value)) {
    throw new Error(`STAGECOACH_WORKER_METRICS must be host:port (e.g. ${DEFAULT_WORKER_METRICS_ADDRESS}) or off (got ${value})`);
  }
  return value;
}

export function runtimeOptions(options: { logger?: Logger; metricsAddress?: string }): RuntimeOptions {
  return {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.metricsAddress ? {
      telemetryOptions: {
        metrics: {
          prometheus: {
            bindAddress: options.metricsAddress,
            // Prometheus' own conventions: counters end in _total, durations are in seconds.
            countersTotalSuffix: true,
            useSecondsForDurations: true,
          },
        },
      },
    } : {}),
  };
}

/**
 * Installs the Runtime with the worker's metrics and logger; answers where metrics are served. A process that has
 * installed one already (the dev command, a test) keeps it: the SDK allows one Runtime per process.
 */
export function installWorkerRuntime(options: { logger?: Logger; metricsAddress?: string | undefined } = {}): string | undefined {
  const metricsAddress = 'metricsAddress' in options ? options.metricsAddress : workerMetricsAddress();
  if (Runtime._instance) return undefined;
  try {
    Runtime.install(runtimeOptions({ logger: options.logger, metricsAddress }));
    return metricsAddress;
  } catch (err) {
    if (!metricsAddress) throw err;
    // A second worker on this machine finds the port taken: it runs on, without an endpoint of its own.
    console.warn(`[worker] no Prometheus metrics on ${metricsAddress} (${(err as Error).message}); set STAGECOACH_WORKER_METRICS to a free host:port`);
    Runtime.install(runtimeOptions({ logger: options.logger }));
    return undefined;
  }
}
