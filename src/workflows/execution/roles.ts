/**
 * Who holds which roles in a pipeline, and the rule that override and cancel share with approve: a decision that
 * needs a role is refused, with the roles it needs and who holds them, to anyone who is no user of the pipeline or
 * holds none of them. Pure: the message rules call it with the execution's recorded configuration.
 */
import { Refusal, type RefusalReason } from '../../shared/errors';
import { normalizeEmail, sameName } from '../../shared/identity';
import { refusal } from '../../shared/refusals';
import type { PipelineConfig } from '../../shared/types';

export interface PipelineUser {
  name: string;
  roles: string[];
}

/**
 * Whether the execution follows the role rules of cancel and override: its configuration says who may cancel.
 * Executions started before those rules carry no `cancelRoles` and decide as their histories did.
 */
export function hasRoleRules(config: PipelineConfig): boolean {
  return config.trust?.cancelRoles !== undefined;
}

/**
 * The pipeline's users with their roles. With the role rules: its approvers and its people, one entry per name
 * (compared trimmed and case-folded) with the roles of both; before them: its approvers only.
 */
export function pipelineUsers(config: PipelineConfig): PipelineUser[] {
  const users = config.approval.approvers.map((a) => ({ name: a.name, roles: [...a.roles] }));
  if (!hasRoleRules(config)) return users;
  for (const person of config.trust?.people ?? []) {
    const known = users.find((u) => sameName(u.name, person.name));
    if (known) known.roles = [...new Set([...known.roles, ...person.roles])];
    else users.push({ name: person.name, roles: [...person.roles] });
  }
  return users;
}

/** The names of the users holding one of `roles`. */
export function usersHolding(config: PipelineConfig, roles: readonly string[]): string[] {
  return pipelineUsers(config).filter((u) => u.roles.some((r) => roles.includes(r))).map((u) => u.name);
}

/**
 * Why `by` may not `doing` (e.g. "override quality gates") when that needs one of `roles`; undefined when allowed.
 * A pipeline naming no users lets anyone, as a declared demo's approvals do; with signed decisions it lets nobody.
 */
export function roleProblem(
  config: PipelineConfig, by: string, rule: { roles: readonly string[]; doing: string; same: (a: string, b: string) => boolean },
): RefusalReason | undefined {
  const users = pipelineUsers(config);
  const { roles, doing, same } = rule;
  if (!users.length) {
    if (hasRoleRules(config) && config.trust?.model === 'signed') {
      return refusal(Refusal.Forbidden, `pipeline ${config.id} names no users: with signed decisions, approval.approvers or people must say who may ${doing}`);
    }
    return undefined;
  }
  const user = users.find((u) => same(u.name, by));
  const permitted = usersHolding(config, roles);
  const who = permitted.length ? `allowed: ${permitted.join(', ')}` : 'no user of the pipeline holds one';
  if (!user) return refusal(Refusal.Forbidden, `${by} is not a user of pipeline ${config.id}, and only the role ${roles.join(' or ')} may ${doing} (${who})`);
  if (!user.roles.some((r) => roles.includes(r))) {
    return refusal(Refusal.Forbidden, `${by} (${user.roles.join(', ') || 'no roles'}) may not ${doing} of pipeline ${config.id}: that needs the role ${roles.join(' or ')} (${who})`);
  }
  return undefined;
}

/** The label of an ON_COMMIT execution's starter whose commit address no person of the pipeline has. */
export const unknownAuthor = (email: string) => `unknown author <${email}>`;

/**
 * The starter of an ON_COMMIT execution: the configured person whose address authored the commit, or, when nobody
 * has it, "unknown author <address>" (a name no rule matches, so it blocks nobody's approval).
 */
export function commitAuthorStarter(config: PipelineConfig, authorEmail: string): string {
  const address = normalizeEmail(authorEmail);
  const person = config.trust?.people.find((p) => p.emails?.some((e) => normalizeEmail(e) === address));
  return person?.name ?? unknownAuthor(authorEmail.trim());
}
