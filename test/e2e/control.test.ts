/**
 * Control of an execution (issue 5) on real parts: several approvals and a managed review, schedule rules and
 * rescheduling, every waiting step's limit, cancel with the right clean-up, emergency mode, signed webhooks that a
 * dead receiver cannot stall, and the ON_COMMIT and PUSH_UPGRADES triggers.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StagecoachError } from '../../src/client/errors';
import { commitChange, git } from '../../src/dev/sample-repo';
import { eventDeliveryWorkflowId, executionWorkflowId } from '../../src/shared/ids';
import { eventDeliveryStateQuery } from '../../src/shared/messages';
import type { ExecutionState } from '../../src/shared/types';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';

const ID = 't-control';
const DAY = 86_400_000;
let h: Harness;

const base = (overrides: Record<string, unknown> = {}) => testPipeline(ID, h.repo, {
  environments: { stage: { loadBalancerPort: 0, authorPort: 0 }, prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0 } },
  ...overrides,
});

beforeAll(async () => {
  h = await startHarness('control', [ID]);
  await h.writePipeline(base());
});
afterAll(async () => h?.close());

const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StagecoachError);
  return (err as Error).message;
};
const idle = () => expect.poll(async () => (await h.stagecoach.pipelineState(ID)).running, { timeout: 30_000 }).toBeUndefined();
const step = (s: ExecutionState, id: string) => s.steps.find((x) => x.stepId === id)!;

describe('approvals, managed review and schedules', () => {
  it('needs two distinct approvals, then the managed review, then a schedule that can be moved', async () => {
    await h.writePipeline(base({
      approval: {
        required: 2,
        approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }, { name: 'dave', roles: ['PROGRAM_MANAGER'] }],
        managedReview: { approvers: ['erin'] },
      },
    }));
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    let s = await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    expect(s.steps.map((x) => x.stepId)).toContain('managed');
    await h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' });
    s = await h.stagecoach.executionState(ID, executionId);
    expect(s.waiting).toMatchObject({ action: 'approval', approvedBy: ['alice'], required: 2, allowed: ['bob', 'dave'] });
    expect(await refusal(h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' }))).toMatch(/alice has already approved/);
    await h.stagecoach.send(ID, executionId, 'approve', { by: 'bob' });

    s = await h.waitFor(ID, executionId, isWaitingAt('managed'));
    expect(Date.parse(s.waiting!.expiresAt) - Date.parse(s.waiting!.since)).toBe(14 * DAY);
    expect(s.waiting!.allowed).toEqual(['erin']);
    expect(await refusal(h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' }))).toMatch(/not a managed-review approver/);
    await h.stagecoach.send(ID, executionId, 'approve', { by: 'erin' });

    s = await h.waitFor(ID, executionId, isWaitingAt('schedule'));
    expect(Date.parse(s.waiting!.expiresAt) - Date.parse(s.waiting!.since)).toBe(14 * DAY);
    const limit = Date.parse(s.waiting!.expiresAt);
    expect(await refusal(h.stagecoach.send(ID, executionId, 'schedule', { by: 'alice', at: new Date(limit + 60_000).toISOString() })))
      .toMatch(/beyond the schedule step's waiting limit/);
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    await h.stagecoach.send(ID, executionId, 'schedule', { by: 'alice', at: inAnHour });
    s = await h.waitFor(ID, executionId, (x) => x.waiting?.scheduledAt !== undefined);
    expect(Date.parse(s.waiting!.scheduledAt!)).toBe(Date.parse(inAnHour));
    expect(s.waiting!.expiresAt).toBe(new Date(limit).toISOString()); // rescheduling stays within the original limit
    // Rescheduling while the timer runs: now.
    await h.stagecoach.send(ID, executionId, 'schedule', { by: 'bob', now: true });
    s = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    expect(s.status, s.reason).toBe('FINISHED');
    expect(step(s, 'approval').details).toMatchObject({ approvedBy: ['alice', 'bob'] });
    expect(step(s, 'managed').details).toMatchObject({ approvedBy: ['erin'] });
    await idle();
  });

  it('each waiting step ends the execution when its own limit passes', async () => {
    await h.writePipeline(base({ schedule: { timeout: '2s' } }));
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    await h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' });
    let s = await h.waitFor(ID, executionId, hasEnded);
    expect(s.status).toBe('CANCELLED');
    expect(s.reason).toMatch(/no schedule within 2s/);
    expect(step(s, 'schedule').status).toBe('CANCELLED');
    expect(s.waiting).toBeUndefined();
    await idle();

    await h.writePipeline(base({ approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }], managedReview: { approvers: ['erin'], timeout: '2s' } } }));
    const second = await h.stagecoach.startExecution(ID, { by: 'carol' });
    await h.waitFor(ID, second.executionId, isWaitingAt('approval'), 8 * 60_000);
    await h.stagecoach.send(ID, second.executionId, 'approve', { by: 'alice' });
    s = await h.waitFor(ID, second.executionId, hasEnded);
    expect(s.reason).toMatch(/no managed review decision within 2s/);
    expect(step(s, 'managed').status).toBe('CANCELLED');
    await idle();
  });
});

describe('cancel and emergency mode', () => {
  it('cancel at validate ends the execution at once', async () => {
    await h.writePipeline(base());
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'carol', reason: 'wrong branch' });
    const s = await h.waitFor(ID, executionId, hasEnded);
    expect(s.status).toBe('CANCELLED');
    expect(s.reason).toBe('cancelled by carol: wrong branch');
    expect(s.steps.filter((x) => x.status === 'FINISHED').length).toBeLessThanOrEqual(1);
    expect(s.audit.at(-1)).toMatchObject({ action: 'cancel', by: 'carol', outcome: 'accepted' });
    await idle();
  });

  it('cancel during build stops the Docker build', async () => {
    await commitChange(h.repo, 'slow unit tests', async (dir) => {
      const file = path.join(dir, 'Dockerfile');
      const text = await fs.readFile(file, 'utf8');
      // Unique per run, so Docker's layer cache never skips the slow step.
      await fs.writeFile(file, text.replace('FROM base AS test\n', `FROM base AS test\nRUN sleep 45 # slow-build-marker ${Date.now()}\n`));
    });
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    await h.waitFor(ID, executionId, (x) => step(x, 'build').status === 'RUNNING' || hasEnded(x));
    const sleeping = async () => (await h.docker.listContainers()).filter((c) => c.Command.includes('slow-build-marker')).length;
    await expect.poll(sleeping, { timeout: 30_000 }).toBe(1);
    const cancelledAt = Date.now();
    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'carol' });
    const s = await h.waitFor(ID, executionId, hasEnded, 60_000);
    expect(s.status).toBe('CANCELLED');
    expect(step(s, 'build').status).toBe('CANCELLED');
    // Well before the 45 s sleep could end by itself: the build was stopped, not waited for.
    await expect.poll(sleeping, { timeout: 15_000 }).toBe(0);
    expect(Date.now() - cancelledAt).toBeLessThan(20_000);
    await git(h.repo, 'revert', '--no-edit', 'HEAD');
    await idle();
  });

  it('emergency mode skips the audit, never the approval, and shows the mode', async () => {
    // Both Stage gates configured (with a required header Stage lacks, so the security test would wait if it ran):
    // exactly the security test, the performance test and the audit are skipped; every other step runs.
    await h.writePipeline(base({
      securityTest: { requiredHeaders: { 'Content-Security-Policy': '' } },
      performanceTest: { requestsPerSecond: 10, duration: '2s' },
    }));
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol', mode: 'EMERGENCY' });
    const s = await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    expect(s.mode).toBe('EMERGENCY');
    expect(step(s, 'contentAudit').details).toMatchObject({ skipped: true });
    expect(step(s, 'productTest').details.skipped).toBeUndefined();
    const skippedForEmergency = s.steps.filter((x) => x.details.summary === 'skipped in EMERGENCY mode').map((x) => x.stepId);
    expect(skippedForEmergency).toEqual(['securityTest', 'performanceTest', 'contentAudit']);
    for (const id of skippedForEmergency) expect(step(s, id)).toMatchObject({ status: 'FINISHED', details: { skipped: true } });
    expect(step(s, 'securityTest').details.metrics).toBeUndefined(); // nothing measured, no report
    expect(s.artifacts.reports.map((r) => r.name)).not.toContain('performance test report');
    const ran = s.steps.filter((x) => x.phaseId !== 'production' && !skippedForEmergency.includes(x.stepId));
    expect(ran.map((x) => x.stepId)).toEqual(['validate', 'build', 'codeQuality', 'buildImage', 'deploy-stage', 'productTest', 'functionalTest', 'uiTest']);
    expect(ran.every((x) => x.status === 'FINISHED' && x.details.summary !== 'skipped in EMERGENCY mode')).toBe(true);
    expect(s.waiting!.action).toBe('approval');
    expect(step(s, 'approval').status).toBe('WAITING');
    // The Web UI's details of the execution say so.
    const handle = h.client.workflow.getHandle(executionWorkflowId(ID, executionId));
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toMatch(/\*\*mode\*\* EMERGENCY/);
    expect(metadata.currentDetails).toContain('**Emergency mode:** skips securityTest, performanceTest, contentAudit; never the approval');
    await h.writePipeline(base());
    // Temporal's own cancellation (Web UI "Request Cancellation", `temporal workflow cancel`) ends it the same way.
    await h.client.workflow.getHandle(executionWorkflowId(ID, executionId)).cancel();
    const ended = await h.waitFor(ID, executionId, hasEnded);
    expect(ended.status).toBe('CANCELLED');
    expect(ended.reason).toBe('cancelled through Temporal (workflow cancellation)');
    expect(step(ended, 'approval').status).toBe('CANCELLED');
    await idle();
  });
});

describe('events', () => {
  it('a receiver gets signed events in order; a receiver that is down stalls nothing', async () => {
    process.env.T_WEBHOOK_SECRET = 'test-secret';
    const received: Array<{ body: string; signature: string; timestamp: string }> = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => { received.push({ body, signature: String(req.headers['x-stagecoach-signature']), timestamp: String(req.headers['x-stagecoach-timestamp']) }); res.end('ok'); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const dead = http.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r())); // nothing listens there any more
    try {
      await h.writePipeline(base({ events: { webhooks: [
        { url: `http://127.0.0.1:${deadPort}/down`, secretEnv: 'T_WEBHOOK_SECRET' },
        { url: `http://127.0.0.1:${port}/hook`, secretEnv: 'T_WEBHOOK_SECRET' },
      ] } }));
      const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
      await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
      await h.stagecoach.send(ID, executionId, 'reject', { by: 'bob' });
      const s = await h.waitFor(ID, executionId, hasEnded);
      expect(s.status).toBe('CANCELLED');
      await expect.poll(() => received.some((r) => JSON.parse(r.body).subject.endsWith(`/execution/${executionId}`) && JSON.parse(r.body).kind === 'ended'), { timeout: 30_000 }).toBe(true);

      const events = received.map((r) => JSON.parse(r.body));
      // Each delivery signs its timestamp with its body; a receiver refuses one older than it accepts.
      for (const r of received) {
        expect(r.signature).toBe(`sha256=${createHmac('sha256', 'test-secret').update(`${r.timestamp}.${r.body}`).digest('hex')}`);
        expect(Math.abs(Date.now() / 1000 - Number(r.timestamp))).toBeLessThan(600);
      }
      const names = events.map((e) => `${e.kind}:${e.data.step?.stepId ?? 'execution'}`);
      expect(names.slice(0, 4)).toEqual(['started:execution', 'started:validate', 'ended:validate', 'started:build']);
      expect(names).toContain('ended:deploy-stage'); // e.g. a receiver starting its own tests once Stage is deployed
      expect(names.slice(-3)).toEqual(['waiting:approval', 'ended:approval', 'ended:execution']);
      expect(events[0]).toMatchObject({
        specversion: '1.0', type: 'https://ns.adobe.com/experience/cloudmanager/event/started',
        data: { event: { 'xdmEventEnvelope:objectType': 'https://ns.adobe.com/experience/cloudmanager/pipeline-execution' } },
      });
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      // The dead receiver is still being retried (or has given up) while the execution has long ended.
      const delivery = await h.client.workflow.getHandle(eventDeliveryWorkflowId(ID, executionId)).query(eventDeliveryStateQuery);
      expect(delivery.pending + delivery.failed.length).toBeGreaterThan(0);
      await h.client.workflow.getHandle(eventDeliveryWorkflowId(ID, executionId)).terminate('test over');
    } finally {
      server.close();
      await h.writePipeline(base());
    }
    await idle();
  });
});

describe('triggers', () => {
  it('ON_COMMIT: a new commit starts an execution when the pipeline is idle', async () => {
    await h.writePipeline(base({ triggers: { onCommit: { pollInterval: '2s' } } }));
    const manual = await h.stagecoach.startExecution(ID, { by: 'carol' });
    await h.waitFor(ID, manual.executionId, isWaitingAt('approval'), 8 * 60_000);
    await h.stagecoach.send(ID, manual.executionId, 'reject', { by: 'bob' });
    await h.waitFor(ID, manual.executionId, hasEnded);
    const head = await commitChange(h.repo, 'a change', async (dir) => fs.appendFile(path.join(dir, 'app', 'server.py'), '\n# change\n'));
    await expect.poll(async () => (await h.stagecoach.pipelineState(ID)).running?.trigger, { timeout: 30_000 }).toBe('ON_COMMIT');
    const running = (await h.stagecoach.pipelineState(ID)).running!;
    const s = await h.waitFor(ID, running.id, (x) => x.commitId !== undefined || hasEnded(x));
    expect(s.commitId).toBe(head);
    // Its starter is the commit's author, whom no person of this pipeline has (docs/identity.md).
    expect(s.user).toBe('unknown author <sample@stagecoach.invalid>');
    // While it runs, a notified commit starts nothing.
    expect(await h.stagecoach.notifyCommit(ID)).toMatchObject({ started: false, reason: expect.stringMatching(/busy/) });
    await h.stagecoach.send(ID, running.id, 'cancel', { by: 'alice' });
    await h.waitFor(ID, running.id, hasEnded);
    await h.writePipeline(base());
    await idle();
  });

  it('PUSH_UPGRADES rebuilds the last execution\'s commit, even after the branch moved', async () => {
    const last = (await h.stagecoach.pipelineState(ID)).executions.at(-1)!;
    const moved = await commitChange(h.repo, 'later work', async (dir) => fs.appendFile(path.join(dir, 'app', 'server.py'), '\n# later\n'));
    expect(moved).not.toBe(last.commitId);
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'operator', trigger: 'PUSH_UPGRADES' });
    const s = await h.waitFor(ID, executionId, (x) => step(x, 'build').status !== 'NOT_STARTED' && step(x, 'build').status !== 'RUNNING', 8 * 60_000);
    expect(s.trigger).toBe('PUSH_UPGRADES');
    expect(s.commitId).toBe(last.commitId);
    expect(step(s, 'validate').details.summary).toMatch(/push update of/);
    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'operator' });
    await h.waitFor(ID, executionId, hasEnded);
    expect((await h.client.workflow.getHandle(executionWorkflowId(ID, executionId)).describe()).typedSearchAttributes
      .get({ name: 'PipelineTrigger', type: 'KEYWORD' } as never)).toBe('PUSH_UPGRADES');
  });
});
