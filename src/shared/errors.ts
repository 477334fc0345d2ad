/**
 * Every failure type Stagecoach names, in one place: what activities throw, what the workflows refuse messages with,
 * and what the client reports on its own. The CLI maps each to an exit code, the HTTP API to a status, by type only.
 */

/**
 * Failure types that mean "retrying will not help": bad configuration, a missing branch, failed tests.
 * Activity option profiles list them as non-retryable; steps that fail with them end FAILED (not ERROR).
 */
export const NonRetryable = {
  InvalidConfig: 'InvalidConfig',
  PipelineNotFound: 'PipelineNotFound',
  RepositoryNotFound: 'RepositoryNotFound',
  BranchNotFound: 'BranchNotFound',
  BuildFailed: 'BuildFailed',
  UnitTestsFailed: 'UnitTestsFailed',
  HealthCheckFailed: 'HealthCheckFailed',
  PageCheckFailed: 'PageCheckFailed',
  InvalidImage: 'InvalidImage',
  DockerUnreachable: 'DockerUnreachable',
} as const;
export type NonRetryableType = (typeof NonRetryable)[keyof typeof NonRetryable];
export const NON_RETRYABLE_TYPES: string[] = Object.values(NonRetryable);

/**
 * Other typed failures activities throw. They are not in the profiles' list (which every scheduled activity carries):
 * each says on the failure itself whether a retry may help (PortInUse may; the others are thrown non-retryable).
 */
export const ActivityFailure = {
  PortInUse: 'PortInUse',
  ServerNotUp: 'ServerNotUp',
  InvalidTopology: 'InvalidTopology',
  CacheWarmFailed: 'CacheWarmFailed',
  TestTimeLimit: 'TestTimeLimit',
  FunctionalTestsFailed: 'FunctionalTestsFailed',
  UiTestsFailed: 'UiTestsFailed',
  NotImplemented: 'NotImplemented',
  /** Thrown by the rollout itself: draining the next window would leave too few pairs in service, for too long. */
  InsufficientCapacity: 'InsufficientCapacity',
} as const;
export type ActivityFailureType = (typeof ActivityFailure)[keyof typeof ActivityFailure];

/** Why a workflow refused a message (the type of an update's failure); never thrown by activities. */
export const Refusal = {
  /** The request itself is wrong: a missing field, a bad value, an override that does not list the failing metrics. */
  InvalidRequest: 'InvalidRequest',
  /** This user may not do it: not an approver, self-approval, no role that may override. */
  Forbidden: 'Forbidden',
  /** The execution does not wait for this message now (another step, decided already, or ended). */
  NotWaiting: 'NotWaiting',
  /** The state refuses it now: already approved by this user, a time in the past, already being cancelled. */
  NotAllowedNow: 'NotAllowedNow',
  /** The pipeline runs an execution already: one at a time. */
  Busy: 'PipelineBusy',
  /** The last execution cannot be re-executed (not the last, a push update, no production deployment ran). */
  NotReExecutable: 'NotReExecutable',
} as const;
export type RefusalType = (typeof Refusal)[keyof typeof Refusal];

export function isRefusal(type: string): type is RefusalType {
  return (Object.values(Refusal) as string[]).includes(type);
}

/** A refusal as the workflows' rules answer it: its kind, and the reason shown to the user. */
export interface RefusalReason {
  type: RefusalType;
  message: string;
}

/** What the client reports without a workflow's answer. */
export const ClientFailure = {
  /** The pipeline or execution has no workflow. */
  NotFound: 'NotFound',
  /** Temporal does not answer. */
  Unreachable: 'Unreachable',
  /** Temporal answers, but no worker polls the task queue: updates would wait forever. */
  NoWorker: 'NoWorker',
} as const;
export type ClientFailureType = (typeof ClientFailure)[keyof typeof ClientFailure];

export type FailureType = NonRetryableType | ActivityFailureType | RefusalType | ClientFailureType;

const FAILURE_TYPES = new Set<string>([
  ...Object.values(NonRetryable), ...Object.values(ActivityFailure), ...Object.values(Refusal), ...Object.values(ClientFailure),
]);

export function isFailureType(type: unknown): type is FailureType {
  return typeof type === 'string' && FAILURE_TYPES.has(type);
}

/** An error and its causes, outermost first (Temporal wraps an activity's failure, a client's gRPC error, ...). */
export function causeChain(err: unknown, maxDepth = 10): unknown[] {
  const chain: unknown[] = [];
  for (let current = err; current !== undefined && current !== null && chain.length < maxDepth;) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** The innermost cause of an error: where it began. */
export function rootCause(err: unknown): unknown {
  return causeChain(err).at(-1) ?? err;
}
