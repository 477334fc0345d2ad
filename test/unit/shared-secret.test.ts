/**
 * One secret for all workers of a deployment (issue 16, item 3): the start-up check a worker runs before it takes
 * work (src/config/shared-secret.ts), on the rules alone and on a task queue description as Temporal answers it.
 */
import { msToTs } from '@temporalio/common/lib/time';
import type { NativeConnection } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { recentActivityPollers, secretFingerprint, sharedSecretProblem, workerIdentity } from '../../src/config/shared-secret';

const check = (env: NodeJS.ProcessEnv, pollers: string[] = [], secret = env.STAGECOACH_SECRET ?? 'from-the-state-dir') =>
  sharedSecretProblem({ env, secret, pollers, taskQueue: 'stagecoach' });

describe('the shared secret check at worker start', () => {
  it('one worker needs no STAGECOACH_SECRET (its state directory keeps one)', () => {
    expect(check({})).toBeUndefined();
    expect(check({ STAGECOACH_WORKERS: '1' })).toBeUndefined();
  });

  it('several declared workers need STAGECOACH_SECRET, and the error says what to set', () => {
    expect(check({ STAGECOACH_WORKERS: '3' })).toMatch(/^STAGECOACH_WORKERS=3, but STAGECOACH_SECRET is not set: .*set STAGECOACH_SECRET to the same value on every worker/);
    expect(check({ STAGECOACH_WORKERS: '3', STAGECOACH_SECRET: 's' })).toBeUndefined();
    expect(check({ STAGECOACH_WORKERS: 'many' })).toMatch(/STAGECOACH_WORKERS must be the number of workers .* got "many"/);
    expect(check({ STAGECOACH_WORKERS: '0' })).toMatch(/STAGECOACH_WORKERS must be/);
  });

  it('refuses to join a worker that polls with another secret; the same secret, or a worker of another kind, is fine', () => {
    const theirs = workerIdentity('their secret', 41, 'rack-a');
    expect(theirs).toBe(`41@rack-a (stagecoach worker, ${secretFingerprint('their secret')})`);
    expect(check({}, [theirs])).toMatch(/another Stagecoach worker polls task queue "stagecoach" with a different secret than this worker's secret file \(STAGECOACH_SECRET is not set\): 41@rack-a/);
    expect(check({ STAGECOACH_SECRET: 'mine' }, [theirs])).toMatch(/different secret than this worker's STAGECOACH_SECRET/);
    expect(check({ STAGECOACH_SECRET: 'their secret' }, [theirs, 'fault-worker-7', '9@x (stagecoach dev)'])).toBeUndefined();
  });

  it('a fingerprint tells secrets apart and shows nothing of them', () => {
    expect(secretFingerprint('a')).toMatch(/^secret [0-9a-f]{8}$/);
    expect(secretFingerprint('a')).not.toBe(secretFingerprint('b'));
    expect(secretFingerprint('a')).toBe(secretFingerprint('a'));
  });

  it('counts only the activity pollers Temporal saw in the last minute and a half', async () => {
    const seconds = (agoMs: number) => msToTs(Date.now() - agoMs);
    let asked: unknown;
    const connection = { workflowService: { describeTaskQueue: async (request: unknown) => {
      asked = request;
      return { pollers: [{ identity: 'live', lastAccessTime: seconds(5_000) }, { identity: 'gone', lastAccessTime: seconds(300_000) }] };
    } } } as unknown as NativeConnection;
    expect(await recentActivityPollers(connection, 'default', 'stagecoach')).toEqual(['live']);
    expect(asked).toEqual({ namespace: 'default', taskQueue: { name: 'stagecoach', kind: 1 }, taskQueueType: 2 });
  });
});
