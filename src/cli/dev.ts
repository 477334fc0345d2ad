/**
 * `stagecoach dev`: the Temporal dev server (`temporal server start-dev`, SQLite state in STATE_DIR, search attributes
 * registered, task queue readers tuned: DEV_SERVER_DYNAMIC_CONFIG in src/provision/temporal.ts) as a child process,
 * and the Stagecoach worker in this process. Ctrl-C (or SIGTERM) shuts the worker down first, then stops the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeConnection, type LogLevel, type Worker } from '@temporalio/worker';
import { STATE_DIR } from '../config/paths';
import { devServerDynamicConfigArgs, findTemporalCli, provision, provisionAuditBrowser } from '../provision';
import { TASK_QUEUE } from '../shared/ids';
import { SEARCH_ATTRIBUTE_KEYS } from '../shared/search-attributes';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { loadApiSigner } from '../api/identity-signing';
import { buildApi } from '../api/server';
import { Stagecoach } from '../client/operations';
import { createWorker, workerSecret } from '../worker';
import { createStructuredLogger } from '../observability/logger';
import { installWorkerRuntime } from '../observability/runtime-telemetry';
import { startTracing, tracingClientInterceptors } from '../observability/tracing';
import { EXIT } from './errors';
import { formatDuration } from './format';
import { sleep, tailLines, tcpAnswers, temporalAnswers } from './probe';

export interface DevOptions {
  port: number;
  uiPort: number;
  /** Port of the HTTP API on 127.0.0.1 (0: none). Default 8080. */
  apiPort?: number;
  /** Longest wait for the dev server to answer. Default 90 s. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export const DEV_LOG_DIR = path.join(STATE_DIR, 'logs');
export const TEMPORAL_DEV_LOG = path.join(DEV_LOG_DIR, 'temporal-dev.log');
export const TEMPORAL_DEV_DB = path.join(STATE_DIR, 'temporal-dev.db');

/** Thrown for a problem the user must fix before `dev` can run (port taken, no temporal CLI, server died). */
export class DevError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.failure) {
    super(message);
    this.name = 'DevError';
  }
}

export function devServerArgs(port: number, uiPort: number, dbFile = TEMPORAL_DEV_DB): string[] {
  return [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort),
    '--db-filename', dbFile, '--log-level', 'warn',
    // Fast task dispatch: without these, every activity waits ~40 ms for the single shard's queue readers.
    ...devServerDynamicConfigArgs(),
    ...SEARCH_ATTRIBUTE_KEYS.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
  ];
}

async function temporalBinary(log: (line: string) => void): Promise<string> {
  const found = await findTemporalCli();
  if (found) return found;
  log('[dev] the temporal CLI was not found; provisioning it');
  const { temporalCli } = await provision({ docker: false, log });
  if (!temporalCli) throw new DevError('no temporal CLI available: run `npm run provision` (or set TEMPORAL_CLI=/path/to/temporal)');
  return temporalCli;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function runDev(opts: DevOptions): Promise<number> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const host = '127.0.0.1';
  const address = `${host}:${opts.port}`;
  const uiUrl = `http://${host}:${opts.uiPort}`;

  // Never a second server: if the port answers, say what answers and stop.
  if (await tcpAnswers(host, opts.port)) {
    if (await temporalAnswers(address)) {
      throw new DevError(`a Temporal server already answers on ${address}; not starting a second one.\n` +
        'Run only the Stagecoach worker against it with `./bin/stagecoach worker`, or stop that server first ' +
        '(or choose other ports with --port and --ui-port).');
    }
    throw new DevError(`port ${opts.port} on ${host} is in use by another program (not a Temporal server); choose another with --port`);
  }
  if (await tcpAnswers(host, opts.uiPort)) {
    throw new DevError(`the Web UI port ${opts.uiPort} on ${host} is in use by another program; choose another with --ui-port`);
  }

  const cli = await temporalBinary(log);
  // The worker started below runs the pipelines' Experience Audit: its browser first (a no-op once installed).
  await provisionAuditBrowser((line) => log(`[dev] ${line}`));
  fs.mkdirSync(DEV_LOG_DIR, { recursive: true });
  const args = devServerArgs(opts.port, opts.uiPort);
  const logFd = fs.openSync(TEMPORAL_DEV_LOG, 'a');
  fs.writeSync(logFd, `\n=== ${new Date().toISOString()} $ ${cli} ${args.join(' ')}\n`);
  // Own process group: a Ctrl-C in the terminal reaches only us, so the worker stops before the server does.
  const child = spawn(cli, args, { stdio: ['ignore', logFd, logFd], detached: true });
  fs.closeSync(logFd);
  const childPid = child.pid;
  let childExited = false;
  child.once('exit', () => { childExited = true; });
  child.once('error', () => { childExited = true; });
  // Whatever happens to this process (short of SIGKILL), the server does not outlive it.
  const killChildOnExit = () => {
    if (!childExited && childPid) {
      try { process.kill(childPid, 'SIGKILL'); } catch { /* already gone */ }
    }
  };
  process.once('exit', killChildOnExit);

  log(`[dev] Temporal dev server starting: pid ${childPid}, ${address}, state ${TEMPORAL_DEV_DB}`);
  log(`[dev] server log: ${TEMPORAL_DEV_LOG}`);

  let worker: Worker | undefined;
  let stopRequested = false;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log(`[dev] ${signal} again: stopping at once`);
      killChildOnExit();
      process.exit(130);
    }
    stopRequested = true;
    log(`[dev] ${signal}: shutting down the worker, then the dev server (Ctrl-C again to force)`);
    if (worker && worker.getState() === 'RUNNING') {
      try { worker.shutdown(); } catch { /* the SDK's own signal handler got there first */ }
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const stopServer = async () => {
    if (childExited || !childPid) return;
    log(`[dev] stopping the Temporal dev server (pid ${childPid})`);
    try { process.kill(childPid, 'SIGTERM'); } catch { /* gone */ }
    if (!(await waitForExit(child, 15_000))) {
      log('[dev] the dev server did not stop within 15 s; killing it');
      try { process.kill(childPid, 'SIGKILL'); } catch { /* gone */ }
      await waitForExit(child, 5_000);
    }
  };

  let exitCode: number = EXIT.ok;
  let connection: NativeConnection | undefined;
  let api: FastifyInstance | undefined;
  let apiConnection: Connection | undefined;
  try {
    // Wait (bounded, with progress) until the frontend accepts a client connection.
    const limit = opts.startTimeoutMs ?? 90_000;
    const started = Date.now();
    let lastNote = started;
    for (;;) {
      if (stopRequested) return EXIT.ok;
      if (childExited) {
        throw new DevError(`the Temporal dev server exited during start-up (code ${child.exitCode ?? child.signalCode}). ` +
          `Last lines of ${TEMPORAL_DEV_LOG}:\n${tailLines(TEMPORAL_DEV_LOG, 15)}`);
      }
      if (await tcpAnswers(host, opts.port, 500) && await temporalAnswers(address, '2s')) break;
      if (Date.now() - started > limit) {
        throw new DevError(`the Temporal dev server did not answer on ${address} within ${formatDuration(limit)}. ` +
          `Last lines of ${TEMPORAL_DEV_LOG}:\n${tailLines(TEMPORAL_DEV_LOG, 15)}`);
      }
      if (Date.now() - lastNote >= 5000) {
        lastNote = Date.now();
        log(`[dev] waiting for the dev server on ${address}… ${Math.round((Date.now() - started) / 1000)} s`);
      }
      await sleep(500);
    }
    log(`[dev] Temporal answers on ${address} (after ${formatDuration(Date.now() - started)})`);
    log(`[dev] Web UI: ${uiUrl}`);
    if (opts.port !== 7233 || opts.uiPort !== 8233) {
      log(`[dev] other commands: export TEMPORAL_ADDRESS=${address} STAGECOACH_WEB_UI=${uiUrl}`);
    }

    // The SDK logs at INFO by default, webpack's bundle report included; dev keeps the terminal to warnings and errors.
    const level = (process.env.STAGECOACH_LOG_LEVEL ?? 'WARN').toUpperCase() as LogLevel;
    const metricsAddress = installWorkerRuntime({ logger: createStructuredLogger({ level, secrets: [workerSecret()] }) });
    startTracing('stagecoach');
    if (metricsAddress) log(`[dev] worker metrics: http://${metricsAddress}/metrics (STAGECOACH_WORKER_METRICS)`);
    connection = await NativeConnection.connect({ address });
    log('[dev] starting the worker (bundling the workflows takes a few seconds)');
    worker = await createWorker({ connection, namespace: 'default', identity: `${process.pid}@${os.hostname()} (stagecoach dev)` });
    if (stopRequested) return EXIT.ok;
    log(`[dev] worker polling task queue "${TASK_QUEUE}" on ${address} (namespace default). Ctrl-C stops both.`);
    if (opts.apiPort !== 0) {
      // The HTTP API beside them; a port in use only costs the API, not the dev stack.
      try {
        apiConnection = await Connection.connect({ address });
        // It signs its users' decisions with its own key, which the sample pipeline trusts (identityProviders).
        const identitySigner = await loadApiSigner();
        api = buildApi({ stagecoach: new Stagecoach(new Client({ connection: apiConnection, interceptors: { workflow: tracingClientInterceptors() } })), logger: false, identitySigner });
        await api.listen({ host, port: opts.apiPort ?? 8080 });
        log(`[dev] HTTP API: http://${host}:${opts.apiPort ?? 8080}/api/openapi.json (sample tokens: examples/api-tokens.yaml)`);
      } catch (err) {
        log(`[dev] HTTP API not started: ${(err as Error).message} (choose another port with --api-port, or 0 for none)`);
        api = undefined;
      }
    }
    const watchServer = setInterval(() => {
      if (childExited && worker?.getState() === 'RUNNING') {
        log(`[dev] the Temporal dev server exited unexpectedly (code ${child.exitCode ?? child.signalCode}); stopping the worker. ` +
          `Last lines of ${TEMPORAL_DEV_LOG}:\n${tailLines(TEMPORAL_DEV_LOG, 15)}`);
        exitCode = EXIT.failure;
        try { worker.shutdown(); } catch { /* already stopping */ }
      }
    }, 1000);
    try {
      await worker.run();
      log('[dev] worker stopped');
    } finally {
      clearInterval(watchServer);
    }
  } catch (err) {
    if (err instanceof DevError) throw err;
    throw new DevError(`${(err as Error).message}`);
  } finally {
    await api?.close().catch(() => undefined);
    await apiConnection?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await stopServer();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killChildOnExit);
    log('[dev] stopped');
  }
  return exitCode;
}
