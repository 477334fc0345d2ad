/**
 * Bad input gets a clear error and changes nothing: an unknown pipeline, an invalid configuration and a missing
 * branch start no workflow at all; a second start while one runs is refused (busy) and audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowNotFoundError } from '@temporalio/client';
import { StagecoachError } from '../../src/client/errors';
import { NonRetryable, Refusal } from '../../src/shared/errors';
import { pipelineWorkflowId } from '../../src/shared/ids';
import { hasEnded, startHarness, testPipeline, type Harness } from '../helpers/harness';

const ID = 't-bad';
let h: Harness;

beforeAll(async () => {
  h = await startHarness('bad-input', [ID]);
});
afterAll(async () => h?.close());

async function startError(pipelineId: string): Promise<StagecoachError> {
  const err = await h.stagecoach.startExecution(pipelineId, { by: 'carol' }).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StagecoachError);
  return err as StagecoachError;
}

async function expectNoWorkflow(pipelineId: string) {
  await expect(h.client.workflow.getHandle(pipelineWorkflowId(pipelineId)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
}

describe('bad input', () => {
  it('an unknown pipeline: says which pipelines exist, starts nothing', async () => {
    await h.writePipeline(testPipeline(ID, h.repo));
    const err = await startError('t-nosuch');
    expect(err.type).toBe(NonRetryable.PipelineNotFound);
    expect(err.message).toMatch(/Unknown pipeline "t-nosuch".*known pipelines: t-bad/);
    await expectNoWorkflow('t-nosuch');
  });

  it('an invalid configuration: names each bad field, starts nothing', async () => {
    await h.writePipeline(testPipeline('t-bad-config', h.repo, {
      environments: { prod: { pairs: 2, window: 3, loadBalancerPort: 'eighty' } },
      approval: { timeout: 'fortnight' },
    }));
    const err = await startError('t-bad-config');
    expect(err.type).toBe(NonRetryable.InvalidConfig);
    expect(err.message).toContain('environments.prod.loadBalancerPort');
    expect(err.message).toContain('approval.timeout: a duration such as "14 days"');
    await expectNoWorkflow('t-bad-config');
  });

  it('a branch that does not exist: names the branches there are, starts nothing', async () => {
    await h.writePipeline(testPipeline('t-bad-branch', h.repo, { branch: 'release/9' }));
    const err = await startError('t-bad-branch');
    expect(err.message).toBe(`Branch "release/9" does not exist in ${h.repo} (branches: main)`);
    await expectNoWorkflow('t-bad-branch');
  });

  it('two concurrent starts: exactly one runs, the other is refused as busy; cancel stops the runner', async () => {
    await h.writePipeline(testPipeline(ID, h.repo));
    const results = await Promise.allSettled([
      h.stagecoach.startExecution(ID, { by: 'carol' }),
      h.stagecoach.startExecution(ID, { by: 'dave' }),
    ]);
    const started = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(started).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0].reason).toBeInstanceOf(StagecoachError);
    expect((refused[0].reason as StagecoachError).type).toBe(Refusal.Busy);
    expect((refused[0].reason as Error).message).toMatch(/pipeline t-bad is busy/);

    const { executionId } = (started[0] as PromiseFulfilledResult<{ executionId: string }>).value;
    // alice (a DEPLOYMENT_MANAGER) may cancel whichever of the two started it.
    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'alice', reason: 'test over' });
    const state = await h.waitFor(ID, executionId, hasEnded);
    expect(state.status).toBe('CANCELLED');
    const pipeline = await h.stagecoach.pipelineState(ID);
    expect(pipeline.audit.filter((a) => a.action === 'start').map((a) => a.outcome).sort()).toEqual(['accepted', 'refused']);
  });
});
