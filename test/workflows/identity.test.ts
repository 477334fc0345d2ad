/**
 * Signed decisions on the real dev server with fake activities (no Docker): the execution checks each proof itself.
 * An approval signed by alice's key is accepted; the same proof again, bob's key signing for alice, a proof for
 * another execution, an unsigned signal (sent by the `temporal` CLI, as an operator would), a revoked key and a
 * starter approving their own execution are refused, each with its reason in the audit log, and nothing changes.
 * EMERGENCY mode is only for the roles the pipeline names, proven like any decision. The HTTP API signs for the user
 * it authenticated ("alice, via the API"). Then the CLI's own commands: approve and schedule with --key, the evidence
 * bundle, and verify, which fails once one byte of the bundle is changed.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { generateKeyPair, identityProviderSigner, inProcessSigner, parseOpenSshPrivateKey, signDecision, signedMessage } from '../../src/client/identity';
import { approveCommand } from '../../src/cli/commands/approve';
import { evidenceCommand } from '../../src/cli/commands/evidence';
import { scheduleCommand } from '../../src/cli/commands/schedule';
import { verifyCommand } from '../../src/cli/commands/verify';
import { EXIT } from '../../src/cli/errors';
import { executionStateLines } from '../../src/cli/format';
import { Refusal } from '../../src/shared/errors';
import { executionWorkflowId } from '../../src/shared/ids';
import type { Proof } from '../../src/shared/identity';
import type { ExecutionState } from '../../src/shared/types';
import { startFakeWorker, type FakeWorkerHarness } from '../helpers/fake-worker';
import { hasEnded, isWaitingAt } from '../helpers/harness';
import { recordHistory } from '../helpers/record-history';

let h: FakeWorkerHarness;
let tmp: string;
beforeAll(async () => {
  h = await startFakeWorker('identity');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stagecoach-identity-'));
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress'); // what the CLI commands connect to
});
afterAll(async () => {
  await h?.close();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const alice = generateKeyPair('alice@laptop');
const bob = generateKeyPair('bob@desk');
const bobLost = generateKeyPair('bob@old-laptop');
const api = generateKeyPair('stagecoach-api');
const signer = (pair: { privateKey: string }) => inProcessSigner(parseOpenSshPrivateKey(pair.privateKey));

/** alice and bob approve with their own keys; bob's old key was revoked long ago. */
const signedPipeline = {
  identity: 'signed',
  people: [
    { name: 'alice', keys: [alice.publicKey], roles: ['DEPLOYMENT_MANAGER'] },
    { name: 'bob', keys: [bob.publicKey, bobLost.publicKey], roles: ['BUSINESS_OWNER'] },
  ],
  revokedKeys: [{ key: bobLost.publicKey, at: '2026-01-01T00:00:00Z' }],
};

const approval = (pipeline: string, execution: string, by: string, key: { privateKey: string }): Promise<Proof> =>
  signDecision(signer(key), { pipeline, execution, step: 'approval', action: 'approve', args: {}, by });

const refusals = (state: ExecutionState) => state.audit.filter((a) => a.outcome === 'refused');

/** Nothing changed: still waiting at the approval, with nobody's approval counted. */
function unchanged(state: ExecutionState) {
  expect(state.waiting).toMatchObject({ action: 'approval', accepts: expect.arrayContaining(['approve']), allowed: ['alice', 'bob'] });
  expect(state.audit.filter((a) => a.outcome === 'accepted')).toEqual([]);
}

describe('signed decisions', () => {
  it('accepts alice\'s own proof once; refuses bob signing for alice, another execution\'s proof, an unsigned signal, a revoked key, a replay', async () => {
    // Two approvals needed: the approval still waits after alice's, so her proof can be sent there again.
    const config = h.definePipeline('wf-signed', { ...signedPipeline, approval: { required: 2 } });
    const { executionId } = await h.startToApproval(config.id);
    const send = (request: Record<string, unknown>) => h.stagecoach.send(config.id, executionId, 'approve', request);

    await expect(send(signedMessage(await approval(config.id, executionId, 'alice', bob))))
      .rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(/bob's key .* names alice/) });
    const other = String(Number(executionId) + 1);
    await expect(send(signedMessage(await approval(config.id, other, 'alice', alice))))
      .rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(new RegExp(`for execution ${other}, not ${executionId}`)) });
    await expect(send({ by: 'alice' })).rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(/unsigned/) });
    await expect(send(signedMessage(await approval(config.id, executionId, 'bob', bobLost))))
      .rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(/revoked at 2026-01-01/) });
    // What anyone with access to the namespace can send: the `temporal` CLI's signal, without a proof.
    await promisify(execFile)(inject('temporalCli'), [
      'workflow', 'signal', '--address', inject('temporalAddress'), '--workflow-id', executionWorkflowId(config.id, executionId),
      '--name', 'approve', '--input', JSON.stringify({ by: 'alice' }),
    ]);
    const refused = await h.waitForExecution(config.id, executionId, (s) => refusals(s).length === 5);
    expect(refusals(refused).map((a) => [a.by, a.via, a.details?.refusal, a.trustModel])).toEqual([
      ['alice', 'update', 'wrong-signer', 'signed'], ['alice', 'update', 'mismatch', 'signed'], ['alice', 'update', 'unsigned', 'signed'],
      ['bob', 'update', 'revoked', 'signed'], ['alice', 'signal', 'unsigned', 'signed'],
    ]);
    expect(refusals(refused).every((a) => a.reason)).toBe(true);
    unchanged(refused);

    const proof = await approval(config.id, executionId, 'alice', alice);
    await send(signedMessage(proof));
    const approved = await h.stagecoach.executionState(config.id, executionId);
    expect(approved.audit.filter((a) => a.outcome === 'accepted')).toEqual([expect.objectContaining({
      by: 'alice', action: 'approve', step: 'approval', trustModel: 'signed', label: 'alice (signed)', details: { proof },
    })]);
    expect(approved.waiting).toMatchObject({ action: 'approval', approvedBy: ['alice'], allowed: ['bob'] });

    // The same proof again counts once: refused before any rule, and the approval still waits for a second person.
    await expect(send(signedMessage(proof))).rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(/already used/) });
    const after = await h.stagecoach.executionState(config.id, executionId);
    expect(refusals(after).at(-1)).toMatchObject({ by: 'alice', details: { refusal: 'replayed' } });
    expect(after.waiting).toMatchObject({ action: 'approval', approvedBy: ['alice'] });

    await h.stagecoach.send(config.id, executionId, 'cancel', signedMessage(await signDecision(signer(bob), {
      pipeline: config.id, execution: executionId, action: 'cancel', args: { reason: 'test over' }, by: 'bob',
    })));
    const done = await h.waitForExecution(config.id, executionId, hasEnded);
    expect(done).toMatchObject({ status: 'CANCELLED', reason: 'cancelled by bob: test over' });
    expect(done.audit.at(-1)).toMatchObject({ action: 'cancel', by: 'bob', trustModel: 'signed', outcome: 'accepted' });
    expect(done.audit.at(-1)!.step).toBeUndefined();
    await recordHistory('execution-signed-decisions', executionWorkflowId(config.id, executionId));
  });

  it('refuses a starter\'s own approval however correctly they sign it', async () => {
    const config = h.definePipeline('wf-signed-self', signedPipeline);
    const { executionId } = await h.stagecoach.startExecution(config.id, { by: 'alice' }, { preflight: false });
    await h.waitForExecution(config.id, executionId, isWaitingAt('approval'));
    await expect(h.stagecoach.send(config.id, executionId, 'approve', signedMessage(await approval(config.id, executionId, 'alice', alice))))
      .rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(/self-approval is not allowed/) });
    const state = await h.stagecoach.executionState(config.id, executionId);
    expect(refusals(state)).toEqual([expect.objectContaining({ by: 'alice', trustModel: 'signed', label: 'alice (signed)' })]);
    expect(state.waiting).toMatchObject({ action: 'approval', allowed: ['bob'] });
    expect(state.audit.filter((a) => a.outcome === 'accepted')).toEqual([]);
    await h.stagecoach.send(config.id, executionId, 'cancel', signedMessage(await signDecision(signer(bob), {
      pipeline: config.id, execution: executionId, action: 'cancel', args: {}, by: 'bob',
    })));
    await h.waitForExecution(config.id, executionId, hasEnded);
  });

  it('through the CLI: approve and schedule --key, then an evidence bundle that verifies, and fails with one byte changed', async () => {
    const config = h.definePipeline('wf-signed-cli', signedPipeline);
    const { executionId } = await h.startToApproval(config.id);
    const aliceKey = path.join(tmp, 'alice');
    await fs.writeFile(aliceKey, alice.privateKey, { mode: 0o600 });
    const ids = [config.id, executionId];

    // Unsigned, the refusal says how to sign with the same command.
    await expect(approveCommand.run({ by: 'alice' }, ids)).rejects.toThrow(/is unsigned[\s\S]*with this command: .*approve wf-signed-cli \d+ --key/);
    // --by must be the key's owner; without it, the key says who signs.
    await expect(approveCommand.run({ key: aliceKey, by: 'bob' }, ids)).rejects.toThrow(/--by bob, but .* is alice's key/);
    expect(await approveCommand.run({ key: aliceKey, comment: 'ship it' }, ids)).toBe(EXIT.ok);
    await h.waitForExecution(config.id, executionId, isWaitingAt('schedule'));
    expect(await scheduleCommand.run({ key: aliceKey, now: true }, ids)).toBe(EXIT.ok);
    const done = await h.waitForExecution(config.id, executionId, hasEnded);
    expect(done.status, done.reason).toBe('FINISHED');
    expect(done.audit.map((a) => [a.action, a.by, a.step, a.trustModel, a.outcome])).toEqual([
      ['approve', 'alice', undefined, 'signed', 'refused'], ['approve', 'alice', 'approval', 'signed', 'accepted'], ['schedule', 'alice', 'schedule', 'signed', 'accepted'],
    ]);

    // `status` says how each sender was known.
    const status = executionStateLines(done, executionWorkflowId(config.id, executionId), Date.now()).join('\n');
    expect(status).toMatch(/approve by alice \(signed\) \(update\): refused — the approve is unsigned/);
    expect(status).toMatch(/schedule by alice \(signed\) \(update\): accepted/);

    const bundle = path.join(tmp, 'bundle.json');
    expect(await evidenceCommand.run({ out: bundle }, ids)).toBe(EXIT.ok);
    expect(await verifyCommand.run({}, [bundle])).toBe(EXIT.ok);
    const text = await fs.readFile(bundle, 'utf8');
    const at = text.indexOf('ship it');
    await fs.writeFile(bundle, `${text.slice(0, at)}S${text.slice(at + 1)}`);
    expect(await verifyCommand.run({}, [bundle])).toBe(EXIT.failure);
  });

  it('EMERGENCY mode only for a proven person holding an emergency role: bob (not allowed) and an unsigned start are refused', async () => {
    const config = h.definePipeline('wf-signed-emergency', { ...signedPipeline, emergencyRoles: ['DEPLOYMENT_MANAGER'] });
    // Execution numbers start at 1: the start is signed for the execution it opens.
    const start = (by: string, key: { privateKey: string }) => signDecision(signer(key), {
      pipeline: config.id, execution: '1', action: 'start', args: { mode: 'EMERGENCY' }, by,
    }).then((proof) => ({ ...signedMessage(proof), by }) as { by: string; mode: 'EMERGENCY'; proof: unknown });
    const options = { preflight: false as const };
    await expect(h.stagecoach.startExecution(config.id, await start('bob', bob), options))
      .rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(/bob may not ask for EMERGENCY mode: that needs the role DEPLOYMENT_MANAGER/) });
    await expect(h.stagecoach.startExecution(config.id, { by: 'alice', mode: 'EMERGENCY' }, options))
      .rejects.toMatchObject({ type: Refusal.Forbidden, message: expect.stringMatching(/EMERGENCY mode needs a proof of who asks: the start is unsigned/) });
    const refused = await h.stagecoach.pipelineState(config.id);
    expect(refused.audit.map((a) => [a.by, a.action, a.outcome])).toEqual([['bob', 'start', 'refused'], ['alice', 'start', 'refused']]);
    expect(refused.executions).toEqual([]);
    expect(refused.running).toBeUndefined();

    const { executionId } = await h.stagecoach.startExecution(config.id, await start('alice', alice), options);
    expect(executionId).toBe('1');
    const state = await h.waitForExecution(config.id, executionId, isWaitingAt('approval'));
    expect(state).toMatchObject({ mode: 'EMERGENCY', user: 'alice' });
    await h.stagecoach.send(config.id, executionId, 'cancel', signedMessage(await signDecision(signer(bob), {
      pipeline: config.id, execution: executionId, action: 'cancel', args: {}, by: 'bob',
    })));
    await h.waitForExecution(config.id, executionId, hasEnded);
  });

  it('the HTTP API signs for the user it authenticated: the audit says "alice, via the API"', async () => {
    const config = h.definePipeline('wf-signed-api', { ...signedPipeline, identityProviders: [{ name: 'api', keys: [api.publicKey] }] });
    const { executionId, state } = await h.startToApproval(config.id);
    const apiKey = path.join(tmp, 'api');
    await fs.writeFile(apiKey, api.privateKey, { mode: 0o600 });
    const app = buildApi({
      stagecoach: h.stagecoach, logger: false, identitySigner: await identityProviderSigner(apiKey),
      tokens: { users: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'], token: 'identity-test-token-alice' }] },
    });
    try {
      const step = state.steps.find((s) => s.stepId === 'approval')!;
      const res = await app.inject({
        method: 'PUT', url: `/api/program/1/pipeline/${config.id}/execution/${executionId}/phase/${step.phaseId}/step/approval/advance`,
        headers: { authorization: 'Bearer identity-test-token-alice' }, payload: { approved: true },
      });
      expect(res.statusCode, res.body).toBeLessThan(300);
    } finally {
      await app.close();
    }
    const approved = await h.waitForExecution(config.id, executionId, isWaitingAt('schedule'));
    expect(approved.audit.filter((a) => a.outcome === 'accepted')).toEqual([expect.objectContaining({
      by: 'alice', action: 'approve', trustModel: 'signed', label: 'alice, via the API', details: expect.objectContaining({ proof: expect.anything() }),
    })]);
    await h.stagecoach.send(config.id, executionId, 'cancel', signedMessage(await signDecision(signer(bob), {
      pipeline: config.id, execution: executionId, action: 'cancel', args: {}, by: 'bob',
    })));
    await h.waitForExecution(config.id, executionId, hasEnded);
  });
});
