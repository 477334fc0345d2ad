/**
 * Errors as the CLI and the HTTP API both report them: the StagecoachError the client throws, and what a Temporal
 * client error means (unreachable, nobody answered in time) with its causes' own words.
 */
import { ClientFailure, causeChain, type FailureType } from '../shared/errors';

/**
 * An error meant for the user: its message says what is wrong and what to do; its type (shared/errors.ts) is what
 * the CLI's exit code and the API's status are chosen by.
 */
export class StagecoachError extends Error {
  constructor(readonly type: FailureType, message: string) {
    super(message);
    this.name = 'StagecoachError';
  }
}

/** gRPC status codes as @grpc/grpc-js reports them. */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

function grpcCode(err: unknown): number | undefined {
  const code = causeChain(err, 5).map((c) => (c as { code?: unknown }).code).find((c) => typeof c === 'number');
  return code as number | undefined;
}

/** Temporal cannot be reached (refused connection, unavailable service). */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof StagecoachError) return err.type === ClientFailure.Unreachable;
  if (grpcCode(err) === GRPC_UNAVAILABLE) return true;
  return /ECONNREFUSED|UNAVAILABLE|Failed to connect|transport error/i.test(String((err as Error)?.message ?? ''));
}

/** The server answered but nothing processed the request in time: typically no worker polls the task queue. */
export function isDeadlineExceeded(err: unknown): boolean {
  return grpcCode(err) === GRPC_DEADLINE_EXCEEDED || /DEADLINE_EXCEEDED|deadline exceeded/i.test(String((err as Error)?.message ?? ''));
}

/** The one-line (or few-line) message shown to the user: after `stagecoach: `, or as an API problem's detail. */
export function messageFor(err: unknown): string {
  if (err instanceof StagecoachError) return err.message;
  if (isUnreachable(err)) {
    return `Temporal is unreachable: ${(err as Error).message}\n` +
      'Check that the server runs (`./bin/stagecoach dev` starts one) and that TEMPORAL_ADDRESS points at it.';
  }
  if (isDeadlineExceeded(err)) {
    return `Temporal did not answer in time (${(err as Error).message}).\n` +
      'Queries need a running worker: start one with `./bin/stagecoach worker` (or `./bin/stagecoach dev`).';
  }
  return err instanceof Error ? withCauses(err) : String(err);
}

/** `Failed to query Workflow: <why>`: Temporal's client errors keep the reason in their causes. */
function withCauses(err: Error): string {
  const parts = [err.message];
  for (const cause of causeChain(err, 5).slice(1)) {
    const c = cause as { details?: unknown; message?: unknown };
    const text = typeof c.details === 'string' && c.details ? c.details : typeof c.message === 'string' ? c.message : '';
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
  }
  return parts.join(': ');
}
