/**
 * Workflow tests without Docker: a worker on the shared dev server (test/setup/global.ts) running the REAL workflow
 * bundle with the fake activities of fake-activities.ts, the client operations every real client uses, and what the
 * fakes saw. Each test names its own pipelines and scripts the fakes for them through `intercept`.
 */
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerPlugin } from '@temporalio/worker';
import { inject } from 'vitest';
import { Stagecoach } from '../../src/client/operations';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { TASK_QUEUE } from '../../src/shared/ids';
import type { ExecutionState, PipelineConfig } from '../../src/shared/types';
import { WORKER_TUNING } from '../../src/worker';
import { createFakeActivities, type ActivityCall, type FakeWorld } from './fake-activities';
import { isWaitingAt } from './harness';
import { eventually } from './wait';

export interface FakeWorkerHarness {
  stagecoach: Stagecoach;
  client: Client;
  world: FakeWorld;
  /** Every activity call the fakes saw, in the order they started. */
  calls: ActivityCall[];
  /**
   * Declares a pipeline the fake `loadPipeline` answers: a small valid configuration (through the real parser)
   * with `overrides` merged in (objects key by key, e.g. `{ approval: { timeout: '2s' } }`). Answers the parsed configuration.
   */
  definePipeline(id: string, overrides?: Record<string, unknown>): PipelineConfig;
  /** Scripts the fakes: runs at every activity's start (throw to fail it, await to hold it). One at a time. */
  intercept(onStart: ((call: ActivityCall) => void | Promise<void>) | undefined): void;
  /** The nodes the fakes were asked to deploy in one workflow (a rollout), in order, with the image each got. */
  deploysIn(workflowId: string): Array<{ node: string; image: string }>;
  /** Starts an execution as carol (who is no approver) and waits until it waits for its approval. */
  startToApproval(pipelineId: string): Promise<{ executionId: string; state: ExecutionState }>;
  /** At the approval wait: alice approves, then schedules the production deployment for now. */
  approveAndSchedule(pipelineId: string, executionId: string): Promise<void>;
  /**
   * Waits until the pipeline workflow has recorded its last execution's end (it learns of it a moment after the
   * execution's own state query says so): what a re-execution needs first.
   */
  waitForPipelineIdle(pipelineId: string): Promise<void>;
  /** Polls the execution's state query until `until` holds; fails with the last state after `timeoutMs`. */
  waitForExecution(pipelineId: string, executionId: string, until: (s: ExecutionState) => boolean, timeoutMs?: number): Promise<ExecutionState>;
  close(): Promise<void>;
}

/**
 * A point where fake activities stop: `reached` once the first one is there. `hold` waits for `release`;
 * `holdUntilCancelled` waits for the activity's cancellation, heartbeating as real long activities do.
 */
export interface Gate { reached: Promise<void>; hold(): Promise<void>; holdUntilCancelled(): Promise<never>; release(): void }

export function gate(): Gate {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => { arrive = resolve; });
  const released = new Promise<void>((resolve) => { release = resolve; });
  return {
    reached, release,
    hold: () => { arrive(); return released; },
    async holdUntilCancelled() {
      arrive();
      const ctx = Context.current();
      const beat = setInterval(() => ctx.heartbeat(), 100);
      try {
        await ctx.cancelled;
        throw new Error('unreachable: `cancelled` only ever rejects');
      } finally {
        clearInterval(beat);
      }
    },
  };
}

/** The defaults tests build on: Stage of one pair, Production of two, alice and bob approve, carol starts. */
function baseConfig(id: string): Record<string, unknown> {
  return {
    id,
    repository: 'fake://repository',
    branch: 'main',
    environments: { stage: { pairs: 1, drainTimeout: '1s' }, prod: { pairs: 2, drainTimeout: '1s' } },
    // Names as given: these tests are about what a decision does; signed decisions have tests of their own.
    identity: 'declared',
    approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }] },
    productTest: { pages: [{ path: '/', expect: 'version {version}' }] },
    cache: { warmPages: ['/', '/about'] },
    audit: { pages: ['/'] },
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function merged(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const result = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = result[key];
    result[key] = isObject(current) && isObject(value) ? merged(current, value) : value;
  }
  return result;
}

/** `plugins`: worker plugins (tracing); their workflow interceptors need a bundle of their own, made at Worker.create. */
export async function startFakeWorker(name: string, options: { plugins?: WorkerPlugin[] } = {}): Promise<FakeWorkerHarness> {
  const configs = new Map<string, PipelineConfig>();
  const calls: ActivityCall[] = [];
  let onStart: ((call: ActivityCall) => void | Promise<void>) | undefined;
  const { activities, world } = createFakeActivities({
    pipelineConfig: (id) => {
      const config = configs.get(id);
      if (!config) throw new Error(`test pipeline ${id} is not defined (definePipeline)`);
      return config;
    },
    onStart: async (call) => {
      calls.push(call);
      await onStart?.(call);
    },
  });
  const address = inject('temporalAddress');
  const nativeConnection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue: TASK_QUEUE,
    ...(options.plugins
      ? { plugins: options.plugins, workflowsPath: path.join(__dirname, '..', '..', 'src', 'workflows', 'index.ts') }
      : { workflowBundle: { codePath: inject('workflowBundlePath') } }),
    activities,
    identity: `workflow-test-${name}`,
    ...WORKER_TUNING,
    shutdownGraceTime: '1 second',
    // A cancellation reaches an activity with a heartbeat's answer: answer quickly.
    maxHeartbeatThrottleInterval: '100 milliseconds',
    defaultHeartbeatThrottleInterval: '100 milliseconds',
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const stagecoach = new Stagecoach(client);

  const harness: FakeWorkerHarness = {
    stagecoach, client, world, calls,
    definePipeline(id, overrides = {}) {
      const config = parsePipelineConfig(merged(baseConfig(id), overrides), `test pipeline ${id}`);
      configs.set(id, config);
      return config;
    },
    intercept(fn) {
      onStart = fn;
    },
    deploysIn(workflowId) {
      return calls.flatMap((c) => c.activityType === 'deployNode' && c.workflowId === workflowId ? [{ node: c.input.node, image: c.input.image }] : []);
    },
    async startToApproval(pipelineId) {
      const { executionId } = await stagecoach.startExecution(pipelineId, { by: 'carol' }, { preflight: false });
      const state = await harness.waitForExecution(pipelineId, executionId, isWaitingAt('approval'));
      if (state.waiting?.action !== 'approval') throw new Error(`execution ${executionId} ended ${state.status} before its approval: ${state.reason}`);
      return { executionId, state };
    },
    async approveAndSchedule(pipelineId, executionId) {
      await stagecoach.send(pipelineId, executionId, 'approve', { by: 'alice' });
      const state = await harness.waitForExecution(pipelineId, executionId, isWaitingAt('schedule'));
      if (state.waiting?.action !== 'schedule') throw new Error(`execution ${executionId} ended ${state.status} before its schedule: ${state.reason}`);
      await stagecoach.send(pipelineId, executionId, 'schedule', { by: 'alice', now: true });
    },
    async waitForPipelineIdle(pipelineId) {
      await eventually(`pipeline ${pipelineId} to be idle`, async () => ((await stagecoach.pipelineState(pipelineId)).running ? undefined : true));
    },
    async waitForExecution(pipelineId, executionId, until, timeoutMs = 30_000) {
      let last: ExecutionState | undefined;
      try {
        return await eventually(`execution ${executionId} of ${pipelineId}`, async () => {
          last = await stagecoach.executionState(pipelineId, executionId).catch(() => last);
          return last && until(last) ? last : undefined;
        }, timeoutMs);
      } catch (err) {
        const steps = last?.steps.map((s) => `${s.action}${s.environmentType ? ` ${s.environmentType}` : ''}: ${s.status}`);
        throw new Error(`${(err as Error).message}; last state: ${JSON.stringify({ status: last?.status, reason: last?.reason, steps })}`, { cause: err });
      }
    },
    async close() {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
  return harness;
}
