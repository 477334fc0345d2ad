/** How the CLI turns errors into a message and an exit code. */
import { StagecoachError, isUnreachable, messageFor as clientMessageFor } from '../client/errors';
import { ClientFailure, NonRetryable, Refusal, type FailureType } from '../shared/errors';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  refused: 3,
  notFound: 4,
  unreachable: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake in the command line: the message says what is missing; `command` selects the usage text shown. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes by failure type: every refusal is 3; a type not listed here (a failed step's) is 1. */
const EXIT_BY_TYPE: Partial<Record<FailureType, ExitCode>> = {
  ...Object.fromEntries(Object.values(Refusal).map((type) => [type, EXIT.refused])),
  [NonRetryable.PipelineNotFound]: EXIT.notFound,
  [ClientFailure.NotFound]: EXIT.notFound,
  [ClientFailure.Unreachable]: EXIT.unreachable,
  [ClientFailure.NoWorker]: EXIT.unreachable,
};

export function exitCodeForType(type: FailureType): ExitCode {
  return EXIT_BY_TYPE[type] ?? EXIT.failure;
}

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof StagecoachError) return exitCodeForType(err.type);
  if (isUnreachable(err)) return EXIT.unreachable;
  return EXIT.failure;
}

/** The one-line (or few-line) message shown after `stagecoach: `. */
export function messageFor(err: unknown): string {
  return err instanceof UsageError ? err.message : clientMessageFor(err);
}
