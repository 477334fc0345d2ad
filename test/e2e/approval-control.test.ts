/**
 * The approval wait on real parts: refusals are audited, reject ends the execution without touching Production,
 * the approval times out (an injected short limit; the 14-day default is shown on the waiting state), and a Web UI
 * user's `temporal workflow signal` approves.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { StagecoachError } from '../../src/client/errors';
import { containerName } from '../../src/topology/names';
import { executionWorkflowId } from '../../src/shared/ids';
import { approveSignal, scheduleSignal } from '../../src/shared/messages';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';

const ID = 't-approval';
const DAY = 86_400_000;
let h: Harness;

beforeAll(async () => {
  h = await startHarness('approval', [ID]);
  await h.writePipeline(testPipeline(ID, h.repo));
});
afterAll(async () => h?.close());

const refusal = async (promise: Promise<unknown>) => {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StagecoachError);
  return (err as StagecoachError).message;
};

const prodContainers = async () => {
  const all = await h.docker.listContainers({ all: true, filters: { label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=prod'] } });
  return all.length;
};

describe('approval', () => {
  it('refuses what is not allowed, records it, and a reject cancels without touching Production', async () => {
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'alice' });
    // Nothing waits yet, or only the approval waits: schedule is refused (update) and recorded (signal).
    let state = await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    expect(state.status).toBe('RUNNING');
    // The 14-day default limit of the approval wait, in workflow time.
    expect(Date.parse(state.waiting!.expiresAt) - Date.parse(state.waiting!.since)).toBe(14 * DAY);

    expect(await refusal(h.stagecoach.send(ID, executionId, 'schedule', { by: 'bob', now: true }))).toMatch(/not waiting for a schedule/);
    expect(await refusal(h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' }))).toMatch(/self-approval is not allowed/);
    expect(await refusal(h.stagecoach.send(ID, executionId, 'approve', { by: 'mallory' }))).toMatch(/mallory is not an approver/);
    expect(await refusal(h.stagecoach.send(ID, executionId, 'approve', { by: '' }))).toMatch(/needs "by"/);
    await h.client.workflow.getHandle(executionWorkflowId(ID, executionId)).signal(scheduleSignal, { by: 'bob', now: true });

    await h.stagecoach.send(ID, executionId, 'reject', { by: 'bob', reason: 'not this week' });
    state = await h.waitFor(ID, executionId, hasEnded);
    expect(state.status).toBe('CANCELLED');
    expect(state.reason).toBe('rejected by bob: not this week');
    expect(state.steps.find((s) => s.action === 'approval')!.status).toBe('CANCELLED');
    expect(state.steps.filter((s) => s.phaseId === 'production' && s.action !== 'approval').map((s) => s.status)).toEqual(['NOT_STARTED', 'NOT_STARTED']);
    expect(state.waiting).toBeUndefined();
    expect(await prodContainers()).toBe(0);

    const audit = state.audit.map((a) => `${a.via} ${a.action} ${a.by} ${a.outcome}`);
    expect(audit).toEqual([
      'update schedule bob refused', 'update approve alice refused', 'update approve mallory refused',
      'signal schedule bob refused', 'update reject bob accepted',
    ]);
    expect(state.audit[3].reason).toMatch(/not waiting for a schedule/);
    // Once ended, nothing is offered any more.
    await h.recordHistory('execution-reject', executionWorkflowId(ID, executionId));
    expect(await refusal(h.stagecoach.send(ID, executionId, 'approve', { by: 'bob' }))).toMatch(/has ended \(CANCELLED\): nothing waits for approve/);
  });

  it('times out the approval after the configured limit and offers nothing afterwards', async () => {
    await h.writePipeline(testPipeline(ID, h.repo, { approval: { timeout: '3s', approvers: [{ name: 'bob', roles: ['BUSINESS_OWNER'] }] } }));
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    const state = await h.waitFor(ID, executionId, hasEnded, 8 * 60_000);
    expect(state.status).toBe('CANCELLED');
    expect(state.reason).toMatch(/no approval decision within 3s/);
    await h.recordHistory('execution-approval-timeout', executionWorkflowId(ID, executionId));
    expect(state.steps.find((s) => s.action === 'approval')!.status).toBe('CANCELLED');
    expect(state.waiting).toBeUndefined();
    expect(await prodContainers()).toBe(0);
  });

  it('approves through `temporal workflow signal`, as a Web UI user does', async () => {
    await h.writePipeline(testPipeline(ID, h.repo));
    const { executionId, workflowId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    await promisify(execFile)(inject('temporalCli'), [
      'workflow', 'signal', '--address', inject('temporalAddress'), '--workflow-id', workflowId,
      '--name', approveSignal.name, '--input', JSON.stringify({ by: 'bob' }),
    ]);
    const state = await h.waitFor(ID, executionId, isWaitingAt('schedule'));
    expect(state.steps.find((s) => s.action === 'approval')!.details).toMatchObject({ decision: 'approved', by: 'bob' });
    expect(state.audit.at(-1)).toMatchObject({ via: 'signal', action: 'approve', by: 'bob', outcome: 'accepted' });
    // A schedule in the past is refused; cancelling ends the wait.
    expect(await refusal(h.stagecoach.send(ID, executionId, 'schedule', { by: 'bob', at: '2001-01-01T00:00:00Z' }))).toMatch(/in the past/);
    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'bob', reason: 'demo over' });
    const ended = await h.waitFor(ID, executionId, hasEnded);
    expect(ended.status).toBe('CANCELLED');
    expect(ended.reason).toBe('cancelled by bob: demo over');
    await h.recordHistory('execution-signal-approve-then-cancel', executionWorkflowId(ID, executionId));
    expect(await prodContainers()).toBe(0);
    expect(containerName(ID, 'prod', 'lb')).toBe('sc-t-approval-prod-lb');
  });
});
