/**
 * The Stagecoach worker: hosts the three workflows and every activity on the `stagecoach` task queue. Connects
 * through Temporal's standard environment configuration (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS / API key,
 * TEMPORAL_PROFILE and the config file, as @temporalio/envconfig reads them), defaulting to localhost:7233, so the
 * same worker runs against the embedded dev server, a Temporal cluster or Temporal Cloud unchanged.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import Docker from 'dockerode';
import { createActivities, type ActivityDeps } from './activities';
import { createDirectoryArtifactStore } from './activities/artifacts';
import { createDockerProvider } from './activities/docker-hosts';
import { StagecoachError } from './client/errors';
import { STATE_DIR, artifactsDir } from './config/paths';
import { pipelinesDir } from './config/pipeline-config';
import { recentActivityPollers, sharedSecretProblem, workerIdentity } from './config/shared-secret';
import { WORKER_NODE_OPTIONS } from './config/worker-memory';
import { findChromium } from './provision/chromium';
import { ClientFailure, NonRetryable } from './shared/errors';
import { TASK_QUEUE } from './shared/ids';
import { logContextPlugin } from './observability/activity-context';
import { createStructuredLogger } from './observability/logger';
import { installWorkerRuntime } from './observability/runtime-telemetry';
import { otlpTracesUrl, startTracing, tracingPlugins } from './observability/tracing';

export interface StagecoachWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  taskQueue?: string;
  deps?: Partial<ActivityDeps>;
  /** A prebuilt workflow bundle (tests build it once); default: bundle src/workflows at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  identity?: string;
  /** Extra interceptors (the fault suite injects crashes with one). */
  interceptors?: WorkerOptions['interceptors'];
}

/**
 * How much the worker keeps in memory and runs at once (bench/lib/worker-process.ts runs the benchmarks' worker with
 * the same values; README.md, "Worker memory", explains them).
 */
export const WORKER_TUNING = {
  // Workflows kept in memory between tasks (sticky cache): bounded so worker memory stays bounded. 200 executions in
  // flight keep ~600 workflows resident (their pipeline, the execution, its running rollout); the least recently used
  // beyond 500 (mostly idle pipeline workflows) are evicted and replayed from history when they next have work.
  maxCachedWorkflows: 500,
} satisfies Partial<WorkerOptions>;

/** Reads (or creates once) the worker's secret in the state directory; STAGECOACH_SECRET overrides it. */
export function workerSecret(stateDir: string = STATE_DIR): string {
  if (process.env.STAGECOACH_SECRET) return process.env.STAGECOACH_SECRET;
  const file = path.join(stateDir, 'secret');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    fs.mkdirSync(stateDir, { recursive: true });
    const secret = randomBytes(24).toString('hex');
    fs.writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
    return fs.readFileSync(file, 'utf8').trim();
  }
}

/**
 * The activities' dependencies as the worker makes them: the engines from the environments' settings, artifacts and
 * state under the state directory, the browser wherever provisioning puts it. `overrides` replace any of them.
 */
export function defaultActivityDeps(overrides: Partial<ActivityDeps> = {}): ActivityDeps {
  const stateDir = overrides.stateDir ?? STATE_DIR;
  return {
    docker: createDockerProvider(new Docker()),
    artifacts: createDirectoryArtifactStore(artifactsDir(stateDir)),
    pipelinesDir: pipelinesDir(),
    stateDir,
    secret: overrides.secret ?? workerSecret(stateDir),
    chromium: findChromium,
    ...overrides,
  };
}

export async function createWorker(options: StagecoachWorkerOptions): Promise<Worker> {
  // STAGECOACH_WORKFLOW_BUNDLE: a bundle built beforehand (bundleWorkflowCode), so a restarted worker starts in a second.
  const bundlePath = process.env.STAGECOACH_WORKFLOW_BUNDLE;
  const workflowBundle = options.workflowBundle ?? (bundlePath ? { codePath: bundlePath } : undefined);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    ...(workflowBundle ? { workflowBundle } : { workflowsPath: require.resolve('./workflows') }),
    ...(options.interceptors ? { interceptors: options.interceptors } : {}),
    // Traces when an OTLP endpoint is configured; the log context of every activity always (src/observability).
    plugins: [...tracingPlugins(), logContextPlugin],
    activities: createActivities(defaultActivityDeps(options.deps)),
    // Passing identity: undefined would replace the SDK's default identity and fail Worker.create.
    ...(options.identity ? { identity: options.identity } : {}),
    // On SIGTERM/SIGINT the worker stops polling and gives running activities this long to finish or heartbeat out.
    shutdownGraceTime: '30 seconds',
    ...WORKER_TUNING,
    // A cancellation reaches an activity only with a heartbeat's answer; the SDK's default throttle (80% of the
    // heartbeat timeout, up to a minute) would let a cancelled docker build run on for most of a minute.
    maxHeartbeatThrottleInterval: '3 seconds',
    defaultHeartbeatThrottleInterval: '3 seconds',
  });
}

/** Connection settings from the environment (see the module comment); the default is the local dev server. */
export function connectionSettings() {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  // envconfig returns `address: undefined` when nothing is configured: default it explicitly.
  return { connectionOptions: { ...connectionOptions, address: connectionOptions.address ?? 'localhost:7233' }, namespace: namespace ?? 'default' };
}

export async function runWorker(): Promise<void> {
  const { connectionOptions, namespace } = connectionSettings();
  const metricsAddress = installWorkerRuntime({ logger: createStructuredLogger({ secrets: [workerSecret(STATE_DIR)] }) });
  if (startTracing('stagecoach-worker')) console.log(`[worker] traces to ${otlpTracesUrl()} (OTEL_EXPORTER_OTLP_ENDPOINT)`);
  if (metricsAddress) console.log(`[worker] Prometheus metrics on http://${metricsAddress}/metrics (STAGECOACH_WORKER_METRICS)`);
  const connection = await NativeConnection.connect(connectionOptions).catch((err: Error) => {
    throw new StagecoachError(ClientFailure.Unreachable, `Cannot reach Temporal at ${connectionOptions.address} (${err.message}). ` +
      'Start the dev server with `./bin/stagecoach dev`, or set TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE for your cluster.');
  });
  // One secret for all workers of the deployment, checked before this one takes any work (src/config/shared-secret.ts).
  const secret = workerSecret(STATE_DIR);
  // A server that does not let us describe the task queue is given the benefit of the doubt (as requireWorker does).
  const pollers = await recentActivityPollers(connection, namespace, TASK_QUEUE).catch(() => []);
  const problem = sharedSecretProblem({ env: process.env, secret, taskQueue: TASK_QUEUE, pollers });
  if (problem) throw new StagecoachError(NonRetryable.InvalidConfig, problem);
  const worker = await createWorker({ connection, namespace, deps: { secret }, identity: workerIdentity(secret, process.pid, os.hostname()) });
  if (v8.getHeapStatistics().heap_size_limit > 512 * 1024 * 1024) {
    console.log(`[worker] V8 heaps sized by Node's defaults: NODE_OPTIONS='${WORKER_NODE_OPTIONS}' keeps this worker's memory smaller (README.md, "Worker memory")`);
  }
  console.log(`[worker] polling task queue "${TASK_QUEUE}" on ${connectionOptions.address} (namespace ${namespace}); Ctrl-C stops it`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  runWorker().catch((err: Error) => {
    console.error(`[worker] ${err.message}`);
    process.exit(1);
  });
}
