/**
 * The pipeline's identity configuration: who the people are (their SSH public keys and roles), which services may
 * sign for them, which keys are revoked, how old a decision may be. A fragment of the pipeline schema (its top-level
 * keys), checked with the rest of the file, and turned into the plain `Trust` the workflow verifies decisions with.
 *
 *   identity: signed            # or declared: names as given, for local demos; the default once there are approvers
 *   people:
 *     - { name: alice, email: [alice@example.com], keys: ["ssh-ed25519 AAAA… alice@laptop"], roles: [BUSINESS_OWNER] }
 *   identityProviders:
 *     - { name: api, keys: ["ssh-ed25519 AAAA… stagecoach-api"] }
 *   revokedKeys:
 *     - { key: "SHA256:…", at: 2026-11-30T12:00:00Z }
 *   decisionMaxAge: 1 hour
 *   emergencyRoles: [PROGRAM_MANAGER]
 *   cancelRoles: [DEPLOYMENT_MANAGER, PROGRAM_MANAGER]
 */
import { msToNumber } from '@temporalio/common/lib/time';
import { z } from 'zod';
import { normalizeEmail, normalizeName, parsePublicKey, type Trust, type TrustModel } from '../shared/identity';

export const DEFAULT_DECISION_MAX_AGE = '1 hour';
export const DEFAULT_CLOCK_SKEW = '2 minutes';
/** Who may cancel besides the execution's starter: anyone the pipeline gives one of Cloud Manager's roles or DEVELOPER. */
export const DEFAULT_CANCEL_ROLES = ['BUSINESS_OWNER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER', 'DEVELOPER'];

const duration = z.union([z.number().int().positive(), z.string()]).refine((value) => {
  try {
    return msToNumber(value as never) > 0;
  } catch {
    return false;
  }
}, 'a duration such as "1 hour", "15 minutes", "90s"');

const keyLine = z.string().superRefine((line, ctx) => {
  try {
    parsePublicKey(line);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

const keyOrFingerprint = z.union([z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'a SHA256:… fingerprint'), keyLine]);
const name = z.string().trim().min(1).max(100);

const email = z.string().trim().email();

const person = z.object({
  name,
  // An ON_COMMIT execution's starter is the person whose address authored the commit: one address or several.
  email: z.union([email, z.array(email).min(1)]).optional(),
  keys: z.array(keyLine).default([]),
  roles: z.array(z.string().min(1)).default([]),
}).strict();

const identityProvider = z.object({ name, keys: z.array(keyLine).min(1) }).strict();

/** The top-level keys it adds to a pipeline's schema: `z.object({ ...rest, ...identityConfigShape })`. */
export const identityConfigShape = {
  identity: z.enum(['signed', 'declared']).optional(),
  people: z.array(person).default([]),
  identityProviders: z.array(identityProvider).default([]),
  revokedKeys: z.array(z.object({ key: keyOrFingerprint, at: z.string().datetime({ offset: true }) }).strict()).default([]),
  decisionMaxAge: duration.default(DEFAULT_DECISION_MAX_AGE),
  clockSkew: duration.default(DEFAULT_CLOCK_SKEW),
  emergencyRoles: z.array(z.string().min(1)).default([]),
  cancelRoles: z.array(z.string().min(1)).min(1).default(DEFAULT_CANCEL_ROLES),
};

/** The fragment on its own (a pipeline file holds it among its other keys). */
export const identityConfigSchema = z.object(identityConfigShape);
export type IdentityConfig = z.output<typeof identityConfigSchema>;

/** What checkIdentity needs of the whole pipeline: its approvers. */
export interface WithApprovers {
  approval: { approvers: Array<{ name: string }>; managedReview?: { approvers: string[] } };
}

/** `signed` unless the file says otherwise, once anyone approves; `declared` for a pipeline without approvers. */
export function trustModelOf(config: IdentityConfig & WithApprovers): TrustModel {
  return config.identity ?? (config.approval.approvers.length ? 'signed' : 'declared');
}

/**
 * The checks across fields (for the pipeline schema's superRefine): names and keys unique, and with signed decisions
 * every approver a person with a key, or an identity provider to sign for them.
 */
export function checkIdentity(config: IdentityConfig & WithApprovers, ctx: z.RefinementCtx): void {
  const problem = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path, message });
  const names = new Map<string, number>();
  const keys = new Map<string, string>();
  config.people.forEach((p, i) => {
    const seen = names.get(normalizeName(p.name));
    if (seen !== undefined) problem(['people', i, 'name'], `${p.name} is also people.${seen} (names are compared case-folded)`);
    names.set(normalizeName(p.name), i);
    p.keys.forEach((line, k) => {
      const fingerprint = fingerprintOrLine(line);
      const owner = keys.get(fingerprint);
      if (owner) problem(['people', i, 'keys', k], `the same key as ${owner}'s (${fingerprint}): a key speaks for one person`);
      keys.set(fingerprint, p.name);
    });
  });
  const emails = new Map<string, string>();
  config.people.forEach((p, i) => emailsOf(p).forEach((address, e) => {
    const owner = emails.get(normalizeEmail(address));
    if (owner) problem(['people', i, 'email', ...(Array.isArray(p.email) ? [e] : [])], `${address} is also ${owner}'s: a commit's author maps to one person`);
    emails.set(normalizeEmail(address), p.name);
  }));
  config.identityProviders.forEach((provider, i) => provider.keys.forEach((line, k) => {
    const fingerprint = fingerprintOrLine(line);
    if (keys.has(fingerprint)) problem(['identityProviders', i, 'keys', k], `the same key as ${keys.get(fingerprint)}'s (${fingerprint})`);
    keys.set(fingerprint, provider.name);
  }));
  if (trustModelOf(config) !== 'signed') return;
  const deciders = [
    ...config.approval.approvers.map((a, i) => ({ name: a.name, path: ['approval', 'approvers', i, 'name'] })),
    ...(config.approval.managedReview?.approvers ?? []).map((n, i) => ({ name: n, path: ['approval', 'managedReview', 'approvers', i] })),
  ];
  for (const decider of deciders) {
    const p = config.people.find((candidate) => normalizeName(candidate.name) === normalizeName(decider.name));
    if (!p) {
      problem(decider.path, `${decider.name} decides, and decisions are signed (identity: signed): add them to people with their SSH public key`);
    } else if (!p.keys.length && !config.identityProviders.length) {
      problem(decider.path, `${decider.name} has no key in people and no identity provider signs for them: their decisions could never be proven`);
    }
  }
}

function emailsOf(p: { email?: string | string[] }): string[] {
  return p.email === undefined ? [] : [p.email].flat();
}

/** A key's fingerprint, or the line itself when it is no key (already reported by the field's own check). */
function fingerprintOrLine(line: string): string {
  try {
    return parsePublicKey(line).fingerprint;
  } catch {
    return line;
  }
}

/** The plain data the workflow verifies decisions with (it crosses into the workflow inside the pipeline configuration). */
export function trustFromConfig(config: IdentityConfig & WithApprovers): Trust {
  return {
    model: trustModelOf(config),
    people: config.people.map((p) => ({ name: p.name, ...(p.email ? { emails: emailsOf(p) } : {}), keys: p.keys, roles: p.roles })),
    identityProviders: config.identityProviders.map((p) => ({ name: p.name, keys: p.keys })),
    revokedKeys: config.revokedKeys.map((r) => ({ key: r.key, at: new Date(r.at).toISOString() })),
    decisionMaxAgeMs: msToNumber(config.decisionMaxAge as never),
    clockSkewMs: msToNumber(config.clockSkew as never),
    emergencyRoles: config.emergencyRoles,
    cancelRoles: config.cancelRoles,
  };
}
