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
import { approveSignal, scheduleSignal } from '../../src/shared/messages';
import { executionWorkflowId } from '../../src/shared/ids';
import type { ExecutionState } from '../../src/shared/types';
import { followDockerEvents } from './docker-events';
import { tally, tallyFaults } from './tally';

export { tally, tallyFaults } from './tally';

/** One injected fault: its name in the tally, and the worker settings that arm it (see worker-process.ts). */
export interface Fault {
  name: string; arm: Record<string, string>;
  /** Looks, once the worker is dead, at where the fault landed; what it answers goes into the tally with the name. */
  landed?: () => Promise<string | undefined>;
}

/** A worker process spawned by the lab, not yet (or already) taking work. */
export interface PreparedWorker { child: ChildProcess; exit: Promise<number | null>; ready: Promise<void> }

/** A container event from Docker's live stream, as the lab's watch keeps it. */
export interface ContainerEvent { action: string; node: string; environment: string; name: string }

const ended = (s?: ExecutionState) => !!s && ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'].includes(s.status);

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

  /** With `accountExecutions`, close() counts this lab's executions, and those that never ended as lost. */
  constructor(readonly name: string, readonly pipelineIds: string[], readonly options: { accountExecutions?: boolean } = {}) {}

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
    await this.activate(await this.prepareWorker(faults, { standby: false }));
  }

  /**
   * Spawns a worker that loads and connects, then (with `standby`) waits for activate() before it takes work: the
   * next worker of a run through faults is ready the moment the last one dies, as a second machine's would be.
   */
  async prepareWorker(faults: Record<string, string>, { standby }: { standby: boolean }): Promise<PreparedWorker> {
    this.workerCount += 1;
    const log = createWriteStream(path.join(this.tmp, `worker-${this.workerCount}.log`));
    // node itself with tsx's loader, not tsx's CLI: the CLI runs the worker as a grandchild, which a kill of the
    // tracked pid would leave running.
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env, ...faults,
        ...(standby ? { FAULT_STANDBY: '1' } : {}),
        TEMPORAL_ADDRESS: `127.0.0.1:${this.port}`,
        STAGECOACH_PIPELINES_DIR: this.pipelinesDir,
        STAGECOACH_STATE_DIR: path.join(this.tmp, 'state'),
        STAGECOACH_SECRET: this.secret,
        STAGECOACH_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    child.stdin!.on('error', () => undefined); // a worker that died before its go
    // CI stops by pid whatever a crashed test leaves behind.
    const pidFile = path.join(STATE_DIR, 'ci-pids', `fault-worker-${child.pid}`);
    await fs.mkdir(path.dirname(pidFile), { recursive: true });
    await fs.writeFile(pidFile, String(child.pid));
    this.spawned.push(child);
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => {
      void fs.rm(pidFile, { force: true });
      resolve(signal === 'SIGKILL' ? -9 : code);
    }));
    const printed = (line: string) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not print "${line}" in 90 s (see ${this.tmp})`)), 90_000);
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes(line)) { clearTimeout(timer); resolve(); } });
      child.on('exit', () => { clearTimeout(timer); reject(new Error(`worker exited at start (see ${this.tmp})`)); });
    });
    const ready = printed('[worker] ready');
    ready.catch(() => undefined); // awaited by activate()
    if (standby) await printed('[worker] standby');
    return { child, exit, ready };
  }

  /** Lets a prepared worker take work, and waits until it polls. */
  async activate(prepared: PreparedWorker): Promise<void> {
    this.worker = prepared.child;
    this.workerExit = prepared.exit;
    prepared.child.stdin!.end('go\n');
    await prepared.ready;
  }

  /** Waits until the worker dies of its injected fault (answers true) or `until` holds first (false). */
  async waitForKill(until: () => Promise<boolean>, timeoutMs = 5 * 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    // A query waits for a worker to answer it: the death must not wait behind one.
    const killed = this.workerExit!.then(() => 'killed' as const);
    while (Date.now() < deadline) {
      const seen = await Promise.race([killed, until().then((done) => (done ? 'ended' as const : undefined))]);
      if (seen) return seen === 'killed';
      if (await Promise.race([killed, new Promise((r) => setTimeout(r, 200))]) === 'killed') return true;
    }
    throw new Error('neither the fault nor the expected state happened in time');
  }

  async stopWorker(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.worker || this.worker.exitCode !== null || this.worker.signalCode !== null) return this.worker?.exitCode ?? null;
    this.worker.kill(signal);
    return this.workerExit!;
  }

  /**
   * Runs one execution with the worker killed by each fault in turn (a fresh worker armed with the next one each
   * time), answering the approval and the schedule as signals (recorded even while no worker runs) when the execution
   * waits for them. The faults are in the order their moments come. Each is tallied by name.
   */
  async runThroughFaults(pipelineId: string, file: string, faults: Fault[]): Promise<ExecutionState> {
    const injected: string[] = [];
    await this.startWorker(faults[0]?.arm);
    const { executionId } = await this.stagecoach.startExecution(pipelineId, { by: 'carol' });
    const handle = this.client.workflow.getHandle(executionWorkflowId(pipelineId, executionId));
    let last: ExecutionState | undefined;
    const answerWaits = async () => {
      const s = await this.state(pipelineId, executionId);
      last = s ?? last;
      if (s?.waiting?.action === 'approval' && s.waiting.accepts.includes('approve')) await handle.signal(approveSignal, { by: 'alice' });
      if (s?.waiting?.action === 'schedule' && !s.waiting.scheduledAt) await handle.signal(scheduleSignal, { by: 'alice', now: true });
      return ended(s);
    };
    try {
      for (const [i, fault] of faults.entries()) {
        const next = this.prepareWorker(faults[i + 1]?.arm ?? {}, { standby: true });
        next.catch(() => undefined); // awaited below, or left to close()
        const killed = await this.waitForKill(answerWaits);
        if (!killed) throw new Error(`the worker was to be killed: ${fault.name}; the execution: ${last?.status} ${last?.reason ?? ''}`);
        const landed = await fault.landed?.();
        injected.push(landed ? `${fault.name} (${landed})` : fault.name);
        await this.activate(await next);
      }
    } finally {
      await tallyFaults(file, injected);
    }
    // Every answer sent while polling is awaited before the test moves on: a signal still retrying when the lab closes
    // its connection would throw from a timer ("Channel has been shut down") after the test has passed.
    const answers: Array<Promise<unknown>> = [];
    const final = await this.waitFor(pipelineId, executionId, (s) => { answers.push(answerWaits().catch(() => undefined)); return ended(s); }, 5 * 60_000);
    await Promise.all(answers);
    await this.stopWorker();
    return final;
  }

  /**
   * Watches Docker's own event stream for a pipeline's container creations and exec starts (live: the engine keeps
   * only its last 256 events, and image builds alone produce more). stop() answers what happened.
   */
  async watchContainers(pipelineId: string): Promise<{ stop(): Promise<ContainerEvent[]> }> {
    const events: ContainerEvent[] = [];
    const stream = await followDockerEvents(this.docker, { type: ['container'], event: ['create', 'exec_start'], label: [`stagecoach.pipeline=${pipelineId}`] }, (e) => {
      const a = e.Actor.Attributes;
      events.push({ action: e.Action, node: a['stagecoach.node'] ?? '', environment: a['stagecoach.environment'] ?? '', name: a.name ?? '' });
    });
    return {
      async stop() {
        await new Promise((r) => setTimeout(r, 500));
        stream.destroy();
        return events;
      },
    };
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
    if (this.options.accountExecutions && this.server) await this.accountExecutions();
    await this.stopServer();
    for (const id of this.pipelineIds) await removePipelineTopology(this.docker, id);
    if (!process.env.KEEP_TMP) await fs.rm(this.tmp, { recursive: true, force: true });
  }

  /** Counts the executions this lab's server ran, and those still running at the end: lost. */
  private async accountExecutions(): Promise<void> {
    let run = 0;
    let lost = 0;
    for await (const info of this.client.workflow.list({ query: 'WorkflowType = "pipelineExecution"' })) {
      run += 1;
      if (info.status.name === 'RUNNING') lost += 1;
    }
    await tally({ executionsRun: run, executionsLost: lost });
  }
}
