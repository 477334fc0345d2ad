/**
 * Bytes without Node: strict base64, UTF-8 and the SSH wire encoding (RFC 4251 uint32 and length-prefixed strings).
 * Workflow code has no Buffer, and a lenient decoder would let two different texts stand for one signature.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const INDEX: Record<string, number> = Object.fromEntries([...ALPHABET].map((c, i) => [c, i]));

export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
    out += i + 1 < bytes.length ? ALPHABET[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? ALPHABET[n & 63] : '=';
  }
  return out;
}

/** Canonical padded base64 only: any other character, missing padding or non-zero spare bits answer undefined. */
export function base64Decode(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const body = text.slice(0, text.length - padding);
  const out = new Uint8Array((body.length * 3) >> 2);
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const c of body) {
    const v = INDEX[c];
    if (v === undefined) return undefined;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  if ((value & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

export function utf8Encode(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Fatal decoding: bytes that are not UTF-8 answer undefined rather than a replacement character. */
export function utf8Decode(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function sshUint32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** An SSH `string`: a uint32 length, then the bytes. */
export function sshString(value: Uint8Array | string): Uint8Array {
  const bytes = typeof value === 'string' ? utf8Encode(value) : value;
  return concatBytes(sshUint32(bytes.length), bytes);
}

/** Reads SSH wire fields in order; every read past the end throws, and `end()` refuses trailing bytes. */
export class SshReader {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array, private readonly what: string) {}

  raw(length: number): Uint8Array {
    if (this.offset + length > this.bytes.length) throw new Error(`${this.what} is truncated`);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  uint32(): number {
    const [a, b, c, d] = this.raw(4);
    return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
  }

  string(): Uint8Array {
    return this.raw(this.uint32());
  }

  text(): string {
    const text = utf8Decode(this.string());
    if (text === undefined) throw new Error(`${this.what} holds a field that is not UTF-8`);
    return text;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  end(): void {
    if (this.remaining !== 0) throw new Error(`${this.what} has ${this.remaining} unexpected trailing bytes`);
  }
}
