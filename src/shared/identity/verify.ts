/**
 * Whether a proof shows that a known person made exactly the expected decision, now. Pure and deterministic: the
 * workflow runs it on every decision message, and `stagecoach verify` runs it again on an evidence bundle.
 */
import { canonicalJson, decisionBytes, proofId, sameName, type Decision, type DecisionArgs, type Proof } from './decision';
import { parsePublicKey, type SshPublicKey } from './ssh-key';
import { SIGNATURE_NAMESPACE, parseSignature, signatureValid, type SshSignature } from './sshsig';

/** `signed`: every decision carries a proof. `declared`: names as given (local demos), labelled so wherever shown. */
export type TrustModel = 'signed' | 'declared';

export interface TrustedPerson {
  name: string;
  /** The addresses their commits are authored with (an ON_COMMIT execution's starter is found by them). */
  emails?: string[];
  /** OpenSSH public key lines. */
  keys: string[];
  roles: string[];
}

/** A service (the HTTP API) that authenticates people itself and signs on their behalf with its own key. */
export interface IdentityProvider {
  name: string;
  keys: string[];
}

/** A key no longer trusted from `at` on: decisions received (or dated) then or later are refused. */
export interface RevokedKey {
  /** A public key line, or its `SHA256:…` fingerprint. */
  key: string;
  at: string;
}

/** Who may decide, with which keys: plain data, built from the pipeline's `identity` configuration. */
export interface Trust {
  model: TrustModel;
  people: TrustedPerson[];
  identityProviders: IdentityProvider[];
  revokedKeys: RevokedKey[];
  /** A decision signed longer ago than this is refused (it may have been lying about for anyone to send). */
  decisionMaxAgeMs: number;
  /** How far in the future a decision's time may be (the signer's clock runs ahead). */
  clockSkewMs: number;
  /** Roles that may ask for EMERGENCY mode. */
  emergencyRoles: string[];
  /**
   * Roles that may cancel an execution (its starter always may). Its presence also says the execution follows the
   * role rules of cancel and override; executions started before them carry none and decide as they did.
   */
  cancelRoles?: string[];
}

/** The trust of an execution that carries none (started before identity existed): names as given, no keys. */
export const DECLARED_TRUST: Trust = {
  model: 'declared', people: [], identityProviders: [], revokedKeys: [], decisionMaxAgeMs: 0, clockSkewMs: 0, emergencyRoles: [],
};

/** What the message in hand asks for: the proof must be for exactly this. */
export interface ExpectedDecision {
  pipeline: string;
  execution: string;
  step?: string;
  action: string;
  args: DecisionArgs;
  /** The message's `by`, when it has one: it must name the signed decision's person. */
  by?: string;
}

export type RefusalCode =
  | 'unsigned' | 'malformed' | 'bad-signature' | 'unknown-key' | 'wrong-signer' | 'unknown-person' | 'revoked'
  | 'mismatch' | 'expired' | 'future';

export type Verdict =
  | { ok: true; person: string; roles: string[]; via?: string; fingerprint: string; proofId: string }
  | { ok: false; code: RefusalCode; reason: string };

const refuse = (code: RefusalCode, reason: string): Verdict => ({ ok: false, code, reason });

export function verifyDecision(proof: unknown, expected: ExpectedDecision, trust: Trust, nowMs: number): Verdict {
  if (proof === undefined || proof === null) {
    return refuse('unsigned', `the ${expected.action} is unsigned: pipeline ${expected.pipeline} requires signed decisions ` +
      `(identity: signed); sign it with \`stagecoach sign ${expected.action} ${expected.pipeline} ${expected.execution} --key ~/.ssh/id_ed25519\``);
  }
  const shape = proofShapeProblem(proof);
  if (shape) return refuse('malformed', shape);
  const { decision, signature: armored } = proof as Proof;
  let signature: SshSignature;
  try {
    signature = parseSignature(armored);
  } catch (err) {
    return refuse('malformed', `the proof's signature: ${(err as Error).message}`);
  }
  if (signature.namespace !== SIGNATURE_NAMESPACE) {
    return refuse('bad-signature', `signed in namespace "${signature.namespace}", not "${SIGNATURE_NAMESPACE}" (use ssh-keygen -Y sign -n ${SIGNATURE_NAMESPACE})`);
  }
  if (!signatureValid(signature, decisionBytes(decision), SIGNATURE_NAMESPACE)) {
    return refuse('bad-signature', `the signature does not verify over the decision (key ${signature.publicKey.fingerprint}): it was altered or made for another text`);
  }
  const time = Date.parse(decision.time);
  if (Number.isNaN(time)) return refuse('malformed', `the decision's time is not an ISO 8601 time: ${JSON.stringify(decision.time)}`);
  const fingerprint = signature.publicKey.fingerprint;
  const revoked = revocationOf(signature.publicKey, trust, Math.max(nowMs, time));
  if (revoked) return refuse('revoked', `key ${fingerprint} was revoked at ${revoked.at}: its decisions from then on are refused`);
  const signer = signerOf(signature.publicKey, decision, trust);
  if (!signer.ok) return signer;
  const mismatch = mismatchOf(decision, expected);
  if (mismatch) return refuse('mismatch', mismatch);
  if (nowMs - time > trust.decisionMaxAgeMs) {
    return refuse('expired', `the decision was signed at ${decision.time}, more than ${describeMs(trust.decisionMaxAgeMs)} before it arrived (${new Date(nowMs).toISOString()}): sign it again`);
  }
  if (time - nowMs > trust.clockSkewMs) {
    return refuse('future', `the decision is dated ${decision.time}, later than it arrived (${new Date(nowMs).toISOString()}) by more than ${describeMs(trust.clockSkewMs)}: check the signer's clock`);
  }
  return { ok: true, person: signer.person.name, roles: signer.person.roles, via: signer.via, fingerprint, proofId: proofId(proof as Proof) };
}

function proofShapeProblem(proof: unknown): string | undefined {
  if (typeof proof !== 'object' || Array.isArray(proof)) return 'the proof must be an object {"decision": {…}, "signature": "-----BEGIN SSH SIGNATURE-----…"}';
  const { decision, signature } = proof as Record<string, unknown>;
  if (typeof signature !== 'string') return 'the proof has no "signature" (the armored SSH signature)';
  if (typeof decision !== 'object' || decision === null || Array.isArray(decision)) return 'the proof has no "decision" object';
  const d = decision as Record<string, unknown>;
  if (d.v !== 1) return `the decision's format version is ${JSON.stringify(d.v)}; this Stagecoach reads version 1`;
  for (const key of ['pipeline', 'execution', 'action', 'by', 'time'] as const) {
    if (typeof d[key] !== 'string') return `the decision's "${key}" must be a string`;
  }
  if (d.step !== undefined && typeof d.step !== 'string') return 'the decision\'s "step" must be a string when present';
  if (d.nonce !== undefined && typeof d.nonce !== 'string') return 'the decision\'s "nonce" must be a string when present';
  if (typeof d.args !== 'object' || d.args === null || Array.isArray(d.args)) return 'the decision\'s "args" must be an object';
  try {
    canonicalJson(decision);
  } catch (err) {
    return `the decision: ${(err as Error).message}`;
  }
  return undefined;
}

/** Whether `line` (a public key line or a `SHA256:…` fingerprint) names `key`. */
export function keyMatches(key: SshPublicKey, line: string): boolean {
  if (line.startsWith('SHA256:')) return line === key.fingerprint;
  try {
    return parsePublicKey(line).fingerprint === key.fingerprint;
  } catch {
    return false;
  }
}

function revocationOf(key: SshPublicKey, trust: Trust, atMs: number): RevokedKey | undefined {
  return trust.revokedKeys.find((r) => keyMatches(key, r.key) && Date.parse(r.at) <= atMs);
}

type Signer = { ok: true; person: TrustedPerson; via?: string } | Extract<Verdict, { ok: false }>;

/** The person the key speaks for: its owner, or, for an identity provider's key, the person the decision names. */
function signerOf(key: SshPublicKey, decision: Decision, trust: Trust): Signer {
  const owner = trust.people.find((p) => p.keys.some((k) => keyMatches(key, k)));
  if (owner) {
    if (!sameName(owner.name, decision.by)) {
      return { ok: false, code: 'wrong-signer', reason: `signed with ${owner.name}'s key (${key.fingerprint}), but the decision names ${decision.by}: only ${decision.by}'s own key can sign as ${decision.by}` };
    }
    return { ok: true, person: owner };
  }
  const provider = trust.identityProviders.find((p) => p.keys.some((k) => keyMatches(key, k)));
  if (!provider) {
    return { ok: false, code: 'unknown-key', reason: `signed with a key nobody in the pipeline's identity configuration holds (${key.fingerprint})` };
  }
  const person = trust.people.find((p) => sameName(p.name, decision.by));
  if (!person) {
    return { ok: false, code: 'unknown-person', reason: `${provider.name} vouches for ${decision.by}, who is not a person of this pipeline's identity configuration` };
  }
  return { ok: true, person, via: provider.name };
}

function mismatchOf(decision: Decision, expected: ExpectedDecision): string | undefined {
  if (expected.by !== undefined && !sameName(expected.by, decision.by)) {
    return `the message is by ${expected.by}, but the signed decision is by ${decision.by}`;
  }
  if (decision.pipeline !== expected.pipeline) return `the proof is for pipeline ${decision.pipeline}, not ${expected.pipeline}`;
  if (decision.execution !== expected.execution) return `the proof is for execution ${decision.execution}, not ${expected.execution}`;
  if (decision.action !== expected.action) return `the proof is for a ${decision.action}, not a ${expected.action}`;
  if (decision.step !== expected.step) {
    return `the proof is for ${decision.step ? `step ${decision.step}` : 'no step'}, but the ${expected.action} is at ${expected.step ? `step ${expected.step}` : 'no step'}`;
  }
  if (canonicalJson(decision.args) !== canonicalJson(expected.args)) {
    return `the proof signs other arguments (${canonicalJson(decision.args)}) than the message carries (${canonicalJson(expected.args)})`;
  }
  return undefined;
}

function describeMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}
