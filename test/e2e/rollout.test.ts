/**
 * Rolling deployment on real HAProxy and Varnish (issue 3): zero downtime under a bounded load, the order proven from
 * the recorded cycle, cache flush and warm-up, rollback when a node fails its health check, cancel mid-roll, and a
 * release after a publish was lost from outside (issue 16: the pair out of service rolls first).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { createLoadBalancerActivities } from '../../src/activities/load-balancer';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { commitChange, syncSampleRepo } from '../../src/dev/sample-repo';
import { executionWorkflowId, rolloutWorkflowId } from '../../src/shared/ids';
import { rolloutStateQuery } from '../../src/shared/messages';
import type { ExecutionState, RolloutResult } from '../../src/shared/types';
import { containerName, publishNodeName } from '../../src/topology/names';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';
import { moreAnswers, startLoad, summarize } from '../helpers/load';

const ID = 't-roll';
let h: Harness;
// rolloutHistoryLimit 1: Production's rollout continues as new at every window boundary, so every case below (order,
// zero downtime, rollback, cancel) also proves a rollout carries its state, and its rollback, across runs.
const config = () => testPipeline(ID, h.repo, { environments: {
  stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
  prod: { pairs: 2, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s', rolloutHistoryLimit: 1 },
} });

beforeAll(async () => {
  h = await startHarness('rollout', [ID]);
  await h.writePipeline(config());
});
afterAll(async () => h?.close());

/** Runs an execution to the approval wait, approves and schedules it now; answers once it is deploying to prod. */
async function toProduction(by = 'carol'): Promise<{ executionId: string; atApproval: ExecutionState }> {
  const { executionId } = await h.stagecoach.startExecution(ID, { by });
  const atApproval = await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
  expect(atApproval.status, atApproval.reason).toBe('RUNNING');
  return { executionId, atApproval };
}
async function release(executionId: string) {
  await h.stagecoach.send(ID, executionId, 'approve', { by: 'alice' });
  await h.waitFor(ID, executionId, isWaitingAt('schedule'));
  await h.stagecoach.send(ID, executionId, 'schedule', { by: 'alice', now: true });
}
const rollout = (executionId: string) =>
  h.client.workflow.getHandle(rolloutWorkflowId(ID, executionId, 'prod')).query(rolloutStateQuery) as Promise<RolloutResult>;
const prodServers = async () => {
  const lb = createLoadBalancerActivities({ docker: createDockerProvider(), secret: h.secret });
  return lb.readServers({ pipelineId: ID, environment: parsePipelineConfig(config()).environments.prod });
};
const versionOf = async (url: string) => (await fetch(url)).headers.get('x-app-version');

describe('rolling deployment to a 2-pair Production', () => {
  let prodUrl: string;
  let goodExecution: string;

  it('first deployment brings up the whole topology', async () => {
    await syncSampleRepo(h.repo, '3.0.0');
    const { executionId } = await toProduction();
    await release(executionId);
    const state = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    expect(state.status, state.reason).toBe('FINISHED');
    prodUrl = state.urls.prod!;
    expect(await versionOf(prodUrl)).toBe('3.0.0');
  });

  it('replaces every node with zero downtime, in order, flushing and warming each cache', async () => {
    await syncSampleRepo(h.repo, '3.0.1');
    const { executionId } = await toProduction();
    goodExecution = executionId;
    // A page cached before the deployment, through the load balancer (old version).
    await fetch(`${prodUrl}products`);
    const load = startLoad(prodUrl);
    await moreAnswers(load);
    await release(executionId);
    const state = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    await moreAnswers(load);
    const samples = await load.stop();
    expect(state.status, state.reason).toBe('FINISHED');

    const summary = summarize(samples);
    expect(summary.total).toBeGreaterThan(100);
    expect(summary.non2xx).toBe(0);
    expect(summary.errors).toBe(0);
    expect(summary.maxGapMs).toBeLessThan(1000);
    const firstNew = samples.findIndex((s) => s.version === '3.0.1');
    const lastOld = samples.map((s) => s.version).lastIndexOf('3.0.0');
    expect(samples.slice(0, 10).every((s) => s.version === '3.0.0')).toBe(true);
    expect(samples.slice(-10).every((s) => s.version === '3.0.1')).toBe(true);
    expect(firstNew).toBeGreaterThan(0);
    expect(lastOld).toBeLessThan(samples.length - 10);

    // Order, from the recorded cycle: author first; each pair detached before it is touched; the next pair is
    // detached only once the previous one is UP in HAProxy; each effect exactly once.
    const { cycle } = await rollout(executionId);
    const ops = cycle.map((c) => `${c.node}:${c.op}`);
    expect(ops.slice(0, 2)).toEqual(['author:replaceAuthor', 'author:healthAuthor']);
    for (const pair of ['pair-1', 'pair-2']) {
      const mine = ops.filter((o) => o.startsWith(`${pair}:`)).map((o) => o.split(':')[1]);
      expect(mine).toEqual(['drain', 'waitSessions', 'maint', 'replacePublish', 'replaceDispatcher', 'healthPublish',
        'healthDispatcher', 'flush', 'warm', 'ready', 'waitUp']);
    }
    expect(ops.indexOf('pair-2:drain')).toBe(ops.indexOf('pair-1:waitUp') + 1);
    expect(cycle.find((c) => c.node === 'pair-1' && c.op === 'waitUp')!.detail).toBe('UP');
    // The rollout continued as new after pair 1 (rolloutHistoryLimit 1), and the cycle above spans both runs.
    const runs: Array<{ status: string; runId: string }> = [];
    for await (const run of h.client.workflow.list({ query: `WorkflowId = '${rolloutWorkflowId(ID, executionId, 'prod')}'` })) runs.push({ status: run.status.name, runId: run.runId });
    expect(runs.map((r) => r.status).sort()).toEqual(['COMPLETED', 'CONTINUED_AS_NEW']);
    for (const run of runs) {
      await h.recordHistory(`rollout-continued-as-new-${run.status === 'COMPLETED' ? 'last' : 'first'}-run`, rolloutWorkflowId(ID, executionId, 'prod'), run.runId);
    }
    await h.recordHistory('execution-rollout-continued-as-new', executionWorkflowId(ID, executionId));
    // The execution heard the second run's progress too: its view of the rollout ends with both pairs done.
    expect(state.rollouts.prod!.nodes.map((n) => n.phase)).toEqual(['done', 'done', 'done']);

    // Cache: the page cached before the deploy is fresh; warmed pages are hits on the first visitor request.
    const products = await fetch(`${prodUrl}products`);
    expect(products.headers.get('x-app-version')).toBe('3.0.1');
    const about = await fetch(`${prodUrl}about`);
    expect(about.headers.get('x-cache')).toBe('HIT');
    expect((await prodServers()).map((s) => s.status)).toEqual(['UP', 'UP']);
  });

  it('a node that fails its health check rolls every updated pair back, with zero downtime', async () => {
    await syncSampleRepo(h.repo, '3.0.2', async (dir) => {
      const file = path.join(dir, 'app', 'server.py');
      const source = await fs.readFile(file, 'utf8');
      await fs.writeFile(file, source.replace('            if path == "/health":',
        '            if path == "/health" and os.environ.get("STAGECOACH_NODE") == "publish-2":\n' +
        '                self._send(500, "broken on purpose\\n", "text/plain", "no-store")\n' +
        '            elif path == "/health":'));
    });
    const { executionId } = await toProduction();
    const load = startLoad(prodUrl);
    await release(executionId);
    const state = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    await moreAnswers(load);
    const summary = summarize(await load.stop());
    expect(state.status).toBe('FAILED');
    expect(state.reason).toMatch(/rolled back: pair-2 failed: publish of pair-2 failed its health check/);
    const step = state.steps.find((s) => s.stepId === 'deploy-prod')!;
    expect(step.status).toBe('ROLLED_BACK');
    expect(summary).toMatchObject({ non2xx: 0, errors: 0 });
    expect(summary.maxGapMs).toBeLessThan(1000);

    const result = await rollout(executionId);
    expect(result.status).toBe('ROLLED_BACK');
    const restores = result.cycle.filter((c) => c.restore).map((c) => `${c.node}:${c.op}`);
    // pair-2 first (it failed), then pair-1, then the author: one at a time, each detached and re-attached.
    expect(restores.filter((o) => o.endsWith(':drain')).map((o) => o.split(':')[0])).toEqual(['pair-2', 'pair-1']);
    expect(restores.at(-1)).toBe('author:healthAuthor');
    expect(await versionOf(prodUrl)).toBe('3.0.1');
    const previous = (await h.stagecoach.executionState(ID, goodExecution)).artifacts.images!;
    for (const node of result.nodes.filter((n) => n.role === 'pair')) {
      expect(node.currentImages).toEqual({ publish: previous.app.id, dispatcher: previous.dispatcher.id });
    }
    expect((await prodServers()).map((s) => s.status)).toEqual(['UP', 'UP']);
    await h.recordHistory('execution-rollback', executionWorkflowId(ID, executionId));
    await h.recordHistory('rollout-rolled-back', rolloutWorkflowId(ID, executionId, 'prod'));
  });

  it('cancel during pair 2 restores pairs 1 and 2 and ends CANCELLED', async () => {
    await commitChange(h.repo, 'version 3.0.3', async (dir) => fs.writeFile(path.join(dir, 'VERSION'), '3.0.3\n'));
    const { executionId } = await toProduction();
    await release(executionId);
    // Wait until pair 2 is being replaced, then cancel.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const r = await rollout(executionId).catch(() => undefined);
      const pair2 = r?.nodes.find((n) => n.name === 'pair-2');
      if (pair2 && ['detached', 'deploying', 'health-checking'].includes(pair2.phase)) {
        // The plan position, rebuilt by the run that continued as new: the pairs stage, its second window.
        expect(r!.position).toMatchObject({ plan: 'rolling', stage: 2, does: 'pairs', window: { index: 1, of: 2, pairs: [2] } });
        break;
      }
      if (Date.now() > deadline) throw new Error(`pair-2 never started: ${JSON.stringify(r?.nodes)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'alice', reason: 'wrong release' });
    const state = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    expect(state.status, state.reason).toBe('CANCELLED');
    expect(state.steps.find((s) => s.stepId === 'deploy-prod')!.status).toBe('ROLLED_BACK');
    const result = await rollout(executionId).catch(() => undefined);
    const rolloutState = result ?? state.rollouts.prod!;
    expect(rolloutState.status).toBe('CANCELLED');
    expect(await versionOf(prodUrl)).toBe('3.0.1');
    expect((await prodServers()).map((s) => s.status)).toEqual(['UP', 'UP']);
    // Recorded as the *-after-continue-as-new fixtures; execution-cancel-mid-rollout and rollout-cancelled are kept
    // from before continue-as-new existed, to prove those histories still replay.
    await h.recordHistory('execution-cancel-after-continue-as-new', executionWorkflowId(ID, executionId));
    await h.recordHistory('rollout-cancelled-after-continue-as-new', rolloutWorkflowId(ID, executionId, 'prod'));
  });

  it('a publish lost from outside: the next release replaces that pair first and never drains the one that serves', async () => {
    // Production serves on pair 1 alone once HAProxy's checks have taken pair 2 out.
    await h.docker.getContainer(containerName(ID, 'prod', publishNodeName(2))).remove({ force: true });
    await expect.poll(async () => (await prodServers()).map((s) => s.status), { timeout: 60_000, interval: 250 }).toEqual(['UP', 'DOWN']);
    // The sample as it is (the earlier cases left a publish-2 that fails its health check on purpose), version 3.0.4.
    await syncSampleRepo(h.repo, '3.0.4');
    const { executionId } = await toProduction();
    const load = startLoad(prodUrl);
    await release(executionId);
    const state = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
    const summary = summarize(await load.stop());
    expect(state.status, state.reason).toBe('FINISHED');
    expect(summary.total).toBeGreaterThan(100);
    expect(summary).toMatchObject({ non2xx: 0, errors: 0 });
    expect(summary.maxGapMs).toBeLessThan(1000);
    // Pair 2 (out of service) rolled first, across the continue-as-new after it; pair 1 was drained only once pair 2 was UP.
    const result = await rollout(executionId);
    expect(result.pairOrder).toEqual([2, 1]);
    const ops = result.cycle.map((c) => `${c.node}:${c.op}`);
    expect(ops.indexOf('pair-1:drain')).toBeGreaterThan(ops.indexOf('pair-2:waitUp'));
    expect((await prodServers()).map((s) => s.status)).toEqual(['UP', 'UP']);
    expect(await versionOf(prodUrl)).toBe('3.0.4');
  });

  it('an invalid dispatcher configuration is refused before any node is touched', async () => {
    const before = await h.stagecoach.executionState(ID, String((await h.stagecoach.pipelineState(ID)).executions.at(-1)!.id));
    const stageUrl = before.urls.stage!;
    const stageVersion = await versionOf(stageUrl);
    await commitChange(h.repo, 'broken cache rule', async (dir) =>
      fs.appendFile(path.join(dir, 'dispatcher', 'default.vcl'), '\nsub vcl_recv { if (req.url ~ "^/broken" { return (pass); } }\n'));
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    const state = await h.waitFor(ID, executionId, hasEnded, 8 * 60_000);
    expect(state.status).toBe('FAILED');
    const deploy = state.steps.find((s) => s.stepId === 'deploy-stage')!;
    expect(deploy.status).toBe('FAILED');
    expect(state.reason).toMatch(/dispatcher configuration in this build is invalid \(varnishd -C\); no node was touched/);
    expect(state.reason).toMatch(/VCL compilation failed|Message from VCC/);
    // Stage still serves what it served, every node attached.
    expect(await versionOf(stageUrl)).toBe(stageVersion);
    const stageNodes = await h.docker.listContainers({ filters: { label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=stage'] } });
    expect(stageNodes.every((c) => c.Labels['stagecoach.deploy-key'] === undefined || !c.Labels['stagecoach.deploy-key'].includes(`/${executionId}/`))).toBe(true);
  });
});
