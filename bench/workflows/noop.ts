/**
 * Bench-only workflow (bundled separately from src/workflows): N no-op activities in sequence, the floor of what
 * one activity costs through Temporal. Used by the orchestration-overhead benchmark.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface NoopActivities {
  noop(input: { i: number }): Promise<number>;
}

const { noop } = proxyActivities<NoopActivities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });

export async function noopSequence(n: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await noop({ i });
  return sum;
}
