/** OpenSSH ed25519 public keys: the `ssh-ed25519 AAAA… comment` line of an id_ed25519.pub or authorized_keys file. */
import { sha256 } from '@noble/hashes/sha2';
import { SshReader, base64Decode, base64Encode, concatBytes, sshString } from './bytes';

export const ED25519_KEY_TYPE = 'ssh-ed25519';

export interface SshPublicKey {
  /** The 32-byte ed25519 public key. */
  key: Uint8Array;
  /** The SSH wire blob (string "ssh-ed25519", string key), as SSHSIG carries it. */
  blob: Uint8Array;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  comment?: string;
}

export function publicKeyFromBlob(blob: Uint8Array): SshPublicKey {
  const reader = new SshReader(blob, 'the public key');
  const type = reader.text();
  if (type !== ED25519_KEY_TYPE) throw new Error(`the key is ${type}: only ${ED25519_KEY_TYPE} keys are accepted`);
  const key = reader.string();
  if (key.length !== 32) throw new Error(`an ${ED25519_KEY_TYPE} key has 32 bytes, this one ${key.length}`);
  reader.end();
  return { key, blob, fingerprint: fingerprintOf(blob) };
}

export function publicKeyFromRaw(key: Uint8Array, comment?: string): SshPublicKey {
  const blob = concatBytes(sshString(ED25519_KEY_TYPE), sshString(key));
  return { ...publicKeyFromBlob(blob), comment };
}

/** Parses one public key line; throws with what is wrong (type, encoding, length, a type that disagrees with the blob). */
export function parsePublicKey(line: string): SshPublicKey {
  const [type, data, ...comment] = line.trim().split(/\s+/);
  if (type !== ED25519_KEY_TYPE) {
    throw new Error(`not an OpenSSH ed25519 public key: expected "${ED25519_KEY_TYPE} AAAA… comment", got "${line.trim().slice(0, 40)}"`);
  }
  const blob = data === undefined ? undefined : base64Decode(data);
  if (!blob) throw new Error('the public key\'s base64 data is missing or malformed');
  return { ...publicKeyFromBlob(blob), comment: comment.length ? comment.join(' ') : undefined };
}

/** The key as one line, without its comment unless asked: what `trust` compares and bundles record. */
export function formatPublicKey(key: SshPublicKey, comment = key.comment): string {
  return `${ED25519_KEY_TYPE} ${base64Encode(key.blob)}${comment ? ` ${comment}` : ''}`;
}

export function fingerprintOf(blob: Uint8Array): string {
  return `SHA256:${base64Encode(sha256(blob)).replace(/=+$/, '')}`;
}
