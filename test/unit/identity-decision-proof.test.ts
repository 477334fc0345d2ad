/**
 * The workflow's side of signed decisions: the identity configuration and the trust it makes, the check a message
 * handler runs (signed, declared, replayed, a cancel for the whole execution, EMERGENCY by role), and the same check
 * running inside a real workflow, bundled by webpack and executed in Temporal's sandbox.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { generateKeyPair, identityProviderSigner, inProcessSigner, parseOpenSshPrivateKey, signDecision, signedMessage } from '../../src/client/identity';
import { executionTrust } from '../../src/client/evidence';
import { PROJECT_ROOT } from '../../src/config/paths';
import { executionWorkflowId } from '../../src/shared/ids';
import { checkIdentity, identityConfigShape, trustFromConfig } from '../../src/config/identity-config';
import type { Trust } from '../../src/shared/identity';
import { checkDecisionProof, emergencyProblem, type DecisionMessage } from '../../src/workflows/execution/decision-proof';

const alice = generateKeyPair('alice@laptop');
const bob = generateKeyPair('bob@laptop');
const api = generateKeyPair('stagecoach-api');
const signer = (pair: { privateKey: string }) => inProcessSigner(parseOpenSshPrivateKey(pair.privateKey));

const pipelineSchema = z.object({
  approval: z.object({ approvers: z.array(z.object({ name: z.string() })), managedReview: z.object({ approvers: z.array(z.string()) }).optional() }),
  ...identityConfigShape,
}).superRefine(checkIdentity);

const problems = (raw: unknown) => {
  const result = pipelineSchema.safeParse(raw);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

const config = {
  approval: { approvers: [{ name: 'alice' }, { name: 'bob' }] },
  people: [
    { name: 'alice', email: 'alice@example.com', keys: [alice.publicKey], roles: ['BUSINESS_OWNER'] },
    { name: 'bob', keys: [bob.publicKey], roles: ['DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER'] },
  ],
  identityProviders: [{ name: 'api', keys: [api.publicKey] }],
  decisionMaxAge: '15 minutes',
  emergencyRoles: ['PROGRAM_MANAGER'],
};
const trust: Trust = trustFromConfig(pipelineSchema.parse(config));
const now = Date.parse('2026-12-01T10:00:10Z');
const signedAt = new Date('2026-12-01T10:00:00Z');

const message = (request: Record<string, unknown>, overrides: Partial<DecisionMessage> = {}): DecisionMessage => ({
  pipeline: 'sample', execution: '12', action: 'approve', step: 'approval', request, ...overrides,
});
const approveByAlice = () => signDecision(signer(alice), { pipeline: 'sample', execution: '12', step: 'approval', action: 'approve', args: { comment: 'ok' }, by: 'alice' }, signedAt);

describe('identity configuration', () => {
  it('makes the trust: signed by default once there are approvers, durations in ms, revocations as ISO times', () => {
    const parsed = pipelineSchema.parse({ ...config, revokedKeys: [{ key: bob.publicKey, at: '2026-12-01T11:00:00+01:00' }] });
    expect(trustFromConfig(parsed)).toMatchObject({
      model: 'signed', decisionMaxAgeMs: 900_000, clockSkewMs: 120_000, emergencyRoles: ['PROGRAM_MANAGER'],
      revokedKeys: [{ key: bob.publicKey, at: '2026-12-01T10:00:00.000Z' }],
      people: [{ name: 'alice', emails: ['alice@example.com'], keys: [alice.publicKey], roles: ['BUSINESS_OWNER'] }, { name: 'bob' }],
    });
    expect(trustFromConfig(pipelineSchema.parse({ approval: { approvers: [] } })).model).toBe('declared');
    expect(trustFromConfig(pipelineSchema.parse({ ...config, identity: 'declared' })).model).toBe('declared');
  });

  it('names each mistake with its path', () => {
    expect(problems({ ...config, people: [{ name: 'alice', keys: ['ssh-rsa AAAA alice'], roles: [] }, config.people[1]] }))
      .toEqual(['people.0.keys.0: not an OpenSSH ed25519 public key: expected "ssh-ed25519 AAAA… comment", got "ssh-rsa AAAA alice"']);
    expect(problems({ ...config, people: [...config.people, { name: ' Alice', keys: [], roles: [] }] }))
      .toEqual(['people.2.name: Alice is also people.0 (names are compared case-folded)']);
    expect(problems({ ...config, people: [config.people[0], { ...config.people[1], keys: [alice.publicKey] }] }))
      .toEqual([expect.stringMatching(/^people\.1\.keys\.0: the same key as alice's/)]);
    expect(problems({ ...config, people: [config.people[0]] }))
      .toEqual(['approval.approvers.1.name: bob decides, and decisions are signed (identity: signed): add them to people with their SSH public key']);
    expect(problems({ ...config, identity: 'declared', people: [] })).toEqual([]);
    expect(problems({ ...config, decisionMaxAge: 'soon' })).toEqual(['decisionMaxAge: a duration such as "1 hour", "15 minutes", "90s"']);
    expect(problems({ ...config, revokedKeys: [{ key: 'SHA256:short', at: '2026-12-01T10:00:00Z' }] })).toHaveLength(1);
    expect(problems({ ...config, people: [config.people[0], { ...config.people[1], email: ['bob@example.com', ' Alice@Example.com'] }] }))
      .toEqual(['people.1.email.1: Alice@Example.com is also alice\'s: a commit\'s author maps to one person']);
    expect(problems({ ...config, cancelRoles: [] })).toEqual([expect.stringMatching(/^cancelRoles: /)]);
  });

  it('keeps each person\'s commit addresses (one or a list) and who may cancel (every role by default)', () => {
    const people = [config.people[0], { ...config.people[1], email: ['bob@example.com', 'bob@old.example.com'] }];
    expect(trustFromConfig(pipelineSchema.parse({ ...config, people }))).toMatchObject({
      people: [{ name: 'alice', emails: ['alice@example.com'] }, { name: 'bob', emails: ['bob@example.com', 'bob@old.example.com'] }],
      cancelRoles: ['BUSINESS_OWNER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER', 'DEVELOPER'],
    });
    expect(trustFromConfig(pipelineSchema.parse({ ...config, cancelRoles: ['PROGRAM_MANAGER'] })).cancelRoles).toEqual(['PROGRAM_MANAGER']);
  });
});

describe('checkDecisionProof', () => {
  it('accepts a signed approval, and the same proof once only', async () => {
    const proof = await approveByAlice();
    const check = checkDecisionProof(message(signedMessage(proof)), trust, new Set(), now);
    expect(check).toMatchObject({ accepted: true, person: 'alice', roles: ['BUSINESS_OWNER'], trustModel: 'signed', label: 'alice (signed)' });
    const seen = new Set([(check as { proofId: string }).proofId]);
    expect(checkDecisionProof(message(signedMessage(proof)), trust, seen, now))
      .toMatchObject({ accepted: false, code: 'replayed', reason: expect.stringContaining('already used') });
  });

  it('says "alice, via the API" for a decision the API signed for her', async () => {
    const proof = await (await providerSigner()).signFor('alice', { pipeline: 'sample', execution: '12', step: 'approval', action: 'approve', args: {} }, signedAt);
    expect(checkDecisionProof(message(signedMessage(proof)), trust, new Set(), now)).toMatchObject({ accepted: true, via: 'api', label: 'alice, via the API' });
  });

  it('refuses an unsigned message, a proof for another message, and a name that is not the signer\'s', async () => {
    const proof = await approveByAlice();
    expect(checkDecisionProof(message({ by: 'alice' }), trust, new Set(), now)).toMatchObject({ accepted: false, code: 'unsigned', trustModel: 'signed' });
    expect(checkDecisionProof(message({ ...signedMessage(proof), comment: 'changed' }), trust, new Set(), now)).toMatchObject({ accepted: false, code: 'mismatch' });
    expect(checkDecisionProof(message({ ...signedMessage(proof), by: 'bob' }), trust, new Set(), now)).toMatchObject({ accepted: false, code: 'mismatch' });
    expect(checkDecisionProof(message(signedMessage(proof), { execution: '13' }), trust, new Set(), now)).toMatchObject({ accepted: false, code: 'mismatch' });
    expect(checkDecisionProof(message(signedMessage(proof), { step: 'managed' }), trust, new Set(), now)).toMatchObject({ accepted: false, code: 'mismatch' });
    expect(checkDecisionProof(message(signedMessage(proof)), trust, new Set(), now + 15 * 60_000)).toMatchObject({ accepted: false, code: 'expired' });
  });

  it('accepts a cancel signed for the whole execution at any step, and one signed for a step only there', async () => {
    const cancel = (step?: string) => signDecision(signer(bob), { pipeline: 'sample', execution: '12', ...(step ? { step } : {}), action: 'cancel', args: { reason: 'stop' }, by: 'bob' }, signedAt);
    const whole = signedMessage(await cancel());
    expect(checkDecisionProof(message(whole, { action: 'cancel', step: 'build' }), trust, new Set(), now)).toMatchObject({ accepted: true, person: 'bob' });
    const atBuild = signedMessage(await cancel('build'));
    expect(checkDecisionProof(message(atBuild, { action: 'cancel', step: 'build' }), trust, new Set(), now)).toMatchObject({ accepted: true });
    expect(checkDecisionProof(message(atBuild, { action: 'cancel', step: 'deploy-stage' }), trust, new Set(), now)).toMatchObject({ accepted: false, code: 'mismatch' });
  });

  it('takes names as given under declared (labelled so), and executions without trust stay declared', async () => {
    const declared = { ...trust, model: 'declared' as const };
    expect(checkDecisionProof(message({ by: ' Alice ' }), declared, new Set(), now)).toMatchObject({ accepted: true, person: 'alice', trustModel: 'declared', label: 'Alice (declared)' });
    expect(checkDecisionProof(message({ by: 'anyone' }), undefined, new Set(), now)).toMatchObject({ accepted: true, person: 'anyone', roles: [], trustModel: 'declared' });
    const proof = await approveByAlice();
    expect(checkDecisionProof(message(signedMessage(proof)), declared, new Set(), now)).toMatchObject({ accepted: true, trustModel: 'signed' });
  });

  it('allows EMERGENCY mode only to the configured roles', () => {
    expect(emergencyProblem(trust, 'bob', ['PROGRAM_MANAGER'])).toBeUndefined();
    expect(emergencyProblem(trust, 'alice', ['BUSINESS_OWNER'])).toBe('alice may not ask for EMERGENCY mode: that needs the role PROGRAM_MANAGER');
    expect(emergencyProblem(undefined, 'alice', ['BUSINESS_OWNER'])).toMatch(/names no emergencyRoles/);
  });
});

let keyDir: string;
async function providerSigner() {
  keyDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'stagecoach-provider-'));
  const file = path.join(keyDir, 'api');
  fs.writeFileSync(file, api.privateKey, { mode: 0o600 });
  return identityProviderSigner(file);
}
afterAll(() => {
  if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
});

describe('inside a workflow', () => {
  let workflowsPath: string;
  beforeAll(() => {
    // Inside the project, so webpack resolves @temporalio/workflow from its node_modules.
    const dir = path.join(PROJECT_ROOT, '.stagecoach', 'test', 'identity-sandbox');
    fs.mkdirSync(dir, { recursive: true });
    workflowsPath = path.join(dir, 'workflows.ts');
    const module = path.resolve(__dirname, '../../src/workflows/execution/decision-proof');
    fs.writeFileSync(workflowsPath, [
      `import { checkDecisionProof } from ${JSON.stringify(module)};`,
      'export async function checkProof(message: any, trust: any, nowMs: number) {',
      '  const first = checkDecisionProof(message, trust, new Set(), nowMs);',
      '  const again = checkDecisionProof(message, trust, new Set(first.proofId ? [first.proofId] : []), nowMs);',
      '  return { first, again };',
      '}',
      'export async function startedWith(_input: unknown) { return "done"; }',
    ].join('\n'));
  });

  it('bundles with webpack and verifies in the sandbox as it does here; its start input gives the trust back', async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath, logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) } });
    const address = inject('temporalAddress');
    const connection = await NativeConnection.connect({ address });
    const worker = await Worker.create({ connection, taskQueue: 'identity-sandbox', workflowBundle: { code } });
    const client = new Client({ connection: await Connection.connect({ address }) });
    const proof = await approveByAlice();
    const executionId = String(Date.now());
    try {
      const result = await worker.runUntil(async () => {
        // The evidence export reads the trust an execution started with from its first history event.
        await client.workflow.execute('startedWith', {
          taskQueue: 'identity-sandbox', workflowId: executionWorkflowId('identity-sandbox', executionId), args: [{ config: { trust } }],
        });
        return client.workflow.execute('checkProof', {
          taskQueue: 'identity-sandbox', workflowId: `identity-sandbox-${executionId}`, args: [message(signedMessage(proof)), trust, now],
        }) as Promise<{ first: unknown; again: unknown }>;
      });
      expect(result.first).toEqual(JSON.parse(JSON.stringify(checkDecisionProof(message(signedMessage(proof)), trust, new Set(), now))));
      expect(result.first).toMatchObject({ accepted: true, label: 'alice (signed)' });
      expect(result.again).toMatchObject({ accepted: false, code: 'replayed' });
      expect(await executionTrust(client, 'identity-sandbox', executionId)).toEqual(trust);
    } finally {
      await client.connection.close();
      await connection.close();
    }
  });
});
