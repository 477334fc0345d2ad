/**
 * OIDC bearer tokens for the HTTP API (and so the console): a JWT an identity provider signed (ID or access token),
 * verified here against the provider's public keys (JWKs in the tokens file or a JWKS file beside it: this process
 * fetches nothing, so a key rotation is a file change and a restart), its issuer, audience and times checked, and its
 * subject mapped to a user name and roles by configured claims. The API then signs the user's decisions on their
 * behalf exactly as for a static token, and the audit says "<name>, via the API".
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** The algorithms accepted; `none` and the HMAC family never (a shared secret is not an identity provider's key). */
const ALGORITHMS = {
  RS256: { hash: 'sha256', options: {} },
  PS256: { hash: 'sha256', options: { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } },
  ES256: { hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' as const } },
  EdDSA: { hash: null, options: {} },
} as const;
type Algorithm = keyof typeof ALGORITHMS;

export const oidcSchema = z.object({
  issuer: z.string().url(),
  /** The `aud` the API accepts (one of the token's audiences). */
  audience: z.string().min(1),
  /** The provider's public keys as JWKs, or `jwksFile` (relative to the tokens file): one of the two. */
  keys: z.array(z.record(z.string(), z.unknown())).min(1).optional(),
  jwksFile: z.string().min(1).optional(),
  /** The claim that names the user (what executions record as `by`). */
  userClaim: z.string().default('preferred_username'),
  /** The claim listing the user's groups or roles (an array of strings, or one string). */
  rolesClaim: z.string().default('groups'),
  /** A group of the provider to the API's roles; a claim value that is itself a role name counts as that role. */
  roleMap: z.record(z.string(), z.array(z.string())).default({}),
  /** Leeway for the token's times, in seconds. */
  clockSkewSeconds: z.number().int().min(0).max(300).default(60),
}).strict().refine((o) => (o.keys === undefined) !== (o.jwksFile === undefined), 'exactly one of keys or jwksFile');
export type OidcConfig = z.output<typeof oidcSchema>;

interface VerifierKey { kid?: string; key: KeyObject }

/** A JWT's three parts; anything else is not one (and is looked up as a static token). */
export const looksLikeJwt = (token: string) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);

export class OidcVerifier {
  private readonly keys: VerifierKey[];

  constructor(private readonly config: OidcConfig, private readonly names: { isValidName(name: string): boolean; roles: readonly string[] }, baseDir = '.') {
    const jwks = config.keys ?? (JSON.parse(fs.readFileSync(path.resolve(baseDir, config.jwksFile!), 'utf8')) as { keys: Array<Record<string, unknown>> }).keys;
    this.keys = jwks.map((jwk) => ({ kid: typeof jwk.kid === 'string' ? jwk.kid : undefined, key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }) }));
  }

  /** The user a valid token names, with their roles; undefined for any token that does not verify (never why: a probe learns nothing). */
  userFor(token: string, nowMs = Date.now()): { name: string; roles: string[] } | undefined {
    const [h, p, s] = token.split('.');
    const header = decodeJson(h);
    const claims = decodeJson(p);
    if (!header || !claims || typeof header.alg !== 'string' || !(header.alg in ALGORITHMS)) return undefined;
    const alg = ALGORITHMS[header.alg as Algorithm];
    const candidates = this.keys.filter((k) => header.kid === undefined || k.kid === undefined || k.kid === header.kid);
    const signed = Buffer.from(`${h}.${p}`);
    const signature = Buffer.from(s, 'base64url');
    const verified = candidates.some(({ key }) => {
      try {
        return verify(alg.hash, signed, { key, ...alg.options }, signature);
      } catch {
        return false; // a key of another type than the algorithm's
      }
    });
    if (!verified) return undefined;
    const now = nowMs / 1000;
    const skew = this.config.clockSkewSeconds;
    if (claims.iss !== this.config.issuer) return undefined;
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(this.config.audience)) return undefined;
    if (typeof claims.exp !== 'number' || claims.exp + skew < now) return undefined;
    if (typeof claims.nbf === 'number' && claims.nbf - skew > now) return undefined;
    if (typeof claims.iat === 'number' && claims.iat - skew > now) return undefined;
    const name = claims[this.config.userClaim];
    if (typeof name !== 'string' || !this.names.isValidName(name.trim())) return undefined;
    const raw = claims[this.config.rolesClaim];
    const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : typeof raw === 'string' ? [raw] : [];
    const roles = new Set<string>();
    for (const g of groups) {
      if (this.names.roles.includes(g)) roles.add(g);
      for (const role of this.config.roleMap[g] ?? []) if (this.names.roles.includes(role)) roles.add(role);
    }
    return { name: name.trim(), roles: [...roles] };
  }
}

function decodeJson(part: string | undefined): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
