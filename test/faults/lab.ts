/**
 * The fault lab: a Temporal dev server of its own on a SQLite file (so it can be stopped and started again with
 * everything kept), the real worker as a child process that can be SIGKILLed, and a tally of what was proven.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import Docker from 'dockerode';
import { inject } from 'vitest';
import YAML from 'yaml';
import { Stagecoach } from '../../src/client/operations';
import { PROJECT_ROOT, STATE_DIR } from '../../src/config/paths';
import { devServerDynamicConfigArgs } from '../../src/provision';
import { removePipelineTopology } from '../../src/activities/topology';
import { syncSampleRepo } from '../../src/dev/sample-repo';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/shared/search-attributes';
import type { ExecutionState } from '../../src/shared/types';

export { tally } from './tally';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const WORKER = path.join(__dirname, 'worker-process.ts');

export class FaultLab {
  server?: TestWorkflowEnvironment;
  worker?: ChildProcess;
  workerExit?: Promise<number | null>;
  stagecoach!: Stagecoach;
  client!: Client;
  docker = new Docker();
  port = 0;
  tmp = '';
  repo = '';
  pipelinesDir = '';
  /** Every worker of the lab shares it, as the workers of one deployment do; tests reach the runtime API with it. */
  readonly secret = randomBytes(16).toString('hex');
  private connection?: Connection;
  private workerCount = 0;
  /** Every worker this lab started: close() stops any still alive, whatever a failed test left behind. */
  private readonly spawned: ChildProcess[] = [];

  constructor(readonly name: string, readonly pipelineIds: string[]) {}

  async start(): Promise<void> {
    this.tmp = await fs.mkdtemp(path.join(os.tmpdir(), `stagecoach-fault-${this.name}-`));
    this.pipelinesDir = path.join(this.tmp, 'pipelines');
    await fs.mkdir(this.pipelinesDir, { recursive: true });
    process.env.STAGECOACH_PIPELINES_DIR = this.pipelinesDir;
    this.repo = path.join(this.tmp, 'repo');
    await syncSampleRepo(this.repo, '5.0.0');
    this.port = await freePort();
    for (const id of this.pipelineIds) await removePipelineTopology(this.docker, id);
    await this.startServer();
  }

  /** Starts (or starts again, on the same SQLite file and port) the dev server. */
  async startServer(): Promise<void> {
    this.server = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: inject('temporalCli') },
        dbFilename: path.join(this.tmp, 'temporal.db'),
        port: this.port,
        searchAttributes: SEARCH_ATTRIBUTE_KEYS,
        // Fast task dispatch, as every dev server Stagecoach starts (DEV_SERVER_DYNAMIC_CONFIG).
        extraArgs: ['--log-level', 'error', ...devServerDynamicConfigArgs()],
      },
    });
    this.connection = await Connection.connect({ address: this.server.address });
    this.client = new Client({ connection: this.connection });
    this.stagecoach = new Stagecoach(this.client);
  }

  async stopServer(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    await this.server?.teardown();
    this.server = undefined;
  }

  async writePipeline(config: Record<string, unknown>): Promise<void> {
    await fs.writeFile(path.join(this.pipelinesDir, `${String(config.id)}.yaml`), YAML.stringify(config));
  }

  /** Starts the real worker in a child process; `faults` go into its environment (see worker-process.ts). */
  async startWorker(faults: Record<string, string> = {}): Promise<void> {
    this.workerCount += 1;
    const log = createWriteStream(path.join(this.tmp, `worker-${this.workerCount}.log`));
    // node itself with tsx's loader, not tsx's CLI: the CLI runs the worker as a grandchild, which a kill of the
    // tracked pid would leave running.
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env, ...faults,
        TEMPORAL_ADDRESS: `127.0.0.1:${this.port}`,
        STAGECOACH_PIPELINES_DIR: this.pipelinesDir,
        STAGECOACH_STATE_DIR: path.join(this.tmp, 'state'),
        STAGECOACH_SECRET: this.secret,
        STAGECOACH_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    // CI stops by pid whatever a crashed test leaves behind.
    const pidFile = path.join(STATE_DIR, 'ci-pids', `fault-worker-${child.pid}`);
    await fs.mkdir(path.dirname(pidFile), { recursive: true });
    await fs.writeFile(pidFile, String(child.pid));
    this.worker = child;
    this.spawned.push(child);
    this.workerExit = new Promise((resolve) => child.on('exit', (code, signal) => {
      void fs.rm(pidFile, { force: true });
      resolve(signal === 'SIGKILL' ? -9 : code);
    }));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('worker did not start in 60 s')), 60_000);
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('[worker] ready')) { clearTimeout(timer); resolve(); } });
      child.on('exit', () => { clearTimeout(timer); reject(new Error(`worker exited at start (see ${this.tmp})`)); });
    });
  }

  /** Waits until the worker dies of its injected fault (answers true) or `until` holds first (false). */
  async waitForKill(until: () => Promise<boolean>, timeoutMs = 5 * 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.workerExit!.then(() => { exited = true; });
    while (Date.now() < deadline) {
      if (exited) return true;
      if (await until()) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('neither the fault nor the expected state happened in time');
  }

  async stopWorker(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.worker || this.worker.exitCode !== null || this.worker.signalCode !== null) return this.worker?.exitCode ?? null;
    this.worker.kill(signal);
    return this.workerExit!;
  }

  async state(pipelineId: string, executionId: string): Promise<ExecutionState | undefined> {
    return this.stagecoach.executionState(pipelineId, executionId).catch(() => undefined);
  }

  async waitFor(pipelineId: string, executionId: string, until: (s: ExecutionState) => boolean, timeoutMs = 5 * 60_000): Promise<ExecutionState> {
    const deadline = Date.now() + timeoutMs;
    let last: ExecutionState | undefined;
    while (Date.now() < deadline) {
      last = (await this.state(pipelineId, executionId)) ?? last;
      if (last && until(last)) return last;
      await new Promise((r) => setTimeout(r, 300));
    }
    throw new Error(`timed out; last: ${JSON.stringify(last && { status: last.status, steps: last.steps.map((s) => `${s.stepId}:${s.status}`) })}`);
  }

  async close(): Promise<void> {
    await this.stopWorker('SIGKILL');
    for (const child of this.spawned) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.stopServer();
    for (const id of this.pipelineIds) await removePipelineTopology(this.docker, id);
    if (!process.env.KEEP_TMP) await fs.rm(this.tmp, { recursive: true, force: true });
  }
}
