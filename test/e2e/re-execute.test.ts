/**
 * Re-execute (Cloud Manager's rules): only the last execution, once its production deployment ran in any way; never
 * a push update or one that ended before Production. The new RE_EXECUTE execution deploys the same image IDs and
 * builds nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StagecoachError } from '../../src/client/errors';
import { syncSampleRepo } from '../../src/dev/sample-repo';
import { executionWorkflowId } from '../../src/shared/ids';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';

const ID = 't-reexec';
let h: Harness;

beforeAll(async () => {
  h = await startHarness('re-execute', [ID]);
  await h.writePipeline(testPipeline(ID, h.repo, { environments: { stage: { loadBalancerPort: 0, authorPort: 0 }, prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0 } } }));
});
afterAll(async () => h?.close());

const refused = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StagecoachError);
  return (err as Error).message;
};

describe('re-execute', () => {
  let first: string;

  it('is refused before any execution, and for one that ended before Production', async () => {
    expect(await refused(h.stagecoach.reExecute(ID, { by: 'alice' }))).toMatch(/no executions to re-execute/);
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    expect(await refused(h.stagecoach.reExecute(ID, { by: 'alice' }))).toMatch(/busy/);
    await h.stagecoach.send(ID, executionId, 'reject', { by: 'bob' });
    await h.waitFor(ID, executionId, hasEnded);
    await expect.poll(async () => (await h.stagecoach.pipelineState(ID)).running).toBeUndefined();
    expect(await refused(h.stagecoach.reExecute(ID, { by: 'alice' }))).toMatch(/before its production deployment/);
  });

  it('deploys the last execution\'s images again, building nothing', async () => {
    await syncSampleRepo(h.repo, '4.0.0');
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    first = executionId;
    await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    await h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' });
    await h.waitFor(ID, executionId, isWaitingAt('schedule'));
    await h.stagecoach.send(ID, executionId, 'schedule', { by: 'alice', now: true });
    const done = await h.waitFor(ID, executionId, hasEnded);
    expect(done.status).toBe('FINISHED');
    await expect.poll(async () => (await h.stagecoach.pipelineState(ID)).running).toBeUndefined();

    const again = await h.stagecoach.reExecute(ID, { by: 'alice', executionId: first });
    const state = await h.waitFor(ID, again.executionId, hasEnded);
    expect(state.status, state.reason).toBe('FINISHED');
    expect(state.trigger).toBe('RE_EXECUTE');
    expect(state.reExecutionOf).toBe(first);
    expect(state.steps.map((s) => `${s.stepId}:${s.status}`)).toEqual(['validate:FINISHED', 'build:FINISHED', 'deploy-prod:FINISHED']);
    expect(state.steps[1].details).toMatchObject({ copying: true, copiedFrom: first });
    expect(state.artifacts.images).toEqual(done.artifacts.images);
    for (const node of state.rollouts.prod!.nodes.filter((n) => n.role === 'pair')) {
      expect(node.currentImages).toEqual({ publish: done.artifacts.images!.app.id, dispatcher: done.artifacts.images!.dispatcher.id });
    }
    // Nothing was built for the re-execution: no image carries its execution label.
    const built = await h.docker.listImages({ filters: { label: [`stagecoach.pipeline=${ID}`, `stagecoach.execution=${again.executionId}`] } });
    expect(built).toHaveLength(0);
    expect((await fetch(state.urls.prod!)).headers.get('x-app-version')).toBe('4.0.0');
    await h.recordHistory('execution-re-execute', executionWorkflowId(ID, again.executionId));
  });

  it('is refused for an execution that is not the last, and for a push update', async () => {
    expect(await refused(h.stagecoach.reExecute(ID, { by: 'alice', executionId: first }))).toMatch(/only the pipeline's last execution/);
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol', trigger: 'PUSH_UPGRADES' });
    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'carol' });
    await h.waitFor(ID, executionId, hasEnded);
    await expect.poll(async () => (await h.stagecoach.pipelineState(ID)).running).toBeUndefined();
    expect(await refused(h.stagecoach.reExecute(ID, { by: 'alice' }))).toMatch(/push update \(PUSH_UPGRADES\)/);
    const audit = (await h.stagecoach.pipelineState(ID)).audit.filter((a) => a.action === 'reExecute');
    expect(audit.map((a) => a.outcome)).toEqual(['refused', 'refused', 'accepted', 'refused', 'refused']);
  });
});
