/**
 * What a person signs: one decision on one execution, serialized one way only. The proof travels in the message
 * itself (`{"by": "alice", …, "proof": {…}}`), so the workflow's history alone shows who decided what.
 */
import { sha256 } from '@noble/hashes/sha2';
import { hex, utf8Encode } from './bytes';
import { parseSignature } from './sshsig';

/** Arguments of a decision: the message's own fields besides `by` and `proof` (comment, reason, at, now, metrics). */
export type DecisionArgs = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Decision {
  /** The format's version: a later one is a new name, never a reinterpretation. */
  v: 1;
  pipeline: string;
  execution: string;
  /** The step it answers (the waiting step's id); absent for a decision on the whole execution (a cancel). */
  step?: string;
  /** approve, reject, schedule, override, cancel, start, … */
  action: string;
  args: DecisionArgs;
  /** Who decides. A person's own key must be theirs; an identity provider's key vouches for this name. */
  by: string;
  /** When it was signed (ISO 8601, UTC). */
  time: string;
  /** Makes two otherwise equal decisions distinct (a random string). */
  nonce?: string;
}

/** A decision and its armored SSH signature (`ssh-keygen -Y sign -n stagecoach` over `decisionText(decision)`). */
export interface Proof {
  decision: Decision;
  signature: string;
}

/**
 * JSON with object keys sorted by code unit and no whitespace: one text per value. Refuses what JSON cannot carry
 * faithfully (undefined, non-finite numbers, functions), so what is signed is exactly what arrives.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${value} cannot be signed: not a finite number`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new Error(`a ${typeof value} cannot be signed`);
}

const PREFIX = 'stagecoach-decision\n';

/** The exact text signed: a fixed first line, then the decision's canonical JSON. */
export function decisionText(decision: Decision): string {
  return PREFIX + canonicalJson(decision);
}

export function decisionBytes(decision: Decision): Uint8Array {
  return utf8Encode(decisionText(decision));
}

/**
 * A proof's identity for replay detection: the SHA-256 of its raw ed25519 signature. Verification is strict, so no
 * other bytes verify for the same decision and key: a replayed proof always has the same id, however it is re-armored.
 * Throws on a signature that does not parse.
 */
export function proofId(proof: Pick<Proof, 'signature'>): string {
  return hex(sha256(parseSignature(proof.signature).signature));
}

/** The one way names are compared: trimmed and case-folded ("Alice " is alice). */
export function sameName(a: string, b: string): boolean {
  return normalizeName(a) === normalizeName(b);
}

export function normalizeName(name: string): string {
  return name.trim().toLowerCase();
}

/** Email addresses compared trimmed and case-folded, as mail systems treat them in practice. */
export function normalizeEmail(address: string): string {
  return address.trim().toLowerCase();
}
