/**
 * The activity profiles and lost workers: a worker killed in the middle of an activity and the next one killed right
 * after it (the fault suite does both) cost two attempts; every profile that does real work must have a third.
 * Real failures (a broken build, failing tests, bad configuration) are typed and never retried, whatever the count.
 */
import { describe, expect, it } from 'vitest';
import { PROFILES } from '../../src/workflows/activity-profiles';

describe('activity profiles', () => {
  it('survive two lost workers in a row on every kind of effect', () => {
    for (const name of ['dockerBuild', 'container', 'loadBalancer', 'cache', 'stageTests'] as const) {
      expect(PROFILES[name].retry.maximumAttempts, name).toBeGreaterThanOrEqual(3);
      expect(PROFILES[name].heartbeatTimeout, name).toBe('10 seconds');
    }
  });
});
