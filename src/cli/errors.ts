/** How the CLI turns errors into a message and an exit code. */
import { StagecoachError } from '../client/operations';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  refused: 3,
  notFound: 4,
  unreachable: 5,
} as const;

/** A mistake in the command line: the message says what is missing; `command` selects the usage text shown. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** gRPC status codes as @grpc/grpc-js reports them. */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

function grpcCode(err: unknown): number | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Temporal cannot be reached (refused connection, unavailable service). */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof StagecoachError) return err.kind === 'unreachable';
  if (grpcCode(err) === GRPC_UNAVAILABLE) return true;
  return /ECONNREFUSED|UNAVAILABLE|Failed to connect|transport error/i.test(String((err as Error)?.message ?? ''));
}

/** The server answered but nothing processed the request in time: typically no worker polls the task queue. */
export function isDeadlineExceeded(err: unknown): boolean {
  return grpcCode(err) === GRPC_DEADLINE_EXCEEDED || /DEADLINE_EXCEEDED|deadline exceeded/i.test(String((err as Error)?.message ?? ''));
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof StagecoachError) {
    switch (err.kind) {
      case 'refused':
      case 'busy':
        return EXIT.refused;
      case 'not-found':
        return EXIT.notFound;
      case 'unreachable':
        return EXIT.unreachable;
      default:
        return EXIT.failure;
    }
  }
  if (isUnreachable(err)) return EXIT.unreachable;
  return EXIT.failure;
}

/** The one-line (or few-line) message shown after `stagecoach: `. */
export function messageFor(err: unknown): string {
  if (err instanceof UsageError || err instanceof StagecoachError) return err.message;
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
  let cause = (err as { cause?: unknown }).cause;
  for (let depth = 0; cause && depth < 4; depth += 1) {
    const c = cause as { details?: unknown; message?: unknown; cause?: unknown };
    const text = typeof c.details === 'string' && c.details ? c.details : typeof c.message === 'string' ? c.message : '';
    if (text && !parts.some((p) => p.includes(text))) parts.push(text);
    cause = c.cause;
  }
  return parts.join(': ');
}
