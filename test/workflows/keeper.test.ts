/**
 * The environment keeper on the real dev server with fake activities (no Docker): a finished deployment starts it on
 * its release; a publish lost from outside is replaced from that release (not a newer build waiting on Stage) with
 * the rollout's node cycle; a deployment pauses it after the heal in progress and hands it the new release; a node
 * that keeps failing past the hour's budget is marked and reported, not replaced again; continue-as-new keeps its
 * state. Checked on the keeper's state query and on what the fakes were asked to do, in which workflow.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateKeyPair, inProcessSigner, parseOpenSshPrivateKey, signDecision, signedMessage } from '../../src/client/identity';
import { TASK_QUEUE, WORKFLOW_TYPES, executionWorkflowId, keeperWorkflowId, rolloutWorkflowId } from '../../src/shared/ids';
import { scaleDecisionTarget, type KeeperRelease, type KeeperState } from '../../src/shared/keeper';
import { keeperDeploymentEndedSignal, keeperScaleUpdate, keeperStateQuery } from '../../src/shared/messages';
import type { PipelineConfig } from '../../src/shared/types';
import { fakeDigest, type ActivityCall } from '../helpers/fake-activities';
import { gate, startFakeWorker, type FakeWorkerHarness } from '../helpers/fake-worker';
import { FIXTURES_DIR, hasEnded } from '../helpers/harness';
import { eventually } from '../helpers/wait';

type DeployCall = Extract<ActivityCall, { activityType: 'deployNode' }>;

let h: FakeWorkerHarness;
const keepers: string[] = [];

beforeAll(async () => { h = await startFakeWorker('keeper'); });
afterEach(() => { h.intercept(undefined); });
afterAll(async () => {
  // Keepers never end by themselves: stop them, so no later worker on this server picks up their timers.
  for (const id of keepers) await h?.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  await h?.close();
});

/** With RECORD_FIXTURES=1, saves one run's history (the latest, unless `runId`) as a replay fixture (test/replay.test.ts). */
async function recordHistory(fixture: string, workflowId: string, runId?: string): Promise<void> {
  if (!process.env.RECORD_FIXTURES) return;
  const { stdout } = await promisify(execFile)(inject('temporalCli'), [
    'workflow', 'show', '--address', inject('temporalAddress'), '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []), '--output', 'json',
  ], { maxBuffer: 64 * 1024 * 1024 });
  await fs.writeFile(path.join(FIXTURES_DIR, `${fixture}.json`), stdout);
}

/** A pipeline whose Production has a keeper checking every 5 seconds (the schema's shortest interval). */
function keptPipeline(id: string, keeper: Record<string, unknown> = {}): PipelineConfig {
  const config = h.definePipeline(id, {
    environments: { prod: { keeper: { enabled: true, interval: '5s', ...keeper } } },
    // The keeper's events only: what its heals and scales send.
    events: { webhooks: [{ url: 'http://127.0.0.1:9/hook', secretEnv: 'HOOK_SECRET', events: ['healed', 'scaled'] }] },
  });
  keepers.push(keeperWorkflowId(id, 'prod'));
  return config;
}

const keeperState = (config: PipelineConfig) =>
  h.client.workflow.getHandle(keeperWorkflowId(config.id, 'prod')).query(keeperStateQuery);

async function waitForKeeper(config: PipelineConfig, what: string, until: (s: KeeperState) => boolean, timeoutMs = 30_000): Promise<KeeperState> {
  let last: KeeperState | undefined;
  try {
    return await eventually(what, async () => {
      last = await keeperState(config).catch(() => last);
      return last && until(last) ? last : undefined;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; keeper state: ${JSON.stringify(last)}`, { cause: err });
  }
}

/** Runs one execution through its Production deployment; answers its id and the images it released. */
async function release(config: PipelineConfig): Promise<{ executionId: string; app: string; dispatcher: string }> {
  const { executionId } = await h.startToApproval(config.id);
  await h.approveAndSchedule(config.id, executionId);
  const done = await h.waitForExecution(config.id, executionId, hasEnded);
  expect(done.status).toBe('FINISHED');
  await h.waitForPipelineIdle(config.id);
  return { executionId, app: done.artifacts.images!.app.id, dispatcher: done.artifacts.images!.dispatcher.id };
}

/** The keeper's events the fake webhook received, as `<kind> <what>`. */
function keeperEvents(config: PipelineConfig): string[] {
  return h.calls.flatMap((c) => {
    if (c.activityType !== 'deliverWebhook' || !c.workflowId.startsWith(keeperWorkflowId(config.id, 'prod'))) return [];
    const { kind, data } = c.input.event;
    return [`${kind} ${data.heal ? `${data.heal.node} ${data.heal.outcome}` : `${data.scale?.from} → ${data.scale?.to}`}`];
  });
}

/** The calls the keeper made, as `<activity> <what>` lines. */
function keeperOps(config: PipelineConfig, from = 0): string[] {
  return h.calls.slice(from).flatMap((c: ActivityCall) => {
    if (c.workflowId !== keeperWorkflowId(config.id, 'prod')) return [];
    const i = c.input as Record<string, unknown>;
    const what = i.server ?? i.node ?? (Array.isArray(i.nodes) ? i.nodes.join('+') : undefined) ?? (typeof i.pair === 'number' ? `pair-${i.pair}` : '');
    return [`${c.activityType} ${String(what)}${i.state ? ` ${String(i.state)}` : ''}`.trim()];
  });
}

/**
 * Starts the keeper as a finished deployment would, on a release of images the fakes' environment does not run yet
 * (every node drifted: the keeper heals each once).
 */
async function startKeeperOn(config: PipelineConfig, options: { historyLimit?: number } = {}) {
  const images = { app: fakeDigest(config.id, 'released', 'app'), dispatcher: fakeDigest(config.id, 'released', 'dispatcher') };
  const kept: KeeperRelease = {
    executionId: '7', execution: { trigger: 'MANUAL', mode: 'NORMAL', user: 'carol' }, finishedAt: new Date().toISOString(),
    environment: config.environments.prod, images, app: { port: config.app.port, healthPath: config.app.healthPath },
    warmPages: config.cache.warmPages, webhooks: [], ...(config.trust ? { trust: config.trust } : {}),
  };
  const handle = await h.client.workflow.signalWithStart(WORKFLOW_TYPES.environmentKeeper, {
    workflowId: keeperWorkflowId(config.id, 'prod'), taskQueue: TASK_QUEUE,
    args: [{ pipelineId: config.id, environmentType: 'prod', ...options }],
    signal: keeperDeploymentEndedSignal, signalArgs: [{ executionId: '7', status: 'FINISHED', release: kept }],
  });
  return { handle, images };
}

describe('environmentKeeper on fake activities', () => {
  it('a publish lost from outside is replaced from the released image, through the node cycle, not from a newer build on Stage', async () => {
    const config = keptPipeline('wf-keeper-heal');
    const released = await release(config);
    const watching = await waitForKeeper(config, 'the keeper to watch the release', (s) => s.status === 'WATCHING' && s.checks >= 1);
    expect(watching.release).toMatchObject({ executionId: released.executionId, images: { app: released.app, dispatcher: released.dispatcher } });
    expect(watching.nodes.map((n) => [n.name, n.condition])).toEqual([['author', 'healthy'], ['pair-1', 'healthy'], ['pair-2', 'healthy']]);

    // A newer build reaches Stage and waits for its approval: Production's release is still the first one.
    const newer = await h.startToApproval(config.id);
    expect(newer.state.artifacts.images!.app.id).not.toBe(released.app);
    const from = h.calls.length;
    h.world.loseNode(config.id, config.environments.prod.name, 'publish-2');

    const healed = await waitForKeeper(config, 'the heal of pair-2', (s) => s.lastHeal?.outcome === 'healed');
    expect(healed.lastHeal).toMatchObject({ node: 'pair-2', reason: 'lost: publish-2 has no container', executionId: released.executionId });
    expect(healed.lastHeal!.images).toEqual({ publish: released.app, dispatcher: released.dispatcher });
    expect(healed.nodes.find((n) => n.name === 'pair-2')).toMatchObject({ condition: 'healthy', detail: 'replaced by heal-1' });
    expect(healed.audit.filter((a) => a.what === 'heal').map((a) => a.detail)).toEqual(['heal-1 healed: lost: publish-2 has no container']);
    expect(healed.budget).toEqual({ perHour: 3, usedLastHour: 1, left: 2 });
    // The rollout's own cycle: drained and detached, retired, recreated from the release, checked, flushed, warmed, attached.
    expect(keeperOps(config, from).filter((op) => !op.startsWith('inspectEnvironmentNodes'))).toEqual([
      'setServerState pair-2 drain', 'waitForSessionsDrained pair-2', 'setServerState pair-2 maint',
      'retireNodeContainers publish-2+dispatcher-2', 'deployNode publish-2', 'deployNode dispatcher-2',
      'checkHealth', 'checkHealth', 'flushCache pair-2', 'warmCache pair-2', 'setServerState pair-2 ready', 'waitForServerUp pair-2',
    ]);
    const nodes = h.world.nodesOf(config.id, config.environments.prod.name);
    expect([nodes['publish-2'].image, nodes['dispatcher-2'].image]).toEqual([released.app, released.dispatcher]);
    expect(Object.values(h.world.serversOf(config.id, config.environments.prod.name))).toEqual(['ready', 'ready']);
    await eventually('the healed event', () => (keeperEvents(config).length ? true : undefined));
    expect(keeperEvents(config)).toEqual(['healed pair-2 healed']);
    await h.stagecoach.send(config.id, newer.executionId, 'cancel', { by: 'alice' });
  });

  it('a deployment pauses the keeper once its heal is done, then hands it the new release', async () => {
    const config = keptPipeline('wf-keeper-pause');
    const first = await release(config);
    await waitForKeeper(config, 'the keeper to watch', (s) => s.status === 'WATCHING' && s.checks >= 1);
    const second = await h.startToApproval(config.id);
    const healHeld = gate();
    h.intercept(async (call) => {
      if (call.activityType === 'deployNode' && call.workflowId === keeperWorkflowId(config.id, 'prod')) await healHeld.hold();
    });
    h.world.loseNode(config.id, config.environments.prod.name, 'publish-1');
    await healHeld.reached;
    await h.approveAndSchedule(config.id, second.executionId);
    const pausing = await waitForKeeper(config, 'the pause to arrive during the heal', (s) => s.pausedBy === second.executionId);
    expect(pausing.status).toBe('HEALING');
    const rolloutId = rolloutWorkflowId(config.id, second.executionId, 'prod');
    expect(h.deploysIn(rolloutId)).toEqual([]);
    healHeld.release();

    const done = await h.waitForExecution(config.id, second.executionId, hasEnded);
    expect(done.status).toBe('FINISHED');
    const deploysOf = (workflowId: string) => h.calls.filter((c): c is DeployCall => c.activityType === 'deployNode' && c.workflowId === workflowId);
    const keeperDeploys = deploysOf(keeperWorkflowId(config.id, 'prod'));
    const rolloutDeploys = deploysOf(rolloutId);
    expect(keeperDeploys.map((c) => c.input.image)).toEqual([first.app, first.dispatcher]);
    expect(Math.min(...rolloutDeploys.map((c) => c.at))).toBeGreaterThanOrEqual(Math.max(...keeperDeploys.map((c) => c.at)));
    const resumed = await waitForKeeper(config, 'the keeper on the new release', (s) => s.status === 'WATCHING' && s.release?.executionId === second.executionId);
    expect(resumed.release!.images.app).toBe(done.artifacts.images!.app.id);
    expect(resumed.audit.map((a) => a.what)).toEqual(['release', 'paused', 'heal', 'release', 'resumed']);
    await recordHistory('keeper-heal-then-paused', keeperWorkflowId(config.id, 'prod'));
    await recordHistory('execution-pauses-keeper', executionWorkflowId(config.id, second.executionId));
  });

  it('a node that keeps failing past the hour\'s budget is marked failing and reported, not replaced again', async () => {
    const config = keptPipeline('wf-keeper-budget', { healsPerHour: 1 });
    await release(config);
    await waitForKeeper(config, 'the keeper to watch', (s) => s.status === 'WATCHING' && s.checks >= 1);
    const prod = config.environments.prod.name;
    h.world.loseNode(config.id, prod, 'dispatcher-1');
    const healed = await waitForKeeper(config, 'the first heal', (s) => s.lastHeal?.outcome === 'healed');
    h.world.loseNode(config.id, prod, 'dispatcher-1');
    const marked = await waitForKeeper(config, 'pair-1 marked failing', (s) => s.nodes.some((n) => n.name === 'pair-1' && n.condition === 'failing'));
    expect(marked.budget).toEqual({ perHour: 1, usedLastHour: 1, left: 0 });
    expect(marked.audit.filter((a) => a.what === 'marked')).toEqual([expect.objectContaining({
      node: 'pair-1', detail: expect.stringMatching(/^lost: dispatcher-1 has no container; the budget of 1 heal\(s\) an hour is spent/),
    })]);
    // Another check later: still marked, reported once, never healed a second time.
    await waitForKeeper(config, 'a later check', (s) => s.checks >= marked.checks + 1);
    const later = await keeperState(config);
    expect(later.lastHeal!.id).toBe(healed.lastHeal!.id);
    expect(later.audit.filter((a) => a.what === 'marked')).toHaveLength(1);
    expect(keeperOps(config).filter((op) => op.startsWith('deployNode'))).toEqual(['deployNode publish-1', 'deployNode dispatcher-1']);
  });

  it('continues as new once its history is long, keeping its release, heals, audit and checks', async () => {
    const config = keptPipeline('wf-keeper-carry');
    const prod = config.environments.prod;
    const { handle, images } = await startKeeperOn(config, { historyLimit: 30 });
    // The fakes' environment runs its previous release, not this one: every node has drifted and is healed once.
    const healed = await waitForKeeper(config, 'every node healed', (s) => s.nodes.length === 3 && s.nodes.every((n) => n.condition === 'healthy') && s.audit.filter((a) => a.what === 'heal').length === 3, 60_000);
    const carried = await waitForKeeper(config, 'a later run', (s) => s.checks > healed.checks, 30_000);
    const latest = await handle.describe();
    expect(latest.runId).not.toBe(handle.signaledRunId);
    expect(carried.release).toMatchObject({ executionId: '7', images });
    expect(carried.audit.slice(0, healed.audit.length)).toEqual(healed.audit);
    expect(carried.lastHeal).toMatchObject({ id: 'heal-3', outcome: 'healed' });
    expect(carried.budget.usedLastHour).toBe(3);
    await recordHistory('keeper-continued-as-new-first-run', keeperWorkflowId(config.id, 'prod'), handle.signaledRunId);
    for (const [node, { image }] of Object.entries(h.world.nodesOf(config.id, prod.name))) {
      expect(image, node).toBe(node.startsWith('dispatcher') ? images.dispatcher : images.app);
    }
  });

  it('scales 2 → 3 → 2 pairs from the release: a new pair through the cycle up to UP, the last one drained before it goes; bad requests refused', async () => {
    const config = keptPipeline('wf-keeper-scale');
    const released = await release(config);
    await waitForKeeper(config, 'the keeper to watch', (s) => s.status === 'WATCHING' && s.checks >= 1);
    const handle = h.client.workflow.getHandle(keeperWorkflowId(config.id, 'prod'));
    const refusal = (pairs: number) => handle.executeUpdate(keeperScaleUpdate, { args: [{ by: 'alice', pairs }] }).then(
      () => undefined, (err: unknown) => (err instanceof WorkflowUpdateFailedError ? err.cause : err) as { type?: string; message: string });
    expect(await refusal(0)).toMatchObject({ type: 'InvalidRequest', message: expect.stringMatching(/from 1 to 64/) });
    expect(await refusal(2)).toMatchObject({ type: 'InvalidRequest', message: expect.stringMatching(/has 2 pair\(s\) already/) });
    const prod = config.environments.prod.name;

    let from = h.calls.length;
    const up = await handle.executeUpdate(keeperScaleUpdate, { args: [{ by: 'alice', pairs: 3 }] });
    expect(up.message).toBe(`alice (declared) scales ${prod} from 2 to 3 pair(s)`);
    await waitForKeeper(config, 'three pairs', (s) => s.audit.some((a) => a.what === 'scale' && a.detail.startsWith('2 → 3')) && s.nodes.length === 4 && s.status === 'WATCHING');
    expect(keeperOps(config, from).filter((op) => !op.startsWith('inspect'))).toEqual([
      'addPair pair-3', 'deployNode publish-3', 'deployNode dispatcher-3', 'checkHealth', 'checkHealth', 'flushCache pair-3', 'warmCache pair-3',
      'setServerState pair-3 ready', 'waitForServerUp pair-3',
    ]);
    const nodes = h.world.nodesOf(config.id, prod);
    expect([nodes['publish-3'].image, nodes['dispatcher-3'].image]).toEqual([released.app, released.dispatcher]);
    expect(h.world.serversOf(config.id, prod)).toEqual({ 'pair-1': 'ready', 'pair-2': 'ready', 'pair-3': 'ready' });

    from = h.calls.length;
    await handle.executeUpdate(keeperScaleUpdate, { args: [{ by: 'alice', pairs: 2 }] });
    const down = await waitForKeeper(config, 'two pairs again', (s) => s.audit.some((a) => a.what === 'scale' && a.detail.startsWith('3 → 2')));
    expect(keeperOps(config, from).filter((op) => !op.startsWith('inspect'))).toEqual([
      'setServerState pair-3 drain', 'waitForSessionsDrained pair-3', 'setServerState pair-3 maint', 'removePair pair-3', 'retireNodeContainers publish-3+dispatcher-3',
    ]);
    expect(h.world.serversOf(config.id, prod)).toEqual({ 'pair-1': 'ready', 'pair-2': 'ready' });
    expect(down.nodes.map((n) => n.name)).toEqual(['author', 'pair-1', 'pair-2']);
    expect(down.audit.filter((a) => a.what === 'scale').map((a) => a.detail)).toEqual([
      `accepted: alice (declared) scales ${prod} from 2 to 3 pair(s)`, '2 → 3 pair(s) for alice (declared): added pair-3',
      `accepted: alice (declared) scales ${prod} from 3 to 2 pair(s)`, '3 → 2 pair(s) for alice (declared): removed pair-3',
    ]);
    await eventually('the scaled events', () => (keeperEvents(config).length === 2 ? true : undefined));
    expect(keeperEvents(config)).toEqual(['scaled 2 → 3', 'scaled 3 → 2']);
    await recordHistory('keeper-scaled', keeperWorkflowId(config.id, 'prod'));
  });

  it('a scale in a signed pipeline needs the decider\'s own proof, for this environment, once, by an operator\'s role', async () => {
    const alice = generateKeyPair('alice@laptop');
    const bob = generateKeyPair('bob@desk');
    const config = keptPipeline('wf-keeper-signed');
    Object.assign(config, h.definePipeline(config.id, {
      identity: 'signed',
      people: [{ name: 'alice', keys: [alice.publicKey], roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', keys: [bob.publicKey], roles: ['BUSINESS_OWNER'] }],
      environments: { prod: { keeper: { enabled: true, interval: '5s' } } },
    }));
    const { handle } = await startKeeperOn(config);
    await waitForKeeper(config, 'the release healed in', (s) => s.audit.filter((a) => a.what === 'heal').length === 3 && s.status === 'WATCHING');
    const signedBy = async (key: { privateKey: string }, environmentType = 'prod', pairs = 3, by = 'alice') => signedMessage(await signDecision(inProcessSigner(parseOpenSshPrivateKey(key.privateKey)), {
      pipeline: config.id, execution: scaleDecisionTarget(environmentType), step: environmentType, action: 'scale', args: { pairs }, by,
    }));
    const scale = (request: Record<string, unknown>) => handle.executeUpdate(keeperScaleUpdate, { args: [request as { by: string; pairs: number }] })
      .catch((err: unknown) => { throw err instanceof WorkflowUpdateFailedError ? err.cause : err; });
    await expect(scale({ by: 'alice', pairs: 3 })).rejects.toMatchObject({ type: 'Forbidden', message: expect.stringMatching(/unsigned/) });
    await expect(scale(await signedBy(bob))).rejects.toMatchObject({ type: 'Forbidden', message: expect.stringMatching(/bob's key .* names alice/) });
    await expect(scale(await signedBy(alice, 'stage'))).rejects.toMatchObject({ type: 'Forbidden' });
    // Bob proves himself, but a Business Owner does not change Production's capacity.
    await expect(scale(await signedBy(bob, 'prod', 3, 'bob'))).rejects.toMatchObject({ type: 'Forbidden', message: expect.stringMatching(/^bob may not scale .*: it needs DEPLOYMENT_MANAGER or PROGRAM_MANAGER \(held by alice\)$/) });
    // Each refusal past the request's shape is in the keeper's log with its reason; changed nothing.
    const refused = (await handle.query(keeperStateQuery)).audit.filter((a) => a.what === 'refused').map((a) => a.detail);
    expect(refused).toEqual([
      expect.stringMatching(/^scale to 3 pair\(s\) by alice: .*unsigned/),
      expect.stringMatching(/^scale to 3 pair\(s\) by alice: .*bob's key/),
      expect.stringMatching(/^scale to 3 pair\(s\) by alice: /),
      expect.stringMatching(/^scale to 3 pair\(s\) by bob: bob may not scale/),
    ]);
    expect(h.world.serversOf(config.id, config.environments.prod.name)).toEqual({ 'pair-1': 'ready', 'pair-2': 'ready' });
    const proof = await signedBy(alice);
    expect((await scale(proof)).message).toMatch(/^alice \(signed\) scales prod from 2 to 3 pair\(s\)$/);
    await waitForKeeper(config, 'three pairs', (s) => s.audit.some((a) => a.what === 'scale' && a.detail.startsWith('2 → 3')) && s.status === 'WATCHING');
    await scale(await signedBy(alice, 'prod', 2));
    await waitForKeeper(config, 'two pairs again', (s) => s.audit.some((a) => a.what === 'scale' && a.detail.startsWith('3 → 2')) && s.status === 'WATCHING');
    await expect(scale(proof)).rejects.toMatchObject({ type: 'Forbidden', message: expect.stringMatching(/already used/) });
    await recordHistory('keeper-scale-refusals-audited', keeperWorkflowId(config.id, 'prod'));
  });
});
