/**
 * Evidence bundles: built from an execution's state, verified offline, and refused after any single changed byte,
 * after a re-signed forgery, and when a decision's proof no longer fits what the execution recorded.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { runVerify } from '../../src/cli/commands/verify';
import { buildEvidence, verifyEvidence, writeEvidence } from '../../src/client/evidence';
import { generateKeyPair, inProcessSigner, parseOpenSshPrivateKey, signDecision, signedMessage } from '../../src/client/identity';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import type { Trust } from '../../src/shared/identity';
import type { AuditEntry, ExecutionState } from '../../src/shared/types';
import { initialState } from '../../src/workflows/execution/state';

const keys = { alice: generateKeyPair('alice'), bob: generateKeyPair('bob'), api: generateKeyPair('api'), mallory: generateKeyPair('mallory') };
const signer = (name: keyof typeof keys) => inProcessSigner(parseOpenSshPrivateKey(keys[name].privateKey));

const trust: Trust = {
  model: 'signed',
  people: [
    { name: 'alice', keys: [keys.alice.publicKey], roles: ['BUSINESS_OWNER'] },
    { name: 'bob', keys: [keys.bob.publicKey], roles: ['DEPLOYMENT_MANAGER'] },
  ],
  identityProviders: [{ name: 'api', keys: [keys.api.publicKey] }],
  revokedKeys: [],
  decisionMaxAgeMs: 3_600_000,
  clockSkewMs: 120_000,
  emergencyRoles: [],
};

async function executionState(): Promise<ExecutionState> {
  const config = parsePipelineConfig({ id: 'sample', repository: 'examples/app' });
  const state = initialState({ pipelineId: 'sample', executionId: '12', trigger: 'MANUAL', mode: 'NORMAL', user: 'carol', config }, '2026-12-01T09:00:00.000Z');
  state.status = 'FINISHED';
  state.artifacts.images = { app: { id: 'sha256:aaaa', tag: 'app:1' }, dispatcher: { id: 'sha256:bbbb', tag: 'dispatcher:1' } };
  state.rollouts.prod = { environment: 'prod', environmentType: 'prod', status: 'FINISHED', window: 1, nodes: [{ name: 'pair-1', role: 'pair', phase: 'done', currentImages: { publish: 'sha256:aaaa', dispatcher: 'sha256:bbbb' } }] };
  for (const step of state.steps) step.status = 'FINISHED';
  state.steps.find((s) => s.action === 'codeQuality')!.details = { summary: 'all metrics pass', metrics: [{ id: 'coverage', actual: 91, passed: true }] };
  const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 10, minute)).toISOString();
  const approve = await signDecision(signer('alice'), { pipeline: 'sample', execution: '12', step: 'approval', action: 'approve', args: { comment: 'ship it' }, by: 'alice' }, new Date(at(0)));
  const schedule = await signDecision(signer('api'), { pipeline: 'sample', execution: '12', step: 'schedule', action: 'schedule', args: { now: true }, by: 'bob' }, new Date(at(1)));
  const entry = (minute: number, message: Record<string, unknown>, action: string, step: string): AuditEntry & { step: string; trustModel: string } => {
    const { by, ...details } = message;
    return { at: at(minute), by: String(by), action, via: 'signal', outcome: 'accepted', details, step, trustModel: 'signed' };
  };
  state.audit.push(
    { at: at(0), by: 'carol', action: 'approve', via: 'signal', outcome: 'refused', reason: 'the approve is unsigned' },
    entry(0, signedMessage(approve), 'approve', 'approval'),
    entry(2, signedMessage(schedule), 'schedule', 'schedule'),
  );
  return state;
}

const exportedAt = new Date('2026-12-02T08:00:00Z');

describe('evidence bundles', () => {
  it('verify offline: canonical, digest, the API\'s signature and every decision\'s own', async () => {
    const text = await writeEvidence(buildEvidence(await executionState(), trust, exportedAt), signer('api'));
    const report = verifyEvidence(text);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, proven: [{ action: 'approve', person: 'alice' }, { action: 'schedule', person: 'bob', via: 'api' }] });
    expect(report.content).toMatchObject({ images: { app: { id: 'sha256:aaaa' } }, deployments: [{ environmentType: 'prod', nodes: [{ name: 'pair-1' }] }] });
    expect(verifyEvidence(text, { trustedSigners: [keys.api.publicKey] }).ok).toBe(true);
    expect(verifyEvidence(text, { trustedSigners: [keys.mallory.publicKey] }).problems).toEqual([expect.stringContaining('not a trusted signer given')]);
  });

  it('fail on every single changed byte', async () => {
    const bytes = Buffer.from(await writeEvidence(buildEvidence(await executionState(), trust, exportedAt), signer('api')), 'utf8');
    const passed: number[] = [];
    for (let i = 0; i < bytes.length; i += 1) {
      // Every byte's lowest bit, and at every third byte the case bit (a letter's case, a digit into a control character).
      for (const change of i % 3 === 0 ? [0x01, 0x20] : [0x01]) {
        const changed = Buffer.from(bytes);
        changed[i] ^= change;
        if (verifyEvidence(changed.toString('utf8')).ok) passed.push(i);
      }
    }
    expect(bytes.length).toBeGreaterThan(2000);
    expect(passed).toEqual([]);
  });

  it('fail when the content is changed and the bundle re-signed by a key it does not trust', async () => {
    const content = buildEvidence(await executionState(), trust, exportedAt);
    content.images!.app.id = 'sha256:evil';
    const forged = await writeEvidence(content, signer('mallory'));
    expect(verifyEvidence(forged).problems).toEqual([expect.stringContaining('not in the bundle\'s own trust')]);
    expect(verifyEvidence(await writeEvidence(content), { trustedSigners: [keys.api.publicKey] }).problems).toEqual(['the bundle is not signed, and a signer was required']);
  });

  it('fail when a decision no longer fits its proof, or a proof counts twice', async () => {
    const content = buildEvidence(await executionState(), trust, exportedAt);
    content.decisions[1].args = { comment: 'changed after the fact' };
    expect(verifyEvidence(await writeEvidence(content, signer('api'))).problems).toEqual([expect.stringMatching(/^decisions\.1 \(approve by alice.*other arguments/)]);
    const twice = buildEvidence(await executionState(), trust, exportedAt);
    twice.decisions.push({ ...twice.decisions[1], at: '2026-12-01T10:03:00.000Z' });
    expect(verifyEvidence(await writeEvidence(twice)).problems).toEqual([expect.stringContaining('uses a proof an earlier decision used')]);
    const unsigned = buildEvidence(await executionState(), trust, exportedAt);
    delete unsigned.decisions[2].proof;
    expect(verifyEvidence(await writeEvidence(unsigned)).problems).toEqual([expect.stringContaining('accepted as signed but has no proof')]);
  });
});

describe('stagecoach verify', () => {
  it('says what it verified, exits 0; exits 1 naming the problem once a byte changed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagecoach-evidence-'));
    const file = path.join(dir, 'sample-12.evidence.json');
    const text = await writeEvidence(buildEvidence(await executionState(), trust, exportedAt), signer('api'));
    fs.writeFileSync(file, text);
    fs.writeFileSync(path.join(dir, 'api.pub'), keys.api.publicKey);
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => { printed.push(String(chunk)); return true; });
    try {
      expect(await runVerify({ signer: path.join(dir, 'api.pub') }, [file])).toBe(0);
      expect(printed.join('')).toMatch(/verified — pipeline sample, execution 12 \(FINISHED\), identity: signed/);
      expect(printed.join('')).toMatch(/decision +2026-12-01T10:02:00.000Z schedule by bob, via the api/);
      fs.writeFileSync(file, text.replace('sha256:aaaa', 'sha256:aaab'));
      printed.length = 0;
      expect(await runVerify({}, [file])).toBe(1);
      expect(printed.join('')).toMatch(/NOT VERIFIED\n {2}- the digest does not match the content/);
    } finally {
      write.mockRestore();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
