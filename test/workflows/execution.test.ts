/**
 * The pipeline and pipelineExecution workflows on the real dev server with fake activities (no Docker): the happy
 * path to Production, a reject, an approval that times out, and a re-execution, driven through the client
 * operations the CLI and the API use and checked on the state query and on what the fakes were asked to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionWorkflowId, rolloutWorkflowId } from '../../src/shared/ids';
import { approveSignal, rejectSignal } from '../../src/shared/messages';
import type { ExecutionState, PipelineConfig } from '../../src/shared/types';
import type { ActivityCall } from '../helpers/fake-activities';
import { startFakeWorker, type FakeWorkerHarness } from '../helpers/fake-worker';
import { hasEnded, isWaitingAt } from '../helpers/harness';
import { Refusal } from '../../src/shared/errors';

let h: FakeWorkerHarness;
beforeAll(async () => { h = await startFakeWorker('execution'); });
afterAll(async () => { await h?.close(); });

const callsIn = (workflowId: string, activityType: ActivityCall['activityType']) =>
  h.calls.filter((c) => c.workflowId === workflowId && c.activityType === activityType).length;
const deploysIn = (workflowId: string) => h.deploysIn(workflowId);

async function approveAndDeploy(pipelineId: string, executionId: string): Promise<ExecutionState> {
  await h.approveAndSchedule(pipelineId, executionId);
  return h.waitForExecution(pipelineId, executionId, hasEnded);
}

/** The image each node of an environment should run: the app image on author and publish, the dispatcher image on dispatchers. */
const expectedImage = (node: string, images: NonNullable<ExecutionState['artifacts']['images']>) =>
  node.startsWith('dispatcher') ? images.dispatcher.id : images.app.id;

function expectEnvironmentOn(config: PipelineConfig, env: 'stage' | 'prod', images: NonNullable<ExecutionState['artifacts']['images']>) {
  const name = config.environments[env].name;
  const nodes = h.world.nodesOf(config.id, name);
  expect(Object.keys(nodes)).toHaveLength(1 + 2 * config.environments[env].pairs);
  for (const [node, { image }] of Object.entries(nodes)) expect(image, `${env} ${node}`).toBe(expectedImage(node, images));
  expect(Object.values(h.world.serversOf(config.id, name))).toEqual(Array(config.environments[env].pairs).fill('ready'));
}

describe('pipelineExecution on fake activities', () => {
  it('happy path: builds once, rolls Stage and then Production node by node with the same images, FINISHED', async () => {
    const config = h.definePipeline('wf-happy');
    const { executionId, state: waiting } = await h.startToApproval(config.id);
    expect(waiting.waiting).toMatchObject({ accepts: expect.arrayContaining(['approve', 'reject', 'cancel']), allowed: ['alice', 'bob'] });
    // One running execution per pipeline, and no self-approval.
    await expect(h.stagecoach.startExecution(config.id, { by: 'carol' }, { preflight: false })).rejects.toMatchObject({ type: Refusal.Busy });
    await expect(h.stagecoach.send(config.id, executionId, 'approve', { by: 'carol' })).rejects.toMatchObject({ type: Refusal.Forbidden });

    const done = await approveAndDeploy(config.id, executionId);
    expect(done.status, done.reason).toBe('FINISHED');
    expect(done.steps.every((s) => s.status === 'FINISHED'), JSON.stringify(done.steps.map((s) => [s.action, s.status]))).toBe(true);
    expect(done.steps.at(-1)).toMatchObject({ action: 'deploy', environmentType: 'prod' });
    expect(done.audit.filter((a) => a.outcome === 'refused').map((a) => [a.action, a.by])).toEqual([['approve', 'carol']]);
    expect(done.rollouts.prod).toMatchObject({ status: 'FINISHED' });
    expect(done.rollouts.prod!.nodes.map((n) => [n.name, n.phase])).toEqual([['author', 'done'], ['pair-1', 'done'], ['pair-2', 'done']]);

    // Built once; Stage and Production got the very same image IDs, in the rollout's order.
    const workflowId = executionWorkflowId(config.id, executionId);
    expect([callsIn(workflowId, 'buildAndTest'), callsIn(workflowId, 'buildImages')]).toEqual([1, 1]);
    const images = done.artifacts.images!;
    const order = (pairs: number) => ['author', ...Array.from({ length: pairs }, (_, i) => [`publish-${i + 1}`, `dispatcher-${i + 1}`]).flat()];
    for (const env of ['stage', 'prod'] as const) {
      const deploys = deploysIn(rolloutWorkflowId(config.id, executionId, env));
      expect(deploys.map((d) => d.node), env).toEqual(order(config.environments[env].pairs));
      for (const d of deploys) expect(d.image, `${env} ${d.node}`).toBe(expectedImage(d.node, images));
      expectEnvironmentOn(config, env, images);
    }
    // Each Production pair left the load balancer and came back: drain, maintenance, ready.
    const lb = h.calls.flatMap((c) => c.activityType === 'setServerState' && c.workflowId === rolloutWorkflowId(config.id, executionId, 'prod')
      ? [`${c.input.server} ${c.input.state}`] : []);
    expect(lb).toEqual(['pair-1 drain', 'pair-1 maint', 'pair-1 ready', 'pair-2 drain', 'pair-2 maint', 'pair-2 ready']);
  });

  it('without the schedule step (schedule.enabled: false, as Cloud Manager allows): Production deploys once approved', async () => {
    const config = h.definePipeline('wf-no-schedule', { schedule: { enabled: false } });
    const { executionId, state } = await h.startToApproval(config.id);
    expect(state.steps.map((s) => s.action)).not.toContain('schedule');
    await h.stagecoach.send(config.id, executionId, 'approve', { by: 'alice' });
    const done = await h.waitForExecution(config.id, executionId, hasEnded);
    expect(done.status, done.reason).toBe('FINISHED');
    expect(done.steps.slice(-2).map((s) => [s.action, s.status])).toEqual([['approval', 'FINISHED'], ['deploy', 'FINISHED']]);
    // Nothing waits for a schedule, so one is refused as not waited for.
    await expect(h.stagecoach.send(config.id, executionId, 'schedule', { by: 'alice', now: true })).rejects.toMatchObject({ type: Refusal.NotWaiting });
  });

  it('reject (by signal): the execution is CANCELLED at the approval, Production untouched, and it cannot be re-executed', async () => {
    const config = h.definePipeline('wf-reject');
    const { executionId } = await h.startToApproval(config.id);
    // As the Temporal Web UI sends them: signals. A signal not allowed now is audited as refused, never dropped.
    const execution = h.client.workflow.getHandle(executionWorkflowId(config.id, executionId));
    await execution.signal(approveSignal, { by: 'mallory' });
    await h.waitForExecution(config.id, executionId, (s) => s.audit.some((a) => a.by === 'mallory'));
    await execution.signal(rejectSignal, { by: 'bob', reason: 'not this week' });
    const done = await h.waitForExecution(config.id, executionId, hasEnded);
    expect(done.audit.map((a) => [a.action, a.by, a.via, a.outcome])).toEqual([['approve', 'mallory', 'signal', 'refused'], ['reject', 'bob', 'signal', 'accepted']]);
    expect(done.status).toBe('CANCELLED');
    expect(done.reason).toMatch(/rejected by bob: not this week/);
    expect(done.steps.find((s) => s.action === 'approval')?.status).toBe('CANCELLED');
    expect(done.steps.find((s) => s.action === 'deploy' && s.environmentType === 'prod')?.status).toBe('NOT_STARTED');
    expect(deploysIn(rolloutWorkflowId(config.id, executionId, 'prod'))).toEqual([]);
    for (const [node, { image }] of Object.entries(h.world.nodesOf(config.id, config.environments.prod.name))) {
      expect(image, node).toBe(h.world.previousImage(config.id, config.environments.prod.name, node));
    }
    // Ended: the workflow takes no more decisions, and a production deployment that never ran cannot be repeated.
    await expect(h.stagecoach.send(config.id, executionId, 'approve', { by: 'alice' })).rejects.toMatchObject({ type: Refusal.NotWaiting, message: expect.stringMatching(/has ended/) });
    await h.waitForPipelineIdle(config.id);
    await expect(h.stagecoach.reExecute(config.id, { by: 'alice' })).rejects.toMatchObject({ type: Refusal.NotReExecutable, message: expect.stringMatching(/before its production deployment/) });
  });

  it('timeout: an approval or a schedule nobody gives ends the execution CANCELLED after its configured wait', async () => {
    /** Runs one execution until it has waited `timeout` at `action`, with nothing sent there. */
    const timesOut = async (pipelineId: string, action: 'approval' | 'schedule') => {
      const config = h.definePipeline(pipelineId, { [action]: { timeout: '2s' } });
      const { executionId } = await h.startToApproval(config.id);
      if (action === 'schedule') await h.stagecoach.send(config.id, executionId, 'approve', { by: 'bob' });
      const waiting = await h.waitForExecution(config.id, executionId, isWaitingAt(action));
      expect(Date.parse(waiting.waiting!.expiresAt) - Date.parse(waiting.waiting!.since), action).toBe(2000);
      const done = await h.waitForExecution(config.id, executionId, hasEnded, 15_000);
      expect(done.status, action).toBe('CANCELLED');
      expect(done.reason, action).toMatch(new RegExp(`the ${action}( step)? timed out`));
      expect(done.steps.find((s) => s.action === action)?.status, action).toBe('CANCELLED');
      expect(deploysIn(rolloutWorkflowId(config.id, executionId, 'prod')), action).toEqual([]);
    };
    // Side by side: each waits on its own durable timer.
    await Promise.all([timesOut('wf-approval-timeout', 'approval'), timesOut('wf-schedule-timeout', 'schedule')]);
  });

  it('re-execute: a RE_EXECUTE execution deploys the same image IDs to Production without building', async () => {
    const config = h.definePipeline('wf-reexecute');
    const { executionId: first } = await h.startToApproval(config.id);
    const original = await approveAndDeploy(config.id, first);
    expect(original.status, original.reason).toBe('FINISHED');
    await h.waitForPipelineIdle(config.id);

    const { executionId: second } = await h.stagecoach.reExecute(config.id, { by: 'alice' });
    expect(second).not.toBe(first);
    const again = await h.waitForExecution(config.id, second, hasEnded);
    expect(again.status, again.reason).toBe('FINISHED');
    expect(again).toMatchObject({ trigger: 'RE_EXECUTE', reExecutionOf: first });
    expect(again.steps.map((s) => `${s.action}${s.environmentType ? ` ${s.environmentType}` : ''}`)).toEqual(['validate', 'build', 'deploy prod']);
    expect(again.artifacts.images).toEqual(original.artifacts.images);
    expect(again.artifacts.copiedFrom).toBe(first);

    const workflowId = executionWorkflowId(config.id, second);
    expect([callsIn(workflowId, 'buildAndTest'), callsIn(workflowId, 'buildImages')]).toEqual([0, 0]);
    expect(deploysIn(rolloutWorkflowId(config.id, second, 'stage'))).toEqual([]);
    expect(deploysIn(rolloutWorkflowId(config.id, second, 'prod'))).toEqual(deploysIn(rolloutWorkflowId(config.id, first, 'prod')));
    expectEnvironmentOn(config, 'prod', original.artifacts.images!);

    const pipeline = await h.stagecoach.pipelineState(config.id);
    expect(pipeline.running).toBeUndefined();
    expect(pipeline.executions.map((e) => [e.id, e.trigger, e.status])).toEqual([[first, 'MANUAL', 'FINISHED'], [second, 'RE_EXECUTE', 'FINISHED']]);
  });
});
