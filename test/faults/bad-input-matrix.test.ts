/**
 * The bad input matrix: each bad request gets a clear message and changes nothing anywhere (no workflow started, no
 * decision taken, nothing deployed); refused messages are in the audit log. Its identity cases run on a pipeline with
 * signed decisions: proofs replayed, signed by the wrong key, for another execution, missing (a raw `temporal workflow
 * signal`) or by a revoked key; the ON_COMMIT author approving their own commit; EMERGENCY, override and cancel by
 * roles not allowed.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { generateKeyPair, inProcessSigner, parseOpenSshPrivateKey, signDecision, signedMessage } from '../../src/client/identity';
import { PROJECT_ROOT } from '../../src/config/paths';
import { executionWorkflowId, pipelineWorkflowId } from '../../src/shared/ids';
import type { DecisionArgs } from '../../src/shared/identity';
import { approveSignal, type ExecutionAction } from '../../src/shared/messages';
import type { ExecutionState } from '../../src/shared/types';
import { testPipeline } from '../helpers/harness';
import { FaultLab, tally } from './lab';

const ID = 'f-badinput';
/** Signed decisions; the lab repository's commits are carol's (sample@stagecoach.invalid). */
const SIGNED = 'f-identity';
/** Signed too, without the failing gate: alice starts it by hand. */
const SIGNED_MANUAL = 'f-identity-manual';
const lab = new FaultLab('badinput', [ID, SIGNED, SIGNED_MANUAL]);
let tried = 0;
let refused = 0;

const small = { environments: { stage: { loadBalancerPort: 0, authorPort: 0 }, prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0 } } };
const keys = { alice: generateKeyPair('alice'), bob: generateKeyPair('bob'), bobRevoked: generateKeyPair('bob-old'), carol: generateKeyPair('carol') };
const signedPipeline = (id: string, overrides: Record<string, unknown> = {}) => testPipeline(id, lab.repo, {
  ...small,
  identity: 'signed',
  people: [
    { name: 'alice', keys: [keys.alice.publicKey], roles: ['DEPLOYMENT_MANAGER'] },
    { name: 'bob', keys: [keys.bob.publicKey, keys.bobRevoked.publicKey], roles: ['BUSINESS_OWNER'] },
    { name: 'carol', email: 'sample@stagecoach.invalid', keys: [keys.carol.publicKey], roles: ['DEPLOYMENT_MANAGER'] },
  ],
  revokedKeys: [{ key: keys.bobRevoked.publicKey, at: '2026-01-01T00:00:00Z' }],
  emergencyRoles: ['DEPLOYMENT_MANAGER'],
  cancelRoles: ['DEPLOYMENT_MANAGER'],
  approval: { approvers: ['alice', 'bob', 'carol'].map((name) => ({ name, roles: name === 'bob' ? ['BUSINESS_OWNER'] : ['DEPLOYMENT_MANAGER'] })), required: 2 },
  // Coverage below 100% is an important failure: the gate waits for an override, by a DEPLOYMENT_MANAGER.
  quality: { thresholds: { coverage: 100 }, overrideRoles: ['DEPLOYMENT_MANAGER'] },
  ...overrides,
});
/** The signed pipelines' executions (ON_COMMIT; MANUAL by alice), started at once so they build while other cases run. */
let signedRun: Promise<string>;
let manualRun: Promise<string>;

beforeAll(async () => {
  await lab.start();
  await lab.writePipeline(testPipeline(ID, lab.repo, small));
  await lab.writePipeline(signedPipeline(SIGNED));
  await lab.writePipeline(signedPipeline(SIGNED_MANUAL, { quality: {} }));
  await lab.startWorker();
  signedRun = lab.stagecoach.notifyCommit(SIGNED).then((r) => {
    if (!('executionId' in r)) throw new Error(`no ON_COMMIT execution started: ${r.reason}`);
    return r.executionId;
  });
  manualRun = lab.stagecoach.startExecution(SIGNED_MANUAL, { by: 'alice' }).then((r) => r.executionId);
  // Awaited by their tests.
  signedRun.catch(() => undefined);
  manualRun.catch(() => undefined);
});
afterAll(async () => {
  await tally({ badInputsTried: tried, badInputsRefused: refused });
  await lab.close();
});

/** Expects a refusal whose message matches; counts it. */
async function refusedWith(action: Promise<unknown>, message: RegExp): Promise<void> {
  tried += 1;
  const err = await action.then(() => undefined, (e: unknown) => e);
  expect(err, String(message)).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(message);
  refused += 1;
}
const noWorkflow = (pipelineId: string) =>
  expect(lab.client.workflow.getHandle(pipelineWorkflowId(pipelineId)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

describe('bad configuration and unknown names', () => {
  it('malformed YAML, schema errors, unknown and ill-formed pipeline ids: nothing starts', async () => {
    await fs.writeFile(path.join(lab.pipelinesDir, 'f-yaml.yaml'), 'id: f-yaml\nrepository: [unclosed\n');
    await refusedWith(lab.stagecoach.startExecution('f-yaml', { by: 'carol' }), /f-yaml\.yaml:\n {2}- not valid YAML/);
    await lab.writePipeline({ id: 'f-schema', repository: lab.repo, environments: { prod: { pairs: 0 } }, approval: { approvers: [{ name: 'x', roles: ['ROOT'] }] } });
    await refusedWith(lab.stagecoach.startExecution('f-schema', { by: 'carol' }), /environments\.prod\.pairs[\s\S]*approval\.approvers\.0\.roles\.0/);
    await refusedWith(lab.stagecoach.startExecution('f-none', { by: 'carol' }), /Unknown pipeline "f-none"/);
    await refusedWith(lab.stagecoach.startExecution('../../etc/passwd', { by: 'carol' }), /Unknown pipeline/);
    await lab.writePipeline(testPipeline('f-branch', lab.repo, { branch: 'nope' }));
    await refusedWith(lab.stagecoach.startExecution('f-branch', { by: 'carol' }), /Branch "nope" does not exist/);
    await lab.writePipeline(testPipeline('f-repo', '/nonexistent/repo'));
    await refusedWith(lab.stagecoach.startExecution('f-repo', { by: 'carol' }), /Repository \/nonexistent\/repo cannot be read/);
    for (const id of ['f-yaml', 'f-schema', 'f-none', 'f-branch', 'f-repo']) await noWorkflow(id);
    await refusedWith(lab.stagecoach.executionState(ID, '999'), /execution 999 of pipeline f-badinput does not exist/);
    await refusedWith(lab.stagecoach.send(ID, '999', 'approve', { by: 'alice' }), /does not exist/);
  });

  it('an unreachable Docker Engine: validate fails saying which engine and what to do; nothing deployed', async () => {
    await lab.writePipeline(testPipeline('f-docker', lab.repo, { environments: { stage: { docker: { host: '127.0.0.1', port: 1, protocol: 'http' } } } }));
    tried += 1;
    const { executionId } = await lab.stagecoach.startExecution('f-docker', { by: 'carol' });
    const s = await lab.waitFor('f-docker', executionId, (x) => x.status !== 'RUNNING' && x.status !== 'NOT_STARTED');
    expect(s.status).toBe('FAILED');
    expect(s.reason).toMatch(/validate failed: Docker Engine \(http:\/\/127\.0\.0\.1:1\) does not answer/);
    expect(s.steps.filter((x) => x.status !== 'NOT_STARTED').map((x) => x.stepId)).toEqual(['validate']);
    refused += 1;
  });

  it('an unreachable Temporal server: the CLI says what to check, exit 5', async () => {
    tried += 1;
    const result = await promisify(execFile)(path.join(PROJECT_ROOT, 'bin', 'stagecoach'), ['status', ID], {
      env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/Cannot reach Temporal at 127\.0\.0\.1:1[\s\S]*TEMPORAL_ADDRESS/);
    refused += 1;
  });
});

describe('bad messages', () => {
  it('malformed and oversized payloads are rejected; signals are audited as refused; nothing is decided', async () => {
    const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
    await lab.waitFor(ID, executionId, (s) => s.waiting?.action === 'approval' || s.status !== 'RUNNING', 8 * 60_000);
    const send = (action: 'approve' | 'schedule' | 'override' | 'cancel', body: unknown) =>
      lab.stagecoach.send(ID, executionId, action, body as Record<string, unknown>);
    await refusedWith(send('approve', {}), /approve needs "by"/);
    await refusedWith(send('approve', { by: 'x'.repeat(5000) }), /longer than 100 characters/);
    await refusedWith(send('approve', { by: 'alice', comment: 'y'.repeat(100_000) }), /at most 1000 characters/);
    await refusedWith(send('schedule', { by: 'alice', now: true, at: '2030-01-01T00:00:00Z' }), /exactly one of/);
    await refusedWith(send('schedule', { by: 'alice', at: 'next tuesday' }), /not an ISO 8601 time/);
    await refusedWith(send('override', { by: 'alice', metrics: 'all' }), /override needs "metrics"/);
    // The same junk as signals (a Web UI user's typo): recorded as refused, with the reason.
    const handle = lab.client.workflow.getHandle(executionWorkflowId(ID, executionId));
    for (const junk of [{}, { by: 42 }, 'approve please']) {
      tried += 1;
      await handle.signal(approveSignal, junk as never);
    }
    await expect.poll(async () => (await lab.stagecoach.executionState(ID, executionId)).audit.filter((a) => a.via === 'signal').length).toBe(3);
    const state = await lab.stagecoach.executionState(ID, executionId);
    const signals = state.audit.filter((a) => a.via === 'signal');
    expect(signals.every((a) => a.outcome === 'refused' && /one object argument|needs "by"/.test(a.reason ?? ''))).toBe(true);
    refused += 3;
    expect(state.audit.some((a) => a.outcome === 'accepted')).toBe(false);
    expect(state.waiting?.action).toBe('approval');
    await lab.stagecoach.send(ID, executionId, 'cancel', { by: 'carol' });
  });

  it('the API answers bad JSON with 400 and a clear message', async () => {
    const app = buildApi({ stagecoach: lab.stagecoach, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as { port: number };
      const tokens = await fs.readFile(path.join(PROJECT_ROOT, 'examples', 'api-tokens.yaml'), 'utf8');
      const token = /token:\s*"?([^"\s]+)"?/.exec(tokens)![1];
      tried += 1;
      const res = await fetch(`http://127.0.0.1:${port}/api/program/1/pipeline/${ID}/execution`, {
        method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"mode": ',
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(await res.json())).toMatch(/JSON/i);
      refused += 1;
    } finally {
      await app.close();
    }
  });
});

describe('identity: signed decisions, starters and roles', () => {
  type Key = (typeof keys)[keyof typeof keys];
  const signed = (key: Key, by: string, decision: { pipeline?: string; execution: string; step?: string; action: string; args?: DecisionArgs }) =>
    signDecision(inProcessSigner(parseOpenSshPrivateKey(key.privateKey)), { pipeline: SIGNED, args: {}, ...decision, by }).then(signedMessage);
  const state = (executionId: string) => lab.stagecoach.executionState(SIGNED, executionId);
  const lastRefusal = async (executionId: string) => (await state(executionId)).audit.filter((a) => a.outcome === 'refused').at(-1);

  /** Refused with its reason, audited with it, and the execution as it was (`same` holds of it). */
  async function refusedAndAudited(executionId: string, action: ExecutionAction, request: Record<string, unknown>, reason: RegExp, same: (s: ExecutionState) => void) {
    await refusedWith(lab.stagecoach.send(SIGNED, executionId, action, request), reason);
    expect((await lastRefusal(executionId))?.reason).toMatch(reason);
    same(await state(executionId));
  }

  it('a self-approval by a starter who signs correctly: refused, audited, nothing changed', async () => {
    const executionId = await manualRun;
    await lab.waitFor(SIGNED_MANUAL, executionId, (s) => s.waiting?.action === 'approval' || s.status !== 'RUNNING', 8 * 60_000);
    const own = await signed(keys.alice, 'alice', { pipeline: SIGNED_MANUAL, execution: executionId, step: 'approval', action: 'approve' });
    await refusedWith(lab.stagecoach.send(SIGNED_MANUAL, executionId, 'approve', own), /self-approval is not allowed: alice started execution/);
    const after = await lab.stagecoach.executionState(SIGNED_MANUAL, executionId);
    expect(after.audit.map((a) => [a.by, a.action, a.outcome, a.trustModel])).toEqual([['alice', 'approve', 'refused', 'signed']]);
    expect(after).toMatchObject({ status: 'RUNNING', user: 'alice', waiting: { action: 'approval', allowed: ['bob', 'carol'] } });
    expect(after.waiting!.approvedBy ?? []).toEqual([]);
    // Done: alice cancels it (signed, as every decision here).
    await lab.stagecoach.send(SIGNED_MANUAL, executionId, 'cancel', await signed(keys.alice, 'alice', { pipeline: SIGNED_MANUAL, execution: executionId, action: 'cancel' }));
    await lab.waitFor(SIGNED_MANUAL, executionId, (s) => s.status === 'CANCELLED');
  });

  it('EMERGENCY by a role not allowed: refused, audited, nothing started', async () => {
    const emergency = 'f-emergency';
    await lab.writePipeline(signedPipeline(emergency));
    const start = await signed(keys.bob, 'bob', { pipeline: emergency, execution: '1', action: 'start', args: { mode: 'EMERGENCY' } });
    await refusedWith(lab.stagecoach.startExecution(emergency, start as never), /bob may not ask for EMERGENCY mode: that needs the role DEPLOYMENT_MANAGER/);
    const pipeline = await lab.stagecoach.pipelineState(emergency);
    expect(pipeline.audit.map((a) => [a.by, a.action, a.outcome])).toEqual([['bob', 'start', 'refused']]);
    expect([pipeline.executions, pipeline.running, pipeline.nextExecutionNumber]).toEqual([[], undefined, 1]);
  });

  it('at the gate and the approval: each bad decision refused with its reason, audited, nothing changed', async () => {
    const executionId = await signedRun;
    const gate = await lab.waitFor(SIGNED, executionId, (s) => s.waiting?.action === 'codeQuality' || s.status !== 'RUNNING', 8 * 60_000);
    // The commit's author is the starter (whoever told of it): carol, by her configured address.
    expect(gate).toMatchObject({ trigger: 'ON_COMMIT', user: 'carol', waiting: { action: 'codeQuality', allowed: ['alice', 'carol'] } });
    const metrics = gate.waiting!.metrics!;
    const override = (key: Key, by: string) => signed(key, by, { execution: executionId, step: 'codeQuality', action: 'override', args: { metrics } });
    await refusedAndAudited(executionId, 'override', await override(keys.bob, 'bob'), /bob \(BUSINESS_OWNER\) may not override quality gates/,
      (s) => expect(s.waiting).toMatchObject({ action: 'codeQuality', accepts: ['override', 'reject', 'cancel'] }));
    await lab.stagecoach.send(SIGNED, executionId, 'override', await override(keys.alice, 'alice'));

    await lab.waitFor(SIGNED, executionId, (s) => s.waiting?.action === 'approval' || s.status !== 'RUNNING', 8 * 60_000);
    const approval = (key: Key, by: string, execution = executionId) => signed(key, by, { execution, step: 'approval', action: 'approve' });
    const bobs = await approval(keys.bob, 'bob');
    await lab.stagecoach.send(SIGNED, executionId, 'approve', bobs);
    // From here on nothing changes: still waiting for a second approval, bob's counted once.
    const asItWas = (s: ExecutionState) => {
      expect(s).toMatchObject({ status: 'RUNNING', user: 'carol', waiting: { action: 'approval', approvedBy: ['bob'], accepts: ['approve', 'reject', 'cancel'] } });
      expect(s.audit.filter((a) => a.outcome === 'accepted').map((a) => [a.action, a.by])).toEqual([['override', 'alice'], ['approve', 'bob']]);
    };
    await refusedAndAudited(executionId, 'approve', bobs, /this proof was already used/, asItWas);
    await refusedAndAudited(executionId, 'approve', await approval(keys.bob, 'alice'), /signed with bob's key .*, but the decision names alice/, asItWas);
    await refusedAndAudited(executionId, 'approve', await approval(keys.alice, 'alice', String(Number(executionId) + 1)), /the proof is for execution \d+, not \d+/, asItWas);
    await refusedAndAudited(executionId, 'approve', await approval(keys.bobRevoked, 'bob'), /was revoked at 2026-01-01/, asItWas);
    await refusedAndAudited(executionId, 'approve', await approval(keys.carol, 'carol'), /self-approval is not allowed: carol started execution/, asItWas);
    await refusedAndAudited(executionId, 'cancel', await signed(keys.bob, 'bob', { execution: executionId, action: 'cancel' }),
      /bob \(BUSINESS_OWNER\) may not cancel executions of pipeline f-identity: that needs the role DEPLOYMENT_MANAGER/, asItWas);

    // What anyone with access to the namespace can send: a signal without a proof, audited as refused.
    tried += 1;
    await promisify(execFile)(inject('temporalCli'), [
      'workflow', 'signal', '--address', `127.0.0.1:${lab.port}`, '--workflow-id', executionWorkflowId(SIGNED, executionId),
      '--name', 'approve', '--input', JSON.stringify({ by: 'alice' }),
    ]);
    await expect.poll(async () => (await lastRefusal(executionId))?.via, { timeout: 30_000 }).toBe('signal');
    expect(await lastRefusal(executionId)).toMatchObject({ by: 'alice', details: { refusal: 'unsigned' }, reason: expect.stringMatching(/the approve is unsigned/) });
    asItWas(await state(executionId));
    refused += 1;

    await lab.stagecoach.send(SIGNED, executionId, 'cancel', await signed(keys.alice, 'alice', { execution: executionId, action: 'cancel', args: { reason: 'matrix done' } }));
    expect(await lab.waitFor(SIGNED, executionId, (s) => s.status === 'CANCELLED')).toMatchObject({ reason: 'cancelled by alice: matrix done' });
  });
});
