/**
 * The rollingDeployment workflow on the real dev server with fake activities (no Docker): a node failing its health
 * check rolls Production back, a cancellation mid-rollout restores every node it touched, and a rollout on its own
 * keeps its window, continues as new on a long history, in maintenance mode holds requests around the whole
 * replacement, and for a web tier changes the dispatchers only. Checked on the execution's and the rollout's state queries and on what the fakes were asked to do.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NonRetryable } from '../../src/shared/errors';
import { TASK_QUEUE, WORKFLOW_TYPES, rolloutWorkflowId } from '../../src/shared/ids';
import { rolloutStateQuery } from '../../src/shared/messages';
import type { PipelineConfig } from '../../src/shared/types';
import type { rollingDeployment } from '../../src/workflows';
import { fakeDigest, type ActivityCall } from '../helpers/fake-activities';
import { gate, startFakeWorker, type FakeWorkerHarness } from '../helpers/fake-worker';
import { hasEnded } from '../helpers/harness';
import { eventually } from '../helpers/wait';

let h: FakeWorkerHarness;

beforeAll(async () => { h = await startFakeWorker('rollout'); });
afterEach(() => { h.intercept(undefined); });
afterAll(async () => { await h?.close(); });

/** Every Production node runs what it ran before the execution, and every pair is back in the load balancer. */
function expectProductionRestored(config: PipelineConfig) {
  const prod = config.environments.prod.name;
  for (const [node, { image }] of Object.entries(h.world.nodesOf(config.id, prod))) {
    expect(image, node).toBe(h.world.previousImage(config.id, prod, node));
  }
  expect(Object.values(h.world.serversOf(config.id, prod))).toEqual(Array(config.environments.prod.pairs).fill('ready'));
}

type DeployCall = Extract<ActivityCall, { activityType: 'deployNode' }>;
const isProdDeploy = (config: PipelineConfig, call: ActivityCall): call is DeployCall =>
  call.activityType === 'deployNode' && call.input.pipelineId === config.id && call.input.environment.type === 'prod';

describe('rollingDeployment in an execution, on fake activities', () => {
  it('rollback: a node failing its health check → ROLLING_BACK → ROLLED_BACK, every touched node restored, newest first', async () => {
    const config = h.definePipeline('wf-rollback');
    const prod = config.environments.prod.name;
    const restoring = gate();
    let failedAt: number | undefined;
    h.intercept(async (call) => {
      if (call.activityType === 'checkHealth') {
        const node = h.world.nodeServing(call.input.url);
        if (node?.pipelineId === config.id && node.environment === prod && node.node === 'publish-2' && node.image !== h.world.previousImage(config.id, prod, 'publish-2')) {
          failedAt = h.calls.length;
          throw ApplicationFailure.create({ type: NonRetryable.HealthCheckFailed, nonRetryable: true, message: 'publish-2 answers HTTP 500 (fake)' });
        }
      }
      // The first restoring replacement waits until the test has seen the rollback under way.
      if (failedAt !== undefined && isProdDeploy(config, call)) await restoring.hold();
    });
    const { executionId } = await h.startToApproval(config.id);
    await h.approveAndSchedule(config.id, executionId);
    await restoring.reached;
    const rollingBack = await h.waitForExecution(config.id, executionId, (s) => s.rollouts.prod?.status === 'ROLLING_BACK' || hasEnded(s));
    expect(rollingBack.steps.find((s) => s.action === 'deploy' && s.environmentType === 'prod')?.status).toBe('ROLLING_BACK');
    expect(rollingBack.status).toBe('RUNNING');
    restoring.release();

    const done = await h.waitForExecution(config.id, executionId, hasEnded);
    expect(done.status).toBe('FAILED');
    expect(done.steps.find((s) => s.action === 'deploy' && s.environmentType === 'prod')?.status).toBe('ROLLED_BACK');
    expect(done.rollouts.prod).toMatchObject({ status: 'ROLLED_BACK', reason: expect.stringMatching(/pair-2 failed: publish-2 answers HTTP 500/) });
    expect(done.rollouts.prod!.nodes.map((n) => [n.name, n.phase])).toEqual([['author', 'restored'], ['pair-1', 'restored'], ['pair-2', 'restored']]);
    expect(done.rollouts.prod!.nodes.find((n) => n.name === 'pair-2')?.error).toMatch(/HTTP 500/);

    // Forward author → pair-1 → pair-2; then back: pair-2, pair-1, author, each to the image it ran before.
    const deploys = h.deploysIn(rolloutWorkflowId(config.id, executionId, 'prod'));
    const images = done.artifacts.images!;
    expect(deploys.slice(0, 5).map((d) => d.node)).toEqual(['author', 'publish-1', 'dispatcher-1', 'publish-2', 'dispatcher-2']);
    expect(deploys.slice(0, 5).every((d) => d.image === (d.node.startsWith('dispatcher') ? images.dispatcher.id : images.app.id))).toBe(true);
    expect(deploys.slice(5)).toEqual(['publish-2', 'dispatcher-2', 'publish-1', 'dispatcher-1', 'author']
      .map((node) => ({ node, image: h.world.previousImage(config.id, prod, node) })));
    expectProductionRestored(config);
  });

  it('cancel mid-rollout: the replacement in flight stops, pairs already updated go back, the execution ends CANCELLED', async () => {
    const config = h.definePipeline('wf-cancel');
    const inFlight = gate();
    let held = false;
    h.intercept(async (call) => {
      if (!held && isProdDeploy(config, call) && call.input.node === 'publish-2') {
        held = true;
        await inFlight.holdUntilCancelled();
      }
    });
    const { executionId } = await h.startToApproval(config.id);
    await h.approveAndSchedule(config.id, executionId);
    await inFlight.reached;
    const rollout = h.client.workflow.getHandle(rolloutWorkflowId(config.id, executionId, 'prod'));
    const midway = await rollout.query(rolloutStateQuery);
    expect(midway).toMatchObject({ status: 'RUNNING', currentNode: 'pair-2' });
    expect(midway.nodes.map((n) => [n.name, n.phase])).toEqual([['author', 'done'], ['pair-1', 'done'], ['pair-2', 'deploying']]);

    await h.stagecoach.send(config.id, executionId, 'cancel', { by: 'alice', reason: 'wrong build' });
    const done = await h.waitForExecution(config.id, executionId, hasEnded);
    expect(done.status).toBe('CANCELLED');
    expect(done.reason).toMatch(/cancelled by alice: wrong build/);
    expect(done.steps.find((s) => s.action === 'deploy' && s.environmentType === 'prod')?.status).toBe('ROLLED_BACK');
    expect(done.rollouts.prod?.status).toBe('CANCELLED');
    expect(done.rollouts.prod!.nodes.map((n) => [n.name, n.phase])).toEqual([['author', 'restored'], ['pair-1', 'restored'], ['pair-2', 'restored']]);
    const final = await rollout.query(rolloutStateQuery);
    expect(final.cycle.filter((r) => r.restore).map((r) => r.node).filter((n, i, all) => all.indexOf(n) === i)).toEqual(['pair-2', 'pair-1', 'author']);
    expectProductionRestored(config);
  });
});

describe('rollingDeployment on its own, on fake activities', () => {
  type RolloutInput = Parameters<typeof rollingDeployment>[0];
  const newImages = { app: fakeDigest('wf-new', 'app'), dispatcher: fakeDigest('wf-new', 'dispatcher') };
  const inputFor = (config: PipelineConfig, images: RolloutInput['images']): RolloutInput => ({
    pipelineId: config.id, executionId: '1', environment: config.environments.prod, images,
    app: { port: config.app.port, healthPath: config.app.healthPath }, warmPages: config.cache.warmPages,
  });
  async function roll(config: PipelineConfig, images: RolloutInput['images'] = newImages) {
    const workflowId = rolloutWorkflowId(config.id, '1', 'prod');
    const handle = await h.client.workflow.start<typeof rollingDeployment>(WORKFLOW_TYPES.rollingDeployment, {
      workflowId, taskQueue: TASK_QUEUE, args: [inputFor(config, images)],
    });
    const result = await handle.result();
    const ops = h.calls.flatMap((c) => c.workflowId !== workflowId ? [] : [
      c.activityType === 'setServerState' ? `${c.input.server} ${c.input.state}`
        : c.activityType === 'waitForServerUp' ? `${c.input.server} up`
          : c.activityType === 'deployNode' ? `deploy ${c.input.node}`
            : c.activityType === 'setRequestHold' ? (c.input.hold ? 'hold requests' : 'release requests') : undefined,
    ].filter((op): op is string => op !== undefined));
    return { handle, result, ops };
  }

  it('rolls `window` pairs at a time and continues as new at a window boundary once its history is long', async () => {
    const config = h.definePipeline('wf-window', { environments: { prod: { pairs: 4, window: 2, rolloutHistoryLimit: 40 } } });
    const { handle, result, ops } = await roll(config);
    expect(result.status).toBe('FINISHED');
    expect(result.nodes.every((n) => n.phase === 'done')).toBe(true);
    const at = (op: string) => ops.indexOf(op);
    // Pairs 1 and 2 together, then 3 and 4, each window back in service before the next one leaves.
    expect(at('pair-2 drain')).toBeLessThan(at('pair-1 up'));
    expect(at('pair-4 drain')).toBeLessThan(at('pair-3 up'));
    expect(Math.max(at('pair-1 up'), at('pair-2 up'))).toBeLessThan(Math.min(at('pair-3 drain'), at('pair-4 drain')));
    // A second run finished the rollout, carrying the cycle: every node replaced exactly once.
    const latest = await handle.describe();
    expect(latest.runId).not.toBe(handle.firstExecutionRunId);
    const replaced = result.cycle.filter((r) => r.op.startsWith('replace')).map((r) => r.node);
    expect(replaced.sort()).toEqual(['author', 'pair-1', 'pair-1', 'pair-2', 'pair-2', 'pair-3', 'pair-3', 'pair-4', 'pair-4']);
    expect(ops.filter((op) => op.startsWith('deploy'))).toHaveLength(9);
    for (const [node, { image }] of Object.entries(h.world.nodesOf(config.id, config.environments.prod.name))) {
      expect(image, node).toBe(node.startsWith('dispatcher') ? newImages.dispatcher : newImages.app);
    }
  });

  it('maintenance mode: requests are held while every pair is out, released once all are back UP', async () => {
    const config = h.definePipeline('wf-maintenance', { environments: { prod: { pairs: 2, strategy: 'maintenance' } } });
    const { result, ops } = await roll(config);
    expect(result.status).toBe('FINISHED');
    expect(ops[0]).toBe('hold requests');
    expect(ops.at(-1)).toBe('release requests');
    const at = (op: string) => ops.indexOf(op);
    // Every pair is detached before anything is replaced, and none takes traffic before all are replaced.
    expect(Math.max(at('pair-1 maint'), at('pair-2 maint'))).toBeLessThan(at('deploy author'));
    expect(Math.max(at('deploy dispatcher-1'), at('deploy dispatcher-2'))).toBeLessThan(Math.min(at('pair-1 ready'), at('pair-2 ready')));
    expect(h.world.serversOf(config.id, config.environments.prod.name)).toEqual({ 'pair-1': 'ready', 'pair-2': 'ready' });
  });

  it('a pair already out of service (its publish lost from outside) is replaced first, before any serving pair is drained', async () => {
    const config = h.definePipeline('wf-lost-publish');
    const prod = config.environments.prod.name;
    h.world.nodesOf(config.id, prod); // the environment exists, on its previous release
    h.world.setPairDown(config.id, prod, 2, true);
    const { result, ops } = await roll(config);
    expect(result.status).toBe('FINISHED');
    expect(result.pairOrder).toEqual([2, 1]);
    const at = (op: string) => ops.indexOf(op);
    // Pair 1 carries all the traffic: it is drained only once pair 2 is back UP.
    expect(at('pair-2 up')).toBeLessThan(at('pair-1 drain'));
    expect(h.world.serversOf(config.id, prod)).toEqual({ 'pair-1': 'ready', 'pair-2': 'ready' });
  });

  it('a rollout waits, saying for what, while draining the next window would leave fewer pairs in service than the minimum', async () => {
    const config = h.definePipeline('wf-capacity-wait', { environments: { prod: { pairs: 3, minInService: 2, capacityTimeout: '2 minutes' } } });
    const prod = config.environments.prod.name;
    let downed = false;
    h.intercept(async (call) => {
      // Pair 3 drops out just as pair 1 is done: pair 2 may then not be drained (only pair 1 would serve).
      if (!downed && call.activityType === 'waitForServerUp' && call.input.environment.name === prod && call.input.server === 'pair-1') {
        downed = true;
        h.world.setPairDown(config.id, prod, 3, true);
      }
    });
    const workflowId = rolloutWorkflowId(config.id, '1', 'prod');
    const handle = await h.client.workflow.start<typeof rollingDeployment>(WORKFLOW_TYPES.rollingDeployment, {
      workflowId, taskQueue: TASK_QUEUE, args: [inputFor(config, newImages)],
    });
    const waiting = await eventually('the rollout to wait for capacity', async () => {
      const state = await handle.query(rolloutStateQuery);
      return state.waitingFor !== undefined ? state : undefined;
    });
    expect(waiting.waitingFor).toBe('2 pair(s) in service besides pair-2 before draining it (UP now: pair-1)');
    expect(h.world.serversOf(config.id, prod)['pair-2']).toBe('ready');
    h.world.setPairDown(config.id, prod, 3, false);
    const result = await handle.result();
    expect(result.status).toBe('FINISHED');
    expect(result.waitingFor).toBeUndefined();
  });

  it('web tier: without an app image only the dispatchers change, pair by pair', async () => {
    const config = h.definePipeline('wf-web-tier');
    const { result, ops } = await roll(config, { dispatcher: newImages.dispatcher });
    expect(result.status).toBe('FINISHED');
    expect(result.nodes.map((n) => n.name)).toEqual(['pair-1', 'pair-2']);
    expect(ops.filter((op) => op.startsWith('deploy'))).toEqual(['deploy dispatcher-1', 'deploy dispatcher-2']);
    const prod = config.environments.prod.name;
    for (const [node, { image }] of Object.entries(h.world.nodesOf(config.id, prod))) {
      expect(image, node).toBe(node.startsWith('dispatcher') ? newImages.dispatcher : h.world.previousImage(config.id, prod, node));
    }
  });
});
