/**
 * `--key FILE` on approve, reject, schedule, override and cancel: the request signed with the user's own key for the
 * step the execution waits at now, under the name the key belongs to in the trust the execution started with.
 */
import os from 'node:os';
import path from 'node:path';
import { executionTrust } from '../../client/evidence';
import { signDecision as sign, signedMessage, signerForKeyFile, type MessageSigner } from '../../client/identity';
import type { Stagecoach } from '../../client/operations';
import { loadPipelineConfig } from '../../config/pipeline-config';
import { DECLARED_TRUST, keyMatches, sameName, type DecisionArgs, type Trust } from '../../shared/identity';
import { scaleDecisionTarget } from '../../shared/keeper';
import type { ExecutionAction, StartRequest } from '../../shared/messages';
import { UsageError } from '../errors';

export function expandHome(file: string): string {
  return file === '~' || file.startsWith('~/') ? path.join(os.homedir(), file.slice(1)) : file;
}

export interface SignedRequestInput {
  pipelineId: string;
  executionId: string;
  action: ExecutionAction;
  args: DecisionArgs;
  /** `--by`: must name the key's owner when given. */
  by?: string;
  keyFile: string;
}

export async function signedRequest(sc: Stagecoach, input: SignedRequestInput): Promise<Record<string, unknown>> {
  const { pipelineId, executionId, action } = input;
  const signer = await signerForKeyFile(expandHome(input.keyFile));
  const [state, trust] = await Promise.all([sc.executionState(pipelineId, executionId), executionTrust(sc.client, pipelineId, executionId)]);
  // A cancel is signed for the whole execution; every other decision for the step waiting now.
  const step = action === 'cancel' ? undefined : state.waiting?.stepId;
  return signAs(signer, trust, { ...input, step });
}

/**
 * `start --key`: the start signed for the execution it opens (the pipeline's next number), under the trust of the
 * pipeline file it will start with. What EMERGENCY mode needs in a signed pipeline.
 */
export async function signedStart(sc: Stagecoach, input: Omit<SignedRequestInput, 'executionId' | 'action'>): Promise<StartRequest> {
  const signer = await signerForKeyFile(expandHome(input.keyFile));
  const trust = (await loadPipelineConfig(input.pipelineId)).trust ?? DECLARED_TRUST;
  // The signed message is the start's own fields (mode, trigger), `by` and the proof.
  return await signAs(signer, trust, { ...input, executionId: await sc.nextExecutionId(input.pipelineId), action: 'start' }) as unknown as StartRequest;
}

/**
 * `scale --key`: the scale signed for the environment's keeper (shared/keeper.ts scaleDecisionTarget), for that
 * environment, under the trust of the pipeline file (what the keeper's release carries from its deployment).
 */
export async function signedScale(input: Omit<SignedRequestInput, 'executionId' | 'action'> & { environmentType: string }): Promise<Record<string, unknown>> {
  const signer = await signerForKeyFile(expandHome(input.keyFile));
  const trust = (await loadPipelineConfig(input.pipelineId)).trust ?? DECLARED_TRUST;
  return signAs(signer, trust, { ...input, executionId: scaleDecisionTarget(input.environmentType), action: 'scale', step: input.environmentType });
}

/** Signs as the key's owner in `trust`; `--by`, when given, must be them. */
async function signAs(
  signer: MessageSigner, trust: Trust, input: Omit<SignedRequestInput, 'action'> & { action: string; step?: string },
): Promise<Record<string, unknown>> {
  const { pipelineId, executionId, action, step } = input;
  const owner = trust.people.find((p) => p.keys.some((k) => keyMatches(signer.publicKey, k)));
  if (owner && input.by !== undefined && !sameName(owner.name, input.by)) {
    throw new UsageError(`${action}: --by ${input.by}, but ${input.keyFile} is ${owner.name}'s key (${signer.publicKey.fingerprint}): sign as yourself`, action);
  }
  const by = owner?.name ?? input.by;
  if (by === undefined) {
    throw new UsageError(`${action}: ${input.keyFile} (${signer.publicKey.fingerprint}) is nobody's key in pipeline ${pipelineId}'s people: add it there, or give --by`, action);
  }
  const proof = await sign(signer, { pipeline: pipelineId, execution: executionId, ...(step ? { step } : {}), action, args: input.args, by });
  return signedMessage(proof);
}
