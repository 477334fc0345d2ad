/**
 * Step logs as Cloud Manager hands them out: the logs link answers with a redirect to a download URL that carries a
 * short-lived signed token instead of needing the bearer (Cloud Manager's are signed storage URLs), and the download
 * serves byte ranges so that a client can tail a log that is still being written.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a download URL stays valid: long enough to tail a build, short enough that a leaked URL soon expires. */
export const LOG_URL_TTL_MS = 60 * 60_000;

export const LOG_DOWNLOAD_PATH = '/api/logs/download';

interface LogClaim { ref: string; exp: number }

/** Signs and checks log tokens with a key of its own (random per API process unless given). */
export class LogTokens {
  private readonly key: Buffer;

  constructor(key?: Buffer) {
    this.key = key ?? randomBytes(32);
  }

  sign(ref: string, now = Date.now()): string {
    const claim = Buffer.from(JSON.stringify({ ref, exp: now + LOG_URL_TTL_MS } satisfies LogClaim)).toString('base64url');
    return `${claim}.${this.mac(claim)}`;
  }

  /** The artifact reference a token grants, or undefined when it is forged, malformed or expired. */
  verify(token: string, now = Date.now()): string | undefined {
    const [claim, mac] = token.split('.');
    if (!claim || !mac) return undefined;
    const expected = Buffer.from(this.mac(claim));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    let parsed: LogClaim;
    try {
      parsed = JSON.parse(Buffer.from(claim, 'base64url').toString('utf8')) as LogClaim;
    } catch {
      return undefined;
    }
    return typeof parsed.ref === 'string' && typeof parsed.exp === 'number' && parsed.exp > now ? parsed.ref : undefined;
  }

  private mac(claim: string): string {
    return createHmac('sha256', this.key).update(claim).digest('base64url');
  }
}

export type RangeAnswer =
  | { status: 200; body: Buffer }
  | { status: 206; body: Buffer; contentRange: string }
  | { status: 416; contentRange: string };

/**
 * A `Range: bytes=N-` / `bytes=N-M` answer over the whole text: 206 with the bytes, 416 when N is at or past the end
 * (a client tailing a log reads that as "nothing new yet"). Without a range (or one it cannot read), the whole text.
 */
export function rangeOf(text: Buffer, header: string | undefined): RangeAnswer {
  const match = /^bytes=(\d+)-(\d*)$/.exec(header?.trim() ?? '');
  if (!match) return { status: 200, body: text };
  const start = Number(match[1]);
  if (start >= text.length) return { status: 416, contentRange: `bytes */${text.length}` };
  const end = match[2] ? Math.min(Number(match[2]), text.length - 1) : text.length - 1;
  if (end < start) return { status: 416, contentRange: `bytes */${text.length}` };
  return { status: 206, body: text.subarray(start, end + 1), contentRange: `bytes ${start}-${end}/${text.length}` };
}
