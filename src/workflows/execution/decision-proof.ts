/**
 * Whether a decision message proves who sent it, before any rule about what it may do runs. Pure: the execution's
 * message handlers call it with workflow time, the proof ids already used and the trust the execution started with.
 */
import {
  DECLARED_TRUST, normalizeName, verifyDecision, type DecisionArgs, type RefusalCode, type Trust, type TrustModel,
} from '../../shared/identity';

export interface DecisionMessage {
  pipeline: string;
  execution: string;
  /** approve, reject, schedule, override, cancel */
  action: string;
  /**
   * The step the message answers (the waiting step's id); for a cancel, the current step. A cancel signed for no step
   * is a decision on the whole execution and is accepted at any step.
   */
  step?: string;
  /** The message as received: `by`, its own fields, and `proof`. */
  request: Record<string, unknown>;
}

export type ProofCheck =
  | {
      accepted: true;
      /** The configured spelling of the person's name (the message's own under `declared`). */
      person: string;
      roles: string[];
      /** The identity provider that signed for the person (e.g. `api`). */
      via?: string;
      trustModel: TrustModel;
      /** For the audit log: "alice (signed)", "alice, via the API", "alice (declared)". */
      label: string;
      /** Keep it among the seen ids: the same proof is refused from now on. */
      proofId?: string;
    }
  | { accepted: false; code: RefusalCode | 'replayed'; reason: string; trustModel: TrustModel; proofId?: string };

/**
 * Under `signed`, the proof must verify for exactly this message and be new. Under `declared`, the name is taken as
 * given, unless a valid new proof comes with it: then the decision is signed all the same.
 */
export function checkDecisionProof(
  message: DecisionMessage, trust: Trust | undefined, seenProofIds: ReadonlySet<string>, nowMs: number,
): ProofCheck {
  // Executions started before identity existed carry no trust: their decisions stay declared, as they were.
  const t = trust ?? DECLARED_TRUST;
  const signed = message.request.proof === undefined && t.model === 'declared' ? undefined : checkSigned(message, t, seenProofIds, nowMs);
  if (t.model === 'signed' || signed?.accepted) return signed!;
  const claimed = typeof message.request.by === 'string' ? message.request.by.trim() : '';
  const person = t.people.find((p) => normalizeName(p.name) === normalizeName(claimed));
  return { accepted: true, person: person?.name ?? claimed, roles: person?.roles ?? [], trustModel: 'declared', label: `${claimed} (declared)` };
}

function checkSigned(message: DecisionMessage, trust: Trust, seenProofIds: ReadonlySet<string>, nowMs: number): ProofCheck {
  const { proof, by, ...args } = message.request;
  const signedStep = (proof as { decision?: { step?: unknown } } | undefined)?.decision?.step;
  const step = message.action === 'cancel' && signedStep === undefined ? undefined : message.step;
  const verdict = verifyDecision(proof, {
    pipeline: message.pipeline, execution: message.execution, step, action: message.action, args: args as DecisionArgs,
    ...(typeof by === 'string' ? { by } : {}),
  }, trust, nowMs);
  if (!verdict.ok) return { accepted: false, code: verdict.code, reason: verdict.reason, trustModel: trust.model };
  if (seenProofIds.has(verdict.proofId)) {
    return {
      accepted: false, code: 'replayed', trustModel: trust.model, proofId: verdict.proofId,
      reason: `this proof was already used (proof ${verdict.proofId.slice(0, 16)}): a signed decision counts once; sign it again`,
    };
  }
  return {
    accepted: true, person: verdict.person, roles: verdict.roles, via: verdict.via, trustModel: 'signed', proofId: verdict.proofId,
    label: verdict.via ? `${verdict.person}, via the ${verdict.via === 'api' ? 'API' : verdict.via}` : `${verdict.person} (signed)`,
  };
}

/** EMERGENCY mode only for the roles the configuration names; the reason when `roles` holds none of them. */
export function emergencyProblem(trust: Trust | undefined, person: string, roles: string[]): string | undefined {
  const allowed = trust?.emergencyRoles ?? [];
  if (roles.some((r) => allowed.includes(r))) return undefined;
  return `${person} may not ask for EMERGENCY mode: ${allowed.length ? `that needs the role ${allowed.join(' or ')}` : 'the pipeline names no emergencyRoles'}`;
}

/**
 * Why a start in EMERGENCY mode is refused (undefined: allowed). In a signed pipeline the start carries a proof for
 * the execution it opens, and the proven person needs one of `emergencyRoles`; a declared pipeline that names
 * `emergencyRoles` checks the roles of the person as named; one naming none lets anyone (as before identity).
 */
export function emergencyStartProblem(
  message: Omit<DecisionMessage, 'action' | 'step'>, trust: Trust | undefined, nowMs: number,
): string | undefined {
  if (!trust || (trust.model === 'declared' && !trust.emergencyRoles.length)) return undefined;
  const check = checkDecisionProof({ ...message, action: 'start' }, trust, new Set(), nowMs);
  if (!check.accepted) return `EMERGENCY mode needs a proof of who asks: ${check.reason}`;
  return emergencyProblem(trust, check.person, check.roles);
}
