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

/** Types used to refuse a message (update failures); never thrown by activities. */
export const Refusal = {
  NotWaiting: 'NotWaiting',
  NotAllowed: 'NotAllowed',
  InvalidRequest: 'InvalidRequest',
  Busy: 'PipelineBusy',
  NotReExecutable: 'NotReExecutable',
} as const;
