/**
 * The spine, on real parts: a real dev server, real Docker, real HAProxy and Varnish, a real git repository.
 * One execution goes from validation to Production; the state and the search attributes are checked at each wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executionWorkflowId, pipelineWorkflowId, rolloutWorkflowId } from '../../src/shared/ids';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';

const ID = 't-happy';
let h: Harness;

beforeAll(async () => {
  h = await startHarness('happy', [ID]);
  // Every step for real, the UI test image included.
  await h.writePipeline(testPipeline(ID, h.repo, { tests: { ui: { enabled: true } } }));
});
afterAll(async () => h?.close());

async function page(url: string) {
  const res = await fetch(url);
  return { status: res.status, body: await res.text(), version: res.headers.get('x-app-version') };
}

describe('an execution from validation to Production', () => {
  let executionId: string;

  it('runs every stage step for real and waits for approval', async () => {
    const started = await h.stagecoach.startExecution(ID, { by: 'carol' });
    executionId = started.executionId;
    expect(started.workflowId).toBe(executionWorkflowId(ID, executionId));

    const state = await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    expect(state.status).toBe('RUNNING');
    const statuses = Object.fromEntries(state.steps.map((s) => [s.stepId, s.status]));
    expect(statuses).toEqual({
      validate: 'FINISHED', build: 'FINISHED', codeQuality: 'FINISHED', buildImage: 'FINISHED', 'deploy-stage': 'FINISHED',
      productTest: 'FINISHED', functionalTest: 'FINISHED', uiTest: 'FINISHED', contentAudit: 'FINISHED',
      approval: 'WAITING', schedule: 'NOT_STARTED', 'deploy-prod': 'NOT_STARTED',
    });
    expect(state.waiting).toMatchObject({ action: 'approval', accepts: ['approve', 'reject', 'cancel'], allowed: ['alice', 'bob'] });
    // The unit tests really ran in the app's test stage.
    expect(state.artifacts.unitTests?.passed).toBeGreaterThan(0);
    expect(state.artifacts.unitTests?.skipped).toBeGreaterThan(0);
    expect(state.artifacts.images?.app.id).toMatch(/^sha256:/);
    // Stage serves the new version through its load balancer.
    const stage = await page(state.urls.stage!);
    expect(stage.status).toBe(200);
    expect(stage.body).toContain('version 2.0.0');

    const description = await h.client.workflow.getHandle(started.workflowId).describe();
    const attributes = description.typedSearchAttributes;
    expect(attributes.get({ name: 'PipelineId', type: 'KEYWORD' } as never)).toBe(ID);
    expect(attributes.get({ name: 'PipelineStatus', type: 'KEYWORD' } as never)).toBe('RUNNING');
    expect(attributes.get({ name: 'PipelineStep', type: 'KEYWORD' } as never)).toBe('approval');
    expect(attributes.get({ name: 'CommitId', type: 'KEYWORD' } as never)).toBe(state.commitId);
  });

  it('deploys the same images to Production after approval and a schedule', async () => {
    await h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' });
    await h.waitFor(ID, executionId, isWaitingAt('schedule'));
    await h.stagecoach.send(ID, executionId, 'schedule', { by: 'alice', now: true });
    const state = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    expect(state.status).toBe('FINISHED');
    expect(state.steps.every((s) => s.status === 'FINISHED')).toBe(true);

    const prod = state.rollouts.prod!;
    expect(prod.status).toBe('FINISHED');
    const images = state.artifacts.images!;
    for (const node of prod.nodes.filter((n) => n.role === 'pair')) {
      expect(node.currentImages).toEqual({ publish: images.app.id, dispatcher: images.dispatcher.id });
    }
    for (let i = 0; i < 4; i++) {
      const res = await page(state.urls.prod!);
      expect(res.status).toBe(200);
      expect(res.version).toBe('2.0.0');
    }
    const description = await h.client.workflow.getHandle(executionWorkflowId(ID, executionId)).describe();
    expect(description.typedSearchAttributes.get({ name: 'PipelineStatus', type: 'KEYWORD' } as never)).toBe('FINISHED');
    // Every activity carries a summary for the Web UI (its name and what it acts on).
    const history = await h.client.workflow.getHandle(rolloutWorkflowId(ID, executionId, 'prod')).fetchHistory();
    const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled.length).toBeGreaterThan(10);
    const summaries = scheduled.map((e) => Buffer.from(e.userMetadata?.summary?.data ?? []).toString());
    expect(summaries.every((text) => text.length > 2)).toBe(true);
    expect(summaries).toContain('"deployNode: prod publish-1"');
    expect(state.audit.map((a) => [a.action, a.by, a.outcome])).toEqual([['approve', 'alice', 'accepted'], ['schedule', 'alice', 'accepted']]);
    await h.recordHistory('execution-happy-path', executionWorkflowId(ID, executionId));
    await h.recordHistory('rollout-prod', rolloutWorkflowId(ID, executionId, 'prod'));
    await h.recordHistory('pipeline', pipelineWorkflowId(ID));
  });
});
