/**
 * SSH signatures as `ssh-keygen -Y sign` writes them (OpenSSH's PROTOCOL.sshsig): an armored blob holding the signer's
 * public key, a namespace, the hash algorithm and an ed25519 signature over the SSHSIG preamble, the namespace, the
 * reserved field, the hash algorithm and the hash of the message. Verifying here answers what `ssh-keygen -Y verify`
 * answers for the same key, namespace and message.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2';
import { SshReader, base64Decode, base64Encode, concatBytes, sshString, sshUint32, utf8Encode } from './bytes';
import { ED25519_KEY_TYPE, publicKeyFromBlob, type SshPublicKey } from './ssh-key';

/** The namespace every Stagecoach signature is made in: a signature for git or a file never counts as a decision. */
export const SIGNATURE_NAMESPACE = 'stagecoach';

const MAGIC = utf8Encode('SSHSIG');
const VERSION = 1;
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
const LINE = 70;

export type SshSigHash = 'sha512' | 'sha256';
const HASHES: Record<SshSigHash, (message: Uint8Array) => Uint8Array> = { sha512, sha256 };

export interface SshSignature {
  publicKey: SshPublicKey;
  namespace: string;
  hashAlgorithm: SshSigHash;
  /** Signed as carried; ssh-keygen writes it empty and ignores its content on verification. */
  reserved: Uint8Array;
  /** The raw 64-byte ed25519 signature. */
  signature: Uint8Array;
  /** The whole decoded blob. */
  blob: Uint8Array;
}

/** The bytes the ed25519 key signs for `message` in `namespace`. */
export function signedData(
  message: Uint8Array, namespace: string, hashAlgorithm: SshSigHash = 'sha512', reserved: Uint8Array = new Uint8Array(),
): Uint8Array {
  return concatBytes(MAGIC, sshString(namespace), sshString(reserved), sshString(hashAlgorithm), sshString(HASHES[hashAlgorithm](message)));
}

/** The armor `ssh-keygen` writes: 70 base64 characters a line between the BEGIN and END lines. */
export function armorSignature(blob: Uint8Array): string {
  const text = base64Encode(blob);
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += LINE) lines.push(text.slice(i, i + LINE));
  return `${BEGIN}\n${lines.join('\n')}\n${END}\n`;
}

export function encodeSignature(publicKey: SshPublicKey, namespace: string, hashAlgorithm: SshSigHash, signature: Uint8Array): Uint8Array {
  return concatBytes(
    MAGIC, sshUint32(VERSION), sshString(publicKey.blob), sshString(namespace), sshString(''), sshString(hashAlgorithm),
    sshString(concatBytes(sshString(ED25519_KEY_TYPE), sshString(signature))),
  );
}

/** Parses an armored SSH signature (LF or CRLF lines); throws saying what is wrong with it. */
export function parseSignature(armored: string): SshSignature {
  const lines = armored.trim().split(/\r?\n/);
  if (lines[0] !== BEGIN || lines[lines.length - 1] !== END || lines.length < 3) {
    throw new Error(`not an armored SSH signature: it must start with "${BEGIN}" and end with "${END}"`);
  }
  const blob = base64Decode(lines.slice(1, -1).join(''));
  if (!blob) throw new Error('the SSH signature\'s base64 is malformed');
  const reader = new SshReader(blob, 'the SSH signature');
  const magic = reader.raw(MAGIC.length);
  if (!magic.every((b, i) => b === MAGIC[i])) throw new Error('the SSH signature lacks the SSHSIG preamble');
  const version = reader.uint32();
  if (version !== VERSION) throw new Error(`SSH signature version ${version} is not supported (only ${VERSION})`);
  const publicKey = publicKeyFromBlob(reader.string());
  const namespace = reader.text();
  const reserved = reader.string();
  const hashAlgorithm = reader.text();
  if (hashAlgorithm !== 'sha512' && hashAlgorithm !== 'sha256') throw new Error(`unsupported hash algorithm ${hashAlgorithm}`);
  const inner = new SshReader(reader.string(), 'the signature field');
  reader.end();
  const type = inner.text();
  if (type !== ED25519_KEY_TYPE) throw new Error(`the signature is of type ${type}, not ${ED25519_KEY_TYPE}`);
  const signature = inner.string();
  inner.end();
  if (signature.length !== 64) throw new Error(`an ed25519 signature has 64 bytes, this one ${signature.length}`);
  return { publicKey, namespace, hashAlgorithm, reserved, signature, blob };
}

/**
 * Whether `signature` signs `message` in `namespace`. Strict RFC 8032 verification (not ZIP-215): no second encoding
 * of the same signature verifies, so a proof's id cannot be changed by re-encoding it.
 */
export function signatureValid(signature: SshSignature, message: Uint8Array, namespace: string): boolean {
  if (signature.namespace !== namespace) return false;
  const data = signedData(message, namespace, signature.hashAlgorithm, signature.reserved);
  try {
    return ed25519.verify(signature.signature, data, signature.publicKey.key, { zip215: false });
  } catch {
    return false;
  }
}
