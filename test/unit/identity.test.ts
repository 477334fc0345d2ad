/**
 * Signed decisions against the real OpenSSH: keys made by ssh-keygen, signatures made by `ssh-keygen -Y sign` verified
 * here, signatures made here verified by `ssh-keygen -Y verify`, and every reason a proof is refused.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EncryptedKeyError, formatOpenSshPrivateKey, generateKeyPair, identityProviderSigner, inProcessSigner,
  parseOpenSshPrivateKey, signDecision, signerForKeyFile, signedMessage, type DecisionInput,
} from '../../src/client/identity';
import {
  SIGNATURE_NAMESPACE, base64Decode, base64Encode, canonicalJson, decisionBytes, decisionText, parsePublicKey,
  parseSignature, proofId, sameName, signatureValid, utf8Encode, verifyDecision, type ExpectedDecision, type Proof, type Trust,
} from '../../src/shared/identity';
import { decisionArgs, signForSignal } from '../../src/cli/commands/sign';

let dir: string;
const keyOf = (name: string) => path.join(dir, name);
const pub = (name: string) => fs.readFileSync(`${keyOf(name)}.pub`, 'utf8').trim();

function sshKeygen(args: string[], input?: string | Uint8Array): string {
  return execFileSync('ssh-keygen', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** `ssh-keygen -Y sign` of `data`, in a file of its own: answers the armored signature. */
function sshSign(data: string | Uint8Array, options: { key: string; namespace?: string; hashalg?: string }): string {
  const file = path.join(dir, `message-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(file, data);
  sshKeygen(['-q', '-Y', 'sign', '-n', options.namespace ?? SIGNATURE_NAMESPACE, ...(options.hashalg ? ['-O', `hashalg=${options.hashalg}`] : []), '-f', keyOf(options.key), file]);
  return fs.readFileSync(`${file}.sig`, 'utf8');
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagecoach-identity-'));
  for (const name of ['alice', 'bob', 'api', 'mallory']) sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', keyOf(name)]);
  sshKeygen(['-q', '-t', 'ed25519', '-N', 'secret passphrase', '-C', 'locked', '-f', keyOf('locked')]);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const HOUR = 3_600_000;
function trust(overrides: Partial<Trust> = {}): Trust {
  return {
    model: 'signed',
    people: [
      { name: 'alice', keys: [pub('alice')], roles: ['BUSINESS_OWNER'] },
      { name: 'Bob', keys: [pub('bob')], roles: ['DEPLOYMENT_MANAGER'] },
      { name: 'carol', keys: [], roles: ['PROGRAM_MANAGER'] },
    ],
    identityProviders: [{ name: 'api', keys: [pub('api')] }],
    revokedKeys: [],
    decisionMaxAgeMs: HOUR,
    clockSkewMs: 120_000,
    emergencyRoles: ['PROGRAM_MANAGER'],
    ...overrides,
  };
}

const approval: DecisionInput = { pipeline: 'sample', execution: '12', step: 'approval', action: 'approve', args: { comment: 'ship it' }, by: 'alice' };
const expected: ExpectedDecision = { pipeline: 'sample', execution: '12', step: 'approval', action: 'approve', args: { comment: 'ship it' }, by: 'alice' };
const signedAt = new Date('2026-12-01T10:00:00.000Z');
const arrival = signedAt.getTime() + 5_000;

async function signWith(name: string, input: DecisionInput = approval, time = signedAt): Promise<Proof> {
  return signDecision(await signerForKeyFile(keyOf(name)), input, time);
}

describe('OpenSSH keys and signatures', () => {
  it('reads a public key line with the fingerprint ssh-keygen prints', () => {
    const key = parsePublicKey(pub('alice'));
    expect(key.comment).toBe('alice');
    expect(sshKeygen(['-l', '-f', `${keyOf('alice')}.pub`])).toContain(key.fingerprint);
    expect(() => parsePublicKey('ssh-rsa AAAAB3NzaC1yc2E alice')).toThrow(/ed25519/);
    expect(() => parsePublicKey('ssh-ed25519 AAAA!!!! alice')).toThrow(/base64/);
  });

  it('verifies what `ssh-keygen -Y sign -n stagecoach` signed, with sha512 and sha256, and nothing else', () => {
    const message = utf8Encode('a decision');
    for (const hashalg of ['sha512', 'sha256']) {
      const signature = parseSignature(sshSign(message, { key: 'alice', hashalg }));
      expect(signature.hashAlgorithm).toBe(hashalg);
      expect(signature.publicKey.fingerprint).toBe(parsePublicKey(pub('alice')).fingerprint);
      expect(signatureValid(signature, message, SIGNATURE_NAMESPACE)).toBe(true);
      expect(signatureValid(signature, utf8Encode('a decision!'), SIGNATURE_NAMESPACE)).toBe(false);
      expect(signatureValid(signature, message, 'git')).toBe(false);
    }
  });

  it('signs so that `ssh-keygen -Y verify` accepts it, for the right signer and namespace only', async () => {
    const message = decisionBytes({ v: 1, ...approval, time: signedAt.toISOString() });
    const signature = await inProcessSigner(parseOpenSshPrivateKey(fs.readFileSync(keyOf('alice'), 'utf8'))).sign(message);
    fs.writeFileSync(keyOf('allowed'), `alice ${pub('alice')}\nbob ${pub('bob')}\n`);
    fs.writeFileSync(keyOf('decision.sig'), signature);
    const verify = (identity: string, namespace: string, data: Uint8Array) => {
      try {
        return sshKeygen(['-Y', 'verify', '-f', keyOf('allowed'), '-I', identity, '-n', namespace, '-s', keyOf('decision.sig')], data);
      } catch (err) {
        return `refused: ${(err as { stderr?: string }).stderr}`;
      }
    };
    expect(verify('alice', SIGNATURE_NAMESPACE, message)).toMatch(/Good "stagecoach" signature for alice/);
    expect(verify('bob', SIGNATURE_NAMESPACE, message)).toMatch(/^refused/);
    expect(verify('alice', 'git', message)).toMatch(/^refused/);
    expect(verify('alice', SIGNATURE_NAMESPACE, utf8Encode(decisionText({ v: 1, ...approval, execution: '13', time: signedAt.toISOString() })))).toMatch(/^refused/);
  });

  it('writes private keys ssh-keygen reads and signs with', async () => {
    const pair = generateKeyPair('demo-user');
    fs.writeFileSync(keyOf('generated'), pair.privateKey, { mode: 0o600 });
    expect(sshKeygen(['-y', '-f', keyOf('generated')]).trim()).toBe(pair.publicKey);
    const signature = parseSignature(sshSign('hello', { key: 'generated' }));
    expect(signatureValid(signature, utf8Encode('hello'), SIGNATURE_NAMESPACE)).toBe(true);
    const ours = parseOpenSshPrivateKey(fs.readFileSync(keyOf('alice'), 'utf8'));
    expect(parseOpenSshPrivateKey(formatOpenSshPrivateKey(ours.seed, 'alice')).publicKey.fingerprint).toBe(ours.publicKey.fingerprint);
  });

  it('refuses to read a passphrase-protected key and says how to use it', () => {
    expect(() => parseOpenSshPrivateKey(fs.readFileSync(keyOf('locked'), 'utf8'), 'locked')).toThrow(EncryptedKeyError);
  });

  describe('through ssh-agent', () => {
    let agent: ChildProcess | undefined;
    const previous = process.env.SSH_AUTH_SOCK;
    beforeAll(async () => {
      const socket = path.join(dir, 'agent.sock');
      agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
      for (let i = 0; i < 50 && !fs.existsSync(socket); i += 1) await new Promise((r) => setTimeout(r, 100));
      process.env.SSH_AUTH_SOCK = socket;
      execFileSync('ssh-add', ['-q', keyOf('bob')], { stdio: 'ignore' });
      fs.copyFileSync(`${keyOf('bob')}.pub`, keyOf('bob-agent.pub'));
    });
    afterAll(() => {
      if (agent?.pid) process.kill(agent.pid);
      if (previous === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = previous;
    });

    it('signs with the .pub file of a key the agent holds', async () => {
      const proof = await signDecision(await signerForKeyFile(keyOf('bob-agent.pub')), { ...approval, by: 'bob' }, signedAt);
      expect(verifyDecision(proof, { ...expected, by: 'bob' }, trust(), arrival)).toMatchObject({ ok: true, person: 'Bob' });
    });
  });
});

describe('verifyDecision', () => {
  it('accepts alice\'s own signature, naming her and her roles', async () => {
    const proof = await signWith('alice');
    const verdict = verifyDecision(proof, expected, trust(), arrival);
    expect(verdict).toEqual({ ok: true, person: 'alice', roles: ['BUSINESS_OWNER'], via: undefined, fingerprint: parsePublicKey(pub('alice')).fingerprint, proofId: proofId(proof) });
  });

  it('accepts a decision the API signed on behalf of a person: "alice, via the API"', async () => {
    const api = await identityProviderSigner(keyOf('api'));
    const { by: _by, ...input } = approval;
    const proof = await api.signFor('alice', input, signedAt);
    expect(verifyDecision(proof, expected, trust(), arrival)).toMatchObject({ ok: true, person: 'alice', via: 'api' });
    expect(verifyDecision(await api.signFor('dave', input, signedAt), { ...expected, by: 'dave' }, trust(), arrival))
      .toMatchObject({ ok: false, code: 'unknown-person' });
  });

  it('compares names trimmed and case-folded, answering the configured spelling', async () => {
    expect(sameName(' Alice ', 'alice')).toBe(true);
    expect(sameName('alice', 'alicia')).toBe(false);
    const proof = await signWith('bob', { ...approval, by: 'BOB ' });
    expect(verifyDecision(proof, { ...expected, by: 'bob' }, trust(), arrival)).toMatchObject({ ok: true, person: 'Bob' });
  });

  it('refuses, each with its reason', async () => {
    const proof = await signWith('alice');
    const refusal = async (p: unknown, e = expected, t = trust(), now = arrival) => {
      const verdict = verifyDecision(p, e, t, now);
      expect(verdict.ok).toBe(false);
      return verdict as { code: string; reason: string };
    };
    expect(await refusal(undefined)).toMatchObject({ code: 'unsigned', reason: expect.stringContaining('stagecoach sign approve sample 12') });
    expect(await refusal({ decision: proof.decision })).toMatchObject({ code: 'malformed' });
    expect(await refusal({ ...proof, signature: 'not a signature' })).toMatchObject({ code: 'malformed' });
    expect(await refusal({ ...proof, decision: { ...proof.decision, args: { comment: 'ship it!' } } }, { ...expected, args: { comment: 'ship it!' } }))
      .toMatchObject({ code: 'bad-signature' });
    expect(await refusal(await signWith('bob'))).toMatchObject({ code: 'wrong-signer', reason: expect.stringContaining("Bob's key") });
    expect(await refusal(await signWith('mallory'))).toMatchObject({ code: 'unknown-key' });
    expect(await refusal(proof, { ...expected, by: 'bob' })).toMatchObject({ code: 'mismatch', reason: expect.stringContaining('by bob') });
    expect(await refusal(proof, { ...expected, execution: '13' })).toMatchObject({ code: 'mismatch', reason: 'the proof is for execution 12, not 13' });
    expect(await refusal(proof, { ...expected, pipeline: 'other' })).toMatchObject({ code: 'mismatch' });
    expect(await refusal(proof, { ...expected, step: 'managed' })).toMatchObject({ code: 'mismatch', reason: expect.stringContaining('step approval') });
    expect(await refusal(proof, { ...expected, action: 'reject' })).toMatchObject({ code: 'mismatch' });
    expect(await refusal(proof, { ...expected, args: {} })).toMatchObject({ code: 'mismatch', reason: expect.stringContaining('other arguments') });
    expect(await refusal(proof, expected, trust(), signedAt.getTime() + HOUR + 1)).toMatchObject({ code: 'expired' });
    expect(await refusal(proof, expected, trust(), signedAt.getTime() - 121_000)).toMatchObject({ code: 'future' });
    expect(await refusal(proof, expected, trust({ people: [] }))).toMatchObject({ code: 'unknown-key' });
  });

  it('refuses a revoked key from its revocation on, by line or fingerprint, and not before', async () => {
    const proof = await signWith('alice');
    const revokedAt = (at: string, key = pub('alice')) => trust({ revokedKeys: [{ key, at }] });
    expect(verifyDecision(proof, expected, revokedAt('2026-12-01T09:00:00Z'), arrival)).toMatchObject({ ok: false, code: 'revoked' });
    expect(verifyDecision(proof, expected, revokedAt('2026-12-01T10:00:03Z', parsePublicKey(pub('alice')).fingerprint), arrival))
      .toMatchObject({ ok: false, code: 'revoked' });
    expect(verifyDecision(proof, expected, revokedAt('2026-12-01T11:00:00Z'), arrival)).toMatchObject({ ok: true });
  });

  it('refuses a signature in another namespace (one made for git)', async () => {
    const signature = sshSign(decisionBytes({ v: 1, ...approval, time: signedAt.toISOString() }), { key: 'alice', namespace: 'git' });
    const proof = { decision: { v: 1, ...approval, time: signedAt.toISOString() }, signature };
    expect(verifyDecision(proof, expected, trust(), arrival)).toMatchObject({ ok: false, code: 'bad-signature', reason: expect.stringContaining('namespace "git"') });
  });

  it('accepts a decision ssh-keygen signed over decisionText, as a user without the CLI would', async () => {
    const decision = { v: 1 as const, ...approval, args: {}, time: signedAt.toISOString() };
    // The text docs/identity.md shows for signing by hand.
    expect(decisionText(decision)).toBe('stagecoach-decision\n{"action":"approve","args":{},"by":"alice","execution":"12","pipeline":"sample","step":"approval","time":"2026-12-01T10:00:00.000Z","v":1}');
    const signature = sshSign(decisionText(decision), { key: 'alice' });
    expect(verifyDecision({ decision, signature }, { ...expected, args: {} }, trust(), arrival)).toMatchObject({ ok: true, person: 'alice' });
  });

  it('fails on every changed character of the signature, and keeps one id however the armor is wrapped', async () => {
    const proof = await signWith('alice');
    const lines = proof.signature.trim().split('\n');
    const body = lines.slice(1, -1).join('');
    let accepted = 0;
    for (let i = 0; i < body.length; i += 1) {
      if (body[i] === '=') continue;
      const replacement = body[i] === 'A' ? 'B' : 'A';
      const changed = `${lines[0]}\n${body.slice(0, i)}${replacement}${body.slice(i + 1)}\n${lines[lines.length - 1]}\n`;
      if (verifyDecision({ ...proof, signature: changed }, expected, trust(), arrival).ok) accepted += 1;
    }
    expect(accepted).toBe(0);
    const bytes = base64Decode(body)!;
    expect(base64Encode(bytes)).toBe(body);
    const crlf = proof.signature.replace(/\n/g, '\r\n');
    expect(verifyDecision({ ...proof, signature: crlf }, expected, trust(), arrival)).toMatchObject({ ok: true, proofId: proofId(proof) });
    expect(proofId(await signWith('alice'))).not.toBe(proofId(proof)); // a new nonce: a new decision
  });

  it('serializes one way: sorted keys, no whitespace, nothing JSON cannot carry', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: { z: 'é', y: undefined } })).toBe('{"a":[true,null,"x"],"b":1,"c":{"z":"é"}}');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/finite/);
    expect(signedMessage({ decision: { v: 1, ...approval, time: signedAt.toISOString() }, signature: 'S' }))
      .toEqual({ comment: 'ship it', by: 'alice', proof: { decision: { v: 1, ...approval, time: signedAt.toISOString() }, signature: 'S' } });
  });
});

describe('stagecoach sign', () => {
  it('prints a signal input the execution accepts, and a temporal command line carrying it', async () => {
    const signed = await signForSignal({ action: 'approve', pipeline: 'sample', execution: '12', step: 'approval', by: 'alice', args: { comment: "it's fine" }, keyFile: keyOf('alice') });
    expect(signed.workflowId).toBe('stagecoach-sample-execution-12');
    const { proof, by, ...args } = signed.input as { proof: Proof; by: string };
    expect(verifyDecision(proof, { ...expected, args, by }, trust(), Date.parse(proof.decision.time))).toMatchObject({ ok: true, person: 'alice' });
    const quoted = /--input '(.*)'$/.exec(signed.temporalCommand)![1].replace(/'\\''/g, "'");
    expect(JSON.parse(quoted)).toEqual(signed.input);
  });

  it('takes each action\'s arguments from its flags, as the action\'s own command does', () => {
    expect(decisionArgs('schedule', { at: '2030-01-31T22:00:00+01:00' })).toEqual({ at: '2030-01-31T21:00:00.000Z' });
    expect(decisionArgs('schedule', { now: true })).toEqual({ now: true });
    expect(() => decisionArgs('schedule', {})).toThrow(/exactly one of/);
    expect(decisionArgs('override', { metrics: 'coverage, reliability_rating' })).toEqual({ metrics: ['coverage', 'reliability_rating'] });
    expect(decisionArgs('cancel', { reason: 'no' })).toEqual({ reason: 'no' });
  });
});
