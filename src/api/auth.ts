/**
 * Bearer tokens of the HTTP API: a YAML file (STAGECOACH_API_TOKENS, default examples/api-tokens.yaml) maps each
 * token to a user and their roles. The user name is what the workflows record in their audit logs (`by`); the roles
 * say which routes the user may call. Tokens are compared by their SHA-256 digest in constant time, and the file may
 * hold the digest instead of the token (`tokenSha256`), so it need not contain a usable secret. With an `oidc` section,
 * a JWT bearer token an identity provider signed names the user too (src/api/oidc.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { EXAMPLES_DIR } from '../config/paths';
import { SCALE_ROLES } from '../shared/keeper';
import { OidcVerifier, looksLikeJwt, oidcSchema } from './oidc';

/** Cloud Manager's roles, plus DEVELOPER. A user without roles may only read. */
export const API_ROLES = ['BUSINESS_OWNER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER', 'DEVELOPER'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/**
 * What each kind of route needs. `read`: any valid token. The workflows apply their own rules on top (the pipeline's
 * approver list, no self-approval): a user may hold the role and still be refused by the execution.
 */
export const PERMISSIONS = {
  public: undefined,
  read: [] as readonly ApiRole[],
  start: ['DEVELOPER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER'],
  cancel: ['DEVELOPER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER'],
  /** Approve/reject, schedule and override: Cloud Manager's approvers. */
  advance: ['BUSINESS_OWNER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER'],
  /** The cancel link: cancelling, or rejecting the waiting step as Cloud Manager's clients do; the route checks which. */
  cancelOrReject: ['DEVELOPER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER', 'BUSINESS_OWNER'],
  /** Deploys already approved images to Production again, without a new approval: deployment managers only. */
  reExecute: ['DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER'],
  /** Changes a live environment's number of pairs (its keeper applies the same rule to the decider's proof). */
  scale: SCALE_ROLES,
} as const satisfies Record<string, readonly ApiRole[] | undefined>;
export type Permission = keyof typeof PERMISSIONS;

export interface ApiUser { name: string; roles: ApiRole[] }

export const DEFAULT_TOKENS_FILE = path.join(EXAMPLES_DIR, 'api-tokens.yaml');

export function tokensFile(): string {
  return process.env.STAGECOACH_API_TOKENS ? path.resolve(process.env.STAGECOACH_API_TOKENS) : DEFAULT_TOKENS_FILE;
}

const USER_NAME = /^[A-Za-z0-9._@-]{1,100}$/;

const userSchema = z.object({
  name: z.string().regex(USER_NAME, 'letters, digits, . _ @ - (at most 100)'),
  roles: z.array(z.enum(API_ROLES)).default([]),
  token: z.string().min(16, 'at least 16 characters').optional(),
  tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits').optional(),
}).strict().refine((u) => (u.token === undefined) !== (u.tokenSha256 === undefined), 'exactly one of token or tokenSha256');

const fileSchema = z.object({ users: z.array(userSchema).default([]), oidc: oidcSchema.optional() }).strict()
  .refine((f) => f.users.length > 0 || f.oidc !== undefined, 'at least one user, or an oidc section');

export type ApiTokensConfig = z.input<typeof fileSchema>;

export class InvalidTokensFileError extends Error {
  constructor(source: string, problems: string[]) {
    // Never quotes values: they may be tokens.
    super(`Invalid API tokens file ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InvalidTokensFileError';
  }
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

/** Who holds which token. */
export class ApiTokens {
  private readonly entries: Array<{ digest: Buffer; user: ApiUser }>;

  constructor(config: ApiTokensConfig, readonly source = 'config') {
    const parsed = fileSchema.safeParse(config);
    if (!parsed.success) {
      throw new InvalidTokensFileError(source, parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`));
    }
    this.entries = parsed.data.users.map((u) => ({
      digest: u.token !== undefined ? digest(u.token) : Buffer.from(u.tokenSha256!, 'hex'),
      user: { name: u.name, roles: [...new Set(u.roles)] },
    }));
    const seen = new Set<string>();
    for (const [i, e] of this.entries.entries()) {
      const key = e.digest.toString('hex');
      if (seen.has(key)) throw new InvalidTokensFileError(source, [`users.${i}: the same token as another user`]);
      seen.add(key);
    }
    const oidc = parsed.data.oidc;
    if (oidc) {
      const unknownRoles = Object.entries(oidc.roleMap).flatMap(([group, roles]) =>
        roles.filter((r) => !(API_ROLES as readonly string[]).includes(r)).map((r) => `oidc.roleMap.${group}: "${r}" is not a role (${API_ROLES.join(', ')})`));
      if (unknownRoles.length) throw new InvalidTokensFileError(source, unknownRoles);
      try {
        this.oidc = new OidcVerifier(oidc, { isValidName: (n) => USER_NAME.test(n), roles: API_ROLES }, source === 'config' ? '.' : path.dirname(source));
      } catch (err) {
        throw new InvalidTokensFileError(source, [`oidc: its keys cannot be read (${(err as Error).message.split('\n')[0]})`]);
      }
    }
  }

  private readonly oidc?: OidcVerifier;

  static load(file = tokensFile()): ApiTokens {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new InvalidTokensFileError(file, [`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
    }
    let raw: unknown;
    try {
      raw = YAML.parse(text);
    } catch (err) {
      throw new InvalidTokensFileError(file, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
    }
    return new ApiTokens(raw as ApiTokensConfig, file);
  }

  get users(): ApiUser[] {
    return this.entries.map((e) => e.user);
  }

  /** The user holding `token`, or undefined. Every entry is compared, so the time taken says nothing. */
  userFor(token: string): ApiUser | undefined {
    const d = digest(token);
    let found: ApiUser | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.digest, d)) found = e.user;
    if (!found && this.oidc && looksLikeJwt(token)) found = this.oidc.userFor(token) as ApiUser | undefined;
    return found;
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent or of another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

export function isAllowed(user: ApiUser, permission: Permission): boolean {
  const needed = PERMISSIONS[permission];
  if (needed === undefined || needed.length === 0) return true;
  return user.roles.some((r) => (needed as readonly string[]).includes(r));
}

export function rolesFor(permission: Permission): readonly ApiRole[] {
  return PERMISSIONS[permission] ?? [];
}
