/**
 * Signing decisions on the Node side: with a person's own OpenSSH ed25519 key (read here when unencrypted, else by
 * `ssh-keygen -Y sign`, which also signs with a key held by ssh-agent when given the .pub file), and for the HTTP API,
 * with the API's own key on behalf of the user it authenticated. What is signed is `decisionText` (shared/identity).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519';
import {
  SIGNATURE_NAMESPACE, armorSignature, base64Decode, base64Encode, decisionBytes, encodeSignature, formatPublicKey, parsePublicKey,
  parseSignature, publicKeyFromRaw, signedData, type Decision, type Proof, type SshPublicKey,
} from '../shared/identity';
import { SshReader, concatBytes, sshString, sshUint32, utf8Encode } from '../shared/identity/bytes';
import { publicKeyFromBlob } from '../shared/identity/ssh-key';

const PRIVATE_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const PRIVATE_END = '-----END OPENSSH PRIVATE KEY-----';
const AUTH_MAGIC = utf8Encode('openssh-key-v1\0');

/** Signs messages with one key. */
export interface MessageSigner {
  publicKey: SshPublicKey;
  /** The armored SSH signature of `message` in `namespace` (decisions: `stagecoach`). */
  sign(message: Uint8Array, namespace?: string): Promise<string>;
}

export interface OpenSshPrivateKey {
  /** The 32-byte ed25519 seed. */
  seed: Uint8Array;
  publicKey: SshPublicKey;
}

export class EncryptedKeyError extends Error {
  constructor(file: string) {
    super(`${file} is protected by a passphrase: load it into ssh-agent (ssh-add) and give the .pub file, or sign with ssh-keygen`);
    this.name = 'EncryptedKeyError';
  }
}

/** Parses an unencrypted `-----BEGIN OPENSSH PRIVATE KEY-----` ed25519 key; throws EncryptedKeyError for a protected one. */
export function parseOpenSshPrivateKey(text: string, source = 'the key'): OpenSshPrivateKey {
  const lines = text.trim().split(/\r?\n/);
  if (lines[0] !== PRIVATE_BEGIN || lines[lines.length - 1] !== PRIVATE_END) {
    throw new Error(`${source} is not an OpenSSH private key (${PRIVATE_BEGIN})`);
  }
  const blob = base64Decode(lines.slice(1, -1).join(''));
  if (!blob) throw new Error(`${source}: malformed base64`);
  const reader = new SshReader(blob, source);
  if (!reader.raw(AUTH_MAGIC.length).every((b, i) => b === AUTH_MAGIC[i])) throw new Error(`${source}: not an openssh-key-v1 key`);
  const cipher = reader.text();
  reader.text(); // kdf name
  reader.string(); // kdf options
  if (cipher !== 'none') throw new EncryptedKeyError(source);
  if (reader.uint32() !== 1) throw new Error(`${source}: holds more than one key`);
  const publicKey = publicKeyFromBlob(reader.string());
  const secret = new SshReader(reader.string(), source);
  if (secret.uint32() !== secret.uint32()) throw new Error(`${source}: corrupt (check bytes differ)`);
  const type = secret.text();
  if (type !== 'ssh-ed25519') throw new Error(`${source} is a ${type} key: only ssh-ed25519 keys sign decisions`);
  secret.string(); // public key again
  const seed = secret.string().slice(0, 32);
  const comment = secret.text();
  if (base64Encode(ed25519.getPublicKey(seed)) !== base64Encode(publicKey.key)) throw new Error(`${source}: the private key does not match its public key`);
  return { seed, publicKey: { ...publicKey, comment: comment || undefined } };
}

/** The OpenSSH private key file text for `seed` (unencrypted), as `ssh-keygen -t ed25519 -N ''` writes it. */
export function formatOpenSshPrivateKey(seed: Uint8Array, comment = ''): string {
  const pub = ed25519.getPublicKey(seed);
  const publicKey = publicKeyFromRaw(pub);
  const check = randomBytes(4);
  let secret = concatBytes(check, check, sshString('ssh-ed25519'), sshString(pub), sshString(concatBytes(seed, pub)), sshString(comment));
  const padding = (8 - (secret.length % 8)) % 8;
  secret = concatBytes(secret, Uint8Array.from({ length: padding }, (_, i) => i + 1));
  const blob = concatBytes(AUTH_MAGIC, sshString('none'), sshString('none'), sshString(''), sshUint32(1), sshString(publicKey.blob), sshString(secret));
  const body = base64Encode(blob).match(/.{1,70}/g)!.join('\n');
  return `${PRIVATE_BEGIN}\n${body}\n${PRIVATE_END}\n`;
}

/** A new ed25519 key pair: the private key file's text and the public key line (for the demo's sample users). */
export function generateKeyPair(comment: string): { privateKey: string; publicKey: string } {
  const seed = ed25519.utils.randomSecretKey();
  return { privateKey: formatOpenSshPrivateKey(seed, comment), publicKey: formatPublicKey(publicKeyFromRaw(ed25519.getPublicKey(seed)), comment) };
}

/** Signs in this process with an unencrypted key. */
export function inProcessSigner(key: OpenSshPrivateKey): MessageSigner {
  return {
    publicKey: key.publicKey,
    sign: async (message, namespace = SIGNATURE_NAMESPACE) => {
      const signature = ed25519.sign(signedData(message, namespace, 'sha512'), key.seed);
      return armorSignature(encodeSignature(key.publicKey, namespace, 'sha512', signature));
    },
  };
}

/**
 * Signs by running `ssh-keygen -Y sign -n <namespace> -f <file>` with the message on stdin: `file` is a private key
 * (ssh-keygen asks for its passphrase) or a public key whose private half is in ssh-agent.
 */
export function sshKeygenSigner(file: string, publicKey: SshPublicKey): MessageSigner {
  return {
    publicKey,
    sign: (message, namespace = SIGNATURE_NAMESPACE) => new Promise((resolve, reject) => {
      const child = execFile('ssh-keygen', ['-q', '-Y', 'sign', '-n', namespace, '-f', file], { encoding: 'utf8' }, (err, stdout, stderr) => {
        if (err) reject(new Error(`ssh-keygen -Y sign -f ${file} failed: ${(stderr || err.message).trim()}`));
        else resolve(stdout);
      });
      child.stdin!.end(Buffer.from(message));
    }),
  };
}

/**
 * The signer for `--key FILE`: an unencrypted private key signs in this process; a passphrase-protected one, or a
 * `.pub` file whose key is in ssh-agent, through ssh-keygen.
 */
export async function signerForKeyFile(file: string): Promise<MessageSigner> {
  const text = await fs.readFile(file, 'utf8');
  if (text.trimStart().startsWith('ssh-ed25519 ')) return sshKeygenSigner(file, parsePublicKey(text));
  try {
    return inProcessSigner(parseOpenSshPrivateKey(text, file));
  } catch (err) {
    if (!(err instanceof EncryptedKeyError)) throw err;
    const pub = await fs.readFile(`${file}.pub`, 'utf8').catch(() => {
      throw new Error(`${file} is protected by a passphrase and ${file}.pub is missing: give the .pub file of a key in ssh-agent`);
    });
    return sshKeygenSigner(file, parsePublicKey(pub));
  }
}

/** What a decision says, without what the signer adds (format version, time, nonce). */
export type DecisionInput = Omit<Decision, 'v' | 'time' | 'nonce'>;

/** A proof for `input`, signed now (or at `time`). The signature is checked against the signer's own key. */
export async function signDecision(signer: MessageSigner, input: DecisionInput, time = new Date()): Promise<Proof> {
  const decision: Decision = { v: 1, ...input, time: time.toISOString(), nonce: base64Encode(randomBytes(12)) };
  const signature = await signer.sign(decisionBytes(decision));
  const signedBy = parseSignature(signature).publicKey.fingerprint;
  if (signedBy !== signer.publicKey.fingerprint) {
    throw new Error(`the signature was made with key ${signedBy}, not the expected ${signer.publicKey.fingerprint}`);
  }
  return { decision, signature };
}

/**
 * The HTTP API's signer: it authenticates a user (token, OIDC) and signs their decisions with its own key, which the
 * pipeline's `identityProviders` trust; the audit then says "alice, via the API".
 */
export async function identityProviderSigner(keyFile: string) {
  const signer = await signerForKeyFile(keyFile);
  return {
    publicKey: signer.publicKey,
    signFor: (user: string, input: Omit<DecisionInput, 'by'>, time?: Date) => signDecision(signer, { ...input, by: user }, time),
  };
}

/** The message to send (a signal's or an update's input): the request's fields, `by`, and the proof. */
export function signedMessage(proof: Proof): Record<string, unknown> {
  return { ...proof.decision.args, by: proof.decision.by, proof };
}

/**
 * The key pair at `file` (private) and `file.pub`, generated when missing: the demo's sample users, the HTTP API's
 * own key. The private key is readable by its owner only. Answers the public key line.
 */
export async function ensureKeyPair(file: string, comment: string): Promise<string> {
  const existing = await fs.readFile(`${file}.pub`, 'utf8').catch(() => undefined);
  if (existing !== undefined && await fs.access(file).then(() => true, () => false)) return existing.trim();
  const pair = generateKeyPair(comment);
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await fs.writeFile(file, pair.privateKey, { mode: 0o600 });
  await fs.writeFile(`${file}.pub`, `${pair.publicKey}\n`);
  return pair.publicKey;
}
