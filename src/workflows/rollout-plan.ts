/**
 * The rollout as data: the cycle each node goes through, in order. Cloud Manager's production deployment:
 * author first; then each dispatcher/publish pair, detached from the load balancer while it is replaced, its cache
 * flushed and warmed, and attached again only once HAProxy itself reports it UP.
 */
import type { NodeCyclePhase } from '../shared/types';

export type CycleOperation =
  | 'drain' | 'waitSessions' | 'maint'
  | 'replacePublish' | 'replaceDispatcher' | 'replaceAuthor'
  | 'healthPublish' | 'healthDispatcher' | 'healthAuthor'
  | 'flush' | 'warm' | 'ready' | 'waitUp';

export interface CycleStep { phase: NodeCyclePhase; op: CycleOperation }

export const AUTHOR_CYCLE: readonly CycleStep[] = [
  { phase: 'deploying', op: 'replaceAuthor' },
  { phase: 'health-checking', op: 'healthAuthor' },
];

export const PAIR_CYCLE: readonly CycleStep[] = [
  { phase: 'draining', op: 'drain' },
  { phase: 'draining', op: 'waitSessions' },
  { phase: 'detached', op: 'maint' },
  // Publish first: the dispatcher resolves its publish's address when it starts.
  { phase: 'deploying', op: 'replacePublish' },
  { phase: 'deploying', op: 'replaceDispatcher' },
  { phase: 'health-checking', op: 'healthPublish' },
  { phase: 'health-checking', op: 'healthDispatcher' },
  { phase: 'flushing', op: 'flush' },
  { phase: 'warming', op: 'warm' },
  { phase: 'attaching', op: 'ready' },
  { phase: 'attaching', op: 'waitUp' },
];

/** Pair numbers (1-based) grouped into windows of `window` pairs rolled together. */
export function windowsOf(pairs: number, window: number): number[][] {
  const all = Array.from({ length: pairs }, (_, i) => i + 1);
  const groups: number[][] = [];
  for (let i = 0; i < all.length; i += window) groups.push(all.slice(i, i + window));
  return groups;
}
