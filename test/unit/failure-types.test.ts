/**
 * The two maps from a failure type (src/shared/errors.ts) to what a user sees: the CLI's exit code and the HTTP API's
 * status. Every type is listed here, so a new one fails this test until someone decides what it means to both.
 */
import { describe, expect, it } from 'vitest';
import { problemForType, fromError } from '../../src/api/problems';
import { StagecoachError } from '../../src/client/errors';
import { EXIT, UsageError, exitCodeFor, exitCodeForType } from '../../src/cli/errors';
import {
  ActivityFailure, ClientFailure, NonRetryable, Refusal, causeChain, isFailureType, rootCause, type FailureType,
} from '../../src/shared/errors';

const ALL_TYPES: FailureType[] = [
  ...Object.values(NonRetryable), ...Object.values(ActivityFailure), ...Object.values(Refusal), ...Object.values(ClientFailure),
];

/** type → [HTTP status, problem type suffix, exit code] */
const EXPECTED: Record<FailureType, [number, string, number]> = {
  [Refusal.InvalidRequest]: [400, 'bad-request', EXIT.refused],
  [Refusal.Forbidden]: [403, 'refused', EXIT.refused],
  [Refusal.NotWaiting]: [412, 'not-allowed-now', EXIT.refused],
  [Refusal.NotAllowedNow]: [412, 'not-allowed-now', EXIT.refused],
  [Refusal.Busy]: [412, 'pipeline-busy', EXIT.refused],
  [Refusal.NotReExecutable]: [412, 'not-allowed-now', EXIT.refused],
  [ClientFailure.NotFound]: [404, 'not-found', EXIT.notFound],
  [ClientFailure.Unreachable]: [503, 'unavailable', EXIT.unreachable],
  [ClientFailure.NoWorker]: [503, 'no-worker', EXIT.unreachable],
  [NonRetryable.PipelineNotFound]: [404, 'not-found', EXIT.notFound],
  [NonRetryable.InvalidConfig]: [400, 'bad-request', EXIT.failure],
  [NonRetryable.RepositoryNotFound]: [400, 'bad-request', EXIT.failure],
  [NonRetryable.BranchNotFound]: [400, 'bad-request', EXIT.failure],
  // A failed step's types reach no request: if one ever does, it is an internal error, and the CLI's plain failure.
  [NonRetryable.BuildFailed]: [500, 'internal', EXIT.failure],
  [NonRetryable.UnitTestsFailed]: [500, 'internal', EXIT.failure],
  [NonRetryable.HealthCheckFailed]: [500, 'internal', EXIT.failure],
  [NonRetryable.PageCheckFailed]: [500, 'internal', EXIT.failure],
  [NonRetryable.InvalidImage]: [500, 'internal', EXIT.failure],
  [NonRetryable.DockerUnreachable]: [500, 'internal', EXIT.failure],
  [ActivityFailure.PortInUse]: [500, 'internal', EXIT.failure],
  [ActivityFailure.ServerNotUp]: [500, 'internal', EXIT.failure],
  [ActivityFailure.InvalidTopology]: [500, 'internal', EXIT.failure],
  [ActivityFailure.CacheWarmFailed]: [500, 'internal', EXIT.failure],
  [ActivityFailure.TestTimeLimit]: [500, 'internal', EXIT.failure],
  [ActivityFailure.FunctionalTestsFailed]: [500, 'internal', EXIT.failure],
  [ActivityFailure.UiTestsFailed]: [500, 'internal', EXIT.failure],
  [ActivityFailure.NotImplemented]: [500, 'internal', EXIT.failure],
  [ActivityFailure.InsufficientCapacity]: [500, 'internal', EXIT.failure],
};

describe('failure types', () => {
  it('are each named once, and all of them are expected here', () => {
    expect(new Set(ALL_TYPES).size).toBe(ALL_TYPES.length);
    expect(Object.keys(EXPECTED).sort()).toEqual([...ALL_TYPES].sort());
    for (const type of ALL_TYPES) expect(isFailureType(type), type).toBe(true);
    expect(isFailureType('NotAType')).toBe(false);
  });

  it('map to one HTTP status and problem type each', () => {
    for (const type of ALL_TYPES) {
      const [status, suffix] = EXPECTED[type];
      const p = problemForType(type, `detail of ${type}`);
      expect([p.status, p.type], type).toEqual([status, `urn:stagecoach:problem:${suffix}`]);
      expect(p.message).toBe(`detail of ${type}`);
    }
  });

  it('map to one CLI exit code each', () => {
    for (const type of ALL_TYPES) {
      expect(exitCodeForType(type), type).toBe(EXPECTED[type][2]);
      expect(exitCodeFor(new StagecoachError(type, 'x')), type).toBe(EXPECTED[type][2]);
    }
    expect(exitCodeFor(new UsageError('start: a pipeline id is required'))).toBe(EXIT.usage);
    expect(exitCodeFor(new Error('connect ECONNREFUSED 127.0.0.1:7233'))).toBe(EXIT.unreachable);
    expect(exitCodeFor(new Error('something else'))).toBe(EXIT.failure);
  });

  it('the API leaves other errors to its error handler, except Temporal out of reach', () => {
    const other = new Error('boom');
    expect(fromError(other)).toBe(other);
    expect(fromError(new Error('14 UNAVAILABLE: No connection established'))).toMatchObject({ status: 503 });
  });

  it('walk an error\'s causes once, outermost first', () => {
    const root = new Error('root');
    const middle = Object.assign(new Error('middle'), { cause: root });
    const outer = Object.assign(new Error('outer'), { cause: middle });
    expect(causeChain(outer)).toEqual([outer, middle, root]);
    expect(rootCause(outer)).toBe(root);
    expect(rootCause(root)).toBe(root);
    expect(causeChain(outer, 2)).toEqual([outer, middle]);
  });
});
