/**
 * Gates the constrained cannot bypass, on the real dev server with fake activities (no Docker): an ON_COMMIT
 * execution is started by its commit's author (mapped by email to a configured person), whoever told of the commit,
 * and that author may not approve it however correctly they sign; an author nobody has is "unknown author <email>"
 * and blocks nobody. Cancel and override follow role rules like approve's: names trimmed and case-folded, refusals
 * typed and audited with their reason, nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, inProcessSigner, parseOpenSshPrivateKey, signDecision, signedMessage } from '../../src/client/identity';
import { Refusal } from '../../src/shared/errors';
import { executionWorkflowId } from '../../src/shared/ids';
import type { ExecutionState } from '../../src/shared/types';
import { startFakeWorker, type FakeWorkerHarness } from '../helpers/fake-worker';
import { hasEnded, isWaitingAt } from '../helpers/harness';
import { recordHistory } from '../helpers/record-history';

let h: FakeWorkerHarness;
beforeAll(async () => { h = await startFakeWorker('identity-rules'); });
afterAll(async () => { await h?.close(); });

const alice = generateKeyPair('alice@laptop');
const bob = generateKeyPair('bob@desk');
const dave = generateKeyPair('dave@desk');
const signer = (pair: { privateKey: string }) => inProcessSigner(parseOpenSshPrivateKey(pair.privateKey));

/** alice and bob approve; alice's commits are authored as alice@example.com (or her old address); dave has no role. */
const signedPipeline = (repository: string) => ({
  repository,
  identity: 'signed',
  people: [
    { name: 'alice', email: ['alice@example.com', 'alice@old.example.com'], keys: [alice.publicKey], roles: ['DEPLOYMENT_MANAGER'] },
    { name: 'bob', email: 'bob@example.com', keys: [bob.publicKey], roles: ['BUSINESS_OWNER'] },
    { name: 'dave', keys: [dave.publicKey] },
  ],
});

const sign = (key: { privateKey: string }, decision: { pipeline: string; execution: string; step?: string; action: string; by: string; args?: Record<string, never> }) =>
  signDecision(signer(key), { args: {}, ...decision }).then(signedMessage);
const refusals = (state: ExecutionState) => state.audit.filter((a) => a.outcome === 'refused');
const accepted = (state: ExecutionState) => state.audit.filter((a) => a.outcome === 'accepted');

async function cancelAsBob(pipeline: string, execution: string): Promise<void> {
  await h.stagecoach.send(pipeline, execution, 'cancel', await sign(bob, { pipeline, execution, action: 'cancel', by: 'bob' }));
  await h.waitForExecution(pipeline, execution, hasEnded);
}

describe('ON_COMMIT: the commit\'s author starts the execution', () => {
  it('the author mapped by email is the starter, whoever told of the commit, and may not approve it however correctly signed', async () => {
    const config = h.definePipeline('wf-commit-author', signedPipeline('fake://wf-commit-author'));
    h.world.commitAuthors.set(config.repository, ' Alice@Old.Example.com');
    // bob tells of the commit and claims to start it: the execution's starter still comes from the commit.
    const { executionId } = await h.stagecoach.startExecution(config.id, { by: 'bob', trigger: 'ON_COMMIT' }, { preflight: false });
    const waiting = await h.waitForExecution(config.id, executionId, isWaitingAt('approval'));
    expect(waiting).toMatchObject({ trigger: 'ON_COMMIT', user: 'alice', waiting: { action: 'approval', allowed: ['bob'] } });
    expect(waiting.steps.find((s) => s.action === 'validate')!.details).toMatchObject({
      authorEmail: 'Alice@Old.Example.com', starter: 'alice', summary: expect.stringMatching(/started by alice \(the commit's author, Alice@Old\.Example\.com\)/),
    });
    const pipeline = await h.stagecoach.pipelineState(config.id);
    expect(pipeline.audit.at(-1)).toMatchObject({ by: 'bob', action: 'start', outcome: 'accepted', details: { trigger: 'ON_COMMIT' } });
    expect(pipeline.running).toMatchObject({ user: 'on-commit' });

    const own = await sign(alice, { pipeline: config.id, execution: executionId, step: 'approval', action: 'approve', by: 'alice' });
    await expect(h.stagecoach.send(config.id, executionId, 'approve', own))
      .rejects.toMatchObject({ type: Refusal.Forbidden, message: `self-approval is not allowed: alice started execution ${executionId}` });
    const after = await h.stagecoach.executionState(config.id, executionId);
    expect(refusals(after)).toEqual([expect.objectContaining({ by: 'alice', action: 'approve', trustModel: 'signed', reason: expect.stringMatching(/self-approval/) })]);
    expect(accepted(after)).toEqual([]);
    expect(after.waiting).toMatchObject({ action: 'approval', allowed: ['bob'] });
    expect(after.waiting!.approvedBy ?? []).toEqual([]);
    await cancelAsBob(config.id, executionId);
    await h.waitForPipelineIdle(config.id);
    expect((await h.stagecoach.pipelineState(config.id)).executions.at(-1)).toMatchObject({ id: executionId, user: 'alice', status: 'CANCELLED' });
    await recordHistory('execution-commit-author', executionWorkflowId(config.id, executionId));
  });

  it('an author nobody has: the starter is "unknown author <email>" and every approver may approve', async () => {
    const config = h.definePipeline('wf-commit-stranger', signedPipeline('fake://wf-commit-stranger'));
    h.world.commitAuthors.set(config.repository, 'mallory@elsewhere.example');
    const { executionId } = await h.stagecoach.startExecution(config.id, { by: 'on-commit', trigger: 'ON_COMMIT' }, { preflight: false });
    const waiting = await h.waitForExecution(config.id, executionId, isWaitingAt('approval'));
    expect(waiting).toMatchObject({ user: 'unknown author <mallory@elsewhere.example>', waiting: { allowed: ['alice', 'bob'] } });
    await h.stagecoach.send(config.id, executionId, 'approve', await sign(alice, { pipeline: config.id, execution: executionId, step: 'approval', action: 'approve', by: 'alice' }));
    const approved = await h.waitForExecution(config.id, executionId, isWaitingAt('schedule'));
    expect(accepted(approved).map((a) => [a.action, a.by])).toEqual([['approve', 'alice']]);
    await cancelAsBob(config.id, executionId);
  });
});

describe('cancel and override follow role rules', () => {
  it('cancel: only the starter and the users holding a cancel role; names trimmed and case-folded', async () => {
    const config = h.definePipeline('wf-cancel-roles', { cancelRoles: ['DEPLOYMENT_MANAGER'] });
    const { executionId } = await h.startToApproval(config.id);
    const cancel = (by: string) => h.stagecoach.send(config.id, executionId, 'cancel', { by, reason: 'stop' });
    await expect(cancel('bob')).rejects.toMatchObject({
      type: Refusal.Forbidden,
      message: `bob (BUSINESS_OWNER) may not cancel executions of pipeline ${config.id}: that needs the role DEPLOYMENT_MANAGER (allowed: alice)`,
    });
    await expect(cancel('mallory')).rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(/^mallory is not a user of pipeline wf-cancel-roles, and only the role DEPLOYMENT_MANAGER may cancel executions/) });
    const refused = await h.stagecoach.executionState(config.id, executionId);
    expect(refusals(refused).map((a) => [a.action, a.by, a.reason])).toEqual([
      ['cancel', 'bob', expect.stringMatching(/may not cancel/)], ['cancel', 'mallory', expect.stringMatching(/not a user/)],
    ]);
    expect(refused).toMatchObject({ status: 'RUNNING', waiting: { action: 'approval' } });
    expect(accepted(refused)).toEqual([]);

    await cancel(' ALICE ');
    const done = await h.waitForExecution(config.id, executionId, hasEnded);
    expect(done).toMatchObject({ status: 'CANCELLED', reason: 'cancelled by ALICE: stop' });
    await recordHistory('execution-cancel-by-role', executionWorkflowId(config.id, executionId));
  });

  it('cancel: the starter may always cancel what they started', async () => {
    const config = h.definePipeline('wf-cancel-starter', { cancelRoles: ['PROGRAM_MANAGER'] });
    const { executionId } = await h.startToApproval(config.id); // started by carol, who holds no role
    await h.stagecoach.send(config.id, executionId, 'cancel', { by: 'Carol' });
    expect(await h.waitForExecution(config.id, executionId, hasEnded)).toMatchObject({ status: 'CANCELLED', reason: 'cancelled by Carol' });
  });

  it('override (signed): refused to a role without the right and to a person without roles, accepted from alice', async () => {
    // Coverage of the fake build is 85%: below 90 it fails, an important metric, and the gate waits for an override.
    const config = h.definePipeline('wf-override-roles', {
      ...signedPipeline('fake://wf-override-roles'), quality: { thresholds: { coverage: 90 }, overrideRoles: ['DEPLOYMENT_MANAGER'] },
    });
    const { executionId } = await h.stagecoach.startExecution(config.id, { by: 'carol' }, { preflight: false });
    const gate = await h.waitForExecution(config.id, executionId, isWaitingAt('codeQuality'));
    expect(gate.waiting).toMatchObject({ accepts: ['override', 'reject', 'cancel'], allowed: ['alice'], metrics: ['coverage'] });
    const override = (by: string, key: { privateKey: string }) => signDecision(signer(key), {
      pipeline: config.id, execution: executionId, step: 'codeQuality', action: 'override', args: { metrics: ['coverage'] }, by,
    }).then((proof) => h.stagecoach.send(config.id, executionId, 'override', signedMessage(proof)));
    await expect(override('bob', bob)).rejects.toMatchObject({
      type: Refusal.Forbidden,
      message: `bob (BUSINESS_OWNER) may not override quality gates of pipeline ${config.id}: that needs the role DEPLOYMENT_MANAGER (allowed: alice)`,
    });
    await expect(override('dave', dave)).rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(/^dave \(no roles\) may not override quality gates/) });
    const refused = await h.stagecoach.executionState(config.id, executionId);
    expect(refusals(refused).map((a) => [a.action, a.by, a.trustModel])).toEqual([['override', 'bob', 'signed'], ['override', 'dave', 'signed']]);
    expect(refused.waiting).toMatchObject({ action: 'codeQuality', accepts: ['override', 'reject', 'cancel'] });
    expect(accepted(refused)).toEqual([]);

    await override('alice', alice);
    const passed = await h.waitForExecution(config.id, executionId, isWaitingAt('approval'));
    expect(passed.steps.find((s) => s.action === 'codeQuality')!.details).toMatchObject({ decision: 'overridden', overriddenBy: 'alice' });
    await cancelAsBob(config.id, executionId);
    await recordHistory('execution-override-by-role', executionWorkflowId(config.id, executionId));
  });
});
