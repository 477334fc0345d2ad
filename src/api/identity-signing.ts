/**
 * The HTTP API as identity provider: it authenticates a user (bearer token) and signs their decision with its own
 * key, which a signed pipeline trusts under `identityProviders`; the execution's audit then says "alice, via the API".
 * The key is a file on the API's machine only (STAGECOACH_API_KEY, default <state dir>/keys/api), made when missing.
 */
import path from 'node:path';
import { ensureKeyPair, identityProviderSigner, signedMessage } from '../client/identity';
import { KEYS_DIR } from '../config/paths';
import type { DecisionArgs } from '../shared/identity';

export type ApiSigner = Awaited<ReturnType<typeof identityProviderSigner>>;

export const DEFAULT_API_KEY_FILE = path.join(KEYS_DIR, 'api');

export function apiKeyFile(): string {
  return process.env.STAGECOACH_API_KEY ? path.resolve(process.env.STAGECOACH_API_KEY) : DEFAULT_API_KEY_FILE;
}

/** The API's signer, with its key generated first when the file does not exist yet. */
export async function loadApiSigner(file = apiKeyFile()): Promise<ApiSigner> {
  await ensureKeyPair(file, 'stagecoach-api');
  return identityProviderSigner(file);
}

/** A message's fields, `by`, and (when signed) `proof`. */
export type SignedRequest = Record<string, unknown> & { by: string };

export interface UserDecision {
  pipeline: string;
  execution: string;
  step?: string;
  action: string;
  args: Record<string, unknown>;
}

/** The message to send for `user`: signed by the API when it has a key, else the name alone (declared). */
export async function signedFor(signer: ApiSigner | undefined, user: string, decision: UserDecision): Promise<SignedRequest> {
  if (!signer) return { ...decision.args, by: user };
  const { step, ...rest } = decision;
  const proof = await signer.signFor(user, { ...rest, ...(step ? { step } : {}), args: decision.args as DecisionArgs });
  return { ...signedMessage(proof), by: proof.decision.by };
}
