/**
 * Evidence of an execution: its decisions with their proofs, the keys in force, the images deployed and the gate
 * results, in one file anyone can re-check offline. The file is the canonical serialization of its content, a digest
 * of it and, where a key is given (the API's, as identity provider), a signature over it: any changed byte either
 * breaks the canonical form, the digest or the signature; and every decision's own signature is checked again.
 */
import { sha256 } from '@noble/hashes/sha2';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  DECLARED_TRUST, armorSignature, canonicalJson, hex, keyMatches, parseSignature, proofId, signatureValid, utf8Encode, verifyDecision,
  type DecisionArgs, type Proof, type Trust, type TrustModel,
} from '../shared/identity';
import { executionWorkflowId } from '../shared/ids';
import type { AuditEntry, ExecutionState, ImageArtifact } from '../shared/types';
import type { MessageSigner } from './identity';

export const EVIDENCE_FORMAT = 'stagecoach-evidence-1';
/** A bundle's signature is made in its own namespace, so it can never pass for a decision or a git commit. */
export const EVIDENCE_NAMESPACE = 'stagecoach-evidence';

/** One audited request, as the bundle keeps it. */
export interface DecisionRecord {
  at: string;
  by: string;
  action: string;
  via: string;
  outcome: 'accepted' | 'refused';
  reason?: string;
  /** The step it answered, where the audit recorded it. */
  step?: string;
  trustModel?: TrustModel;
  args: DecisionArgs;
  proof?: Proof;
}

export interface EvidenceContent {
  format: typeof EVIDENCE_FORMAT;
  pipeline: string;
  execution: string;
  exportedAt: string;
  summary: Pick<ExecutionState, 'status' | 'trigger' | 'mode' | 'user' | 'commitId' | 'createdAt' | 'finishedAt' | 'reason'>;
  /** The people, keys, identity providers and revocations the execution started with. */
  trust: Trust;
  images?: { app: ImageArtifact; dispatcher: ImageArtifact };
  version?: string;
  /** Per environment: what each node runs. */
  deployments: Array<{ environmentType: string; environment: string; status: string; nodes: Array<{ name: string; images?: Record<string, string> }> }>;
  /** Every step with its status, times and details (the gate results). */
  gates: Array<{ stepId: string; action: string; status: string; startedAt?: string; finishedAt?: string; details: Record<string, unknown> }>;
  decisions: DecisionRecord[];
}

/** The audit entry's fields an identity-aware execution adds (the step answered, the trust model). */
type AuditWithIdentity = AuditEntry & { step?: string; trustModel?: TrustModel };

function decisionRecord(entry: AuditWithIdentity): DecisionRecord {
  const { proof, ...args } = (entry.details ?? {}) as Record<string, unknown> & { proof?: Proof };
  return {
    at: entry.at, by: entry.by, action: entry.action, via: entry.via, outcome: entry.outcome, reason: entry.reason,
    step: entry.step, trustModel: entry.trustModel, args: JSON.parse(JSON.stringify(args)) as DecisionArgs, proof,
  };
}

export function buildEvidence(state: ExecutionState, trust: Trust, exportedAt: Date): EvidenceContent {
  return {
    format: EVIDENCE_FORMAT,
    pipeline: state.pipelineId,
    execution: state.id,
    exportedAt: exportedAt.toISOString(),
    summary: {
      status: state.status, trigger: state.trigger, mode: state.mode, user: state.user, commitId: state.commitId,
      createdAt: state.createdAt, finishedAt: state.finishedAt, reason: state.reason,
    },
    trust,
    images: state.artifacts.images,
    version: state.artifacts.version,
    deployments: Object.entries(state.rollouts).map(([environmentType, r]) => ({
      environmentType, environment: r!.environment, status: r!.status,
      nodes: r!.nodes.map((n) => ({ name: n.name, images: n.currentImages })),
    })),
    gates: state.steps.map((s) => ({ stepId: s.stepId, action: s.action, status: s.status, startedAt: s.startedAt, finishedAt: s.finishedAt, details: s.details })),
    decisions: state.audit.map((e) => decisionRecord(e as AuditWithIdentity)),
  };
}

const digestOf = (content: EvidenceContent) => `sha256:${hex(sha256(utf8Encode(canonicalJson(content))))}`;

/** The bundle file's text; signed by `signer` when given. */
export async function writeEvidence(content: EvidenceContent, signer?: MessageSigner): Promise<string> {
  // Stored in the form ssh-keygen writes, so one signature has one text in the bundle.
  const signature = signer ? await signer.sign(utf8Encode(canonicalJson(content)), EVIDENCE_NAMESPACE) : undefined;
  const normalized = signature ? armorSignature(parseSignature(signature).blob) : undefined;
  return `${canonicalJson({ content, digest: digestOf(content), signature: normalized })}\n`;
}

export interface EvidenceReport {
  ok: boolean;
  problems: string[];
  content?: EvidenceContent;
  /** The fingerprint of the key that signed the bundle, when signed. */
  signedBy?: string;
  /** Per decision with a proof: who, as the execution saw it. */
  proven: Array<{ at: string; action: string; person: string; via?: string; fingerprint: string }>;
}

/**
 * Re-checks a bundle offline. `trustedSigners` (public key lines or SHA256 fingerprints): the bundle must be signed
 * by one of them; otherwise a signature, when present, must be by a key the bundle's own trust names.
 */
export function verifyEvidence(text: string, options: { trustedSigners?: string[] } = {}): EvidenceReport {
  const report: EvidenceReport = { ok: false, problems: [], proven: [] };
  const fail = (problem: string) => {
    report.problems.push(problem);
    return report;
  };
  let parsed: { content?: EvidenceContent; digest?: unknown; signature?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (err) {
    return fail(`not JSON: ${(err as Error).message}`);
  }
  let canonical: string;
  try {
    canonical = `${canonicalJson(parsed)}\n`;
  } catch (err) {
    return fail(`not a bundle: ${(err as Error).message}`);
  }
  if (canonical !== text) return fail('the file is not the canonical serialization of its content: it was changed or re-formatted');
  const keys = parsed && typeof parsed === 'object' ? Object.keys(parsed).sort().join(',') : '';
  if (keys !== 'content,digest' && keys !== 'content,digest,signature') return fail(`not a bundle: top-level keys are ${keys || 'none'}`);
  const content = parsed.content!;
  if (content?.format !== EVIDENCE_FORMAT) return fail(`unknown format ${JSON.stringify(content?.format)} (this Stagecoach reads ${EVIDENCE_FORMAT})`);
  if (parsed.digest !== digestOf(content)) return fail('the digest does not match the content: the content was changed');
  report.content = content;
  checkBundleSignature(parsed.signature, content, options.trustedSigners, report);
  checkDecisions(content, report);
  report.ok = report.problems.length === 0;
  return report;
}

function checkBundleSignature(signature: unknown, content: EvidenceContent, trustedSigners: string[] | undefined, report: EvidenceReport): void {
  if (signature === undefined) {
    if (trustedSigners?.length) report.problems.push('the bundle is not signed, and a signer was required');
    return;
  }
  let parsed;
  try {
    parsed = parseSignature(String(signature));
  } catch (err) {
    report.problems.push(`the bundle's signature: ${(err as Error).message}`);
    return;
  }
  if (armorSignature(parsed.blob) !== signature) report.problems.push('the bundle\'s signature is not in its canonical armor: it was changed');
  if (!signatureValid(parsed, utf8Encode(canonicalJson(content)), EVIDENCE_NAMESPACE)) {
    report.problems.push(`the bundle's signature (key ${parsed.publicKey.fingerprint}) does not verify over its content`);
  }
  const fingerprint = parsed.publicKey.fingerprint;
  const allowed = trustedSigners ?? [...content.trust.identityProviders, ...content.trust.people].flatMap((p) => p.keys);
  const known = allowed.some((k) => keyMatches(parsed.publicKey, k));
  if (!known) {
    report.problems.push(`the bundle is signed by key ${fingerprint}, which is not ${trustedSigners ? 'a trusted signer given' : 'in the bundle\'s own trust'}`);
  }
  report.signedBy = fingerprint;
}

/** Every accepted decision with a proof verifies again, as the execution saw it when it arrived, and counts once. */
function checkDecisions(content: EvidenceContent, report: EvidenceReport): void {
  const seen = new Set<string>();
  content.decisions.forEach((d, i) => {
    if (d.outcome !== 'accepted') return;
    if (!d.proof) {
      if (d.trustModel === 'signed') report.problems.push(`decisions.${i} (${d.action} by ${d.by} at ${d.at}) was accepted as signed but has no proof`);
      return;
    }
    const verdict = verifyDecision(d.proof, {
      pipeline: content.pipeline, execution: content.execution, step: d.step ?? d.proof.decision?.step, action: d.action, args: d.args, by: d.by,
    }, content.trust, Date.parse(d.at));
    if (!verdict.ok) {
      report.problems.push(`decisions.${i} (${d.action} by ${d.by} at ${d.at}): ${verdict.reason}`);
      return;
    }
    const id = proofId(d.proof);
    if (seen.has(id)) report.problems.push(`decisions.${i} (${d.action} by ${d.by}) uses a proof an earlier decision used`);
    seen.add(id);
    report.proven.push({ at: d.at, action: d.action, person: verdict.person, via: verdict.via, fingerprint: verdict.fingerprint });
  });
}

/**
 * The trust an execution started with: the identity configuration inside its start input (the first event of its
 * history), not today's file, which may have changed since.
 */
export async function executionTrust(client: Client, pipelineId: string, executionId: string): Promise<Trust> {
  const history = await client.workflow.getHandle(executionWorkflowId(pipelineId, executionId)).fetchHistory();
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  const input = payload ? defaultPayloadConverter.fromPayload<{ config?: { trust?: Trust } }>(payload) : undefined;
  return input?.config?.trust ?? DECLARED_TRUST;
}
