/**
 * The rollout as data: the cycle each node goes through, in order, and the plan of an environment (which nodes go
 * through which part of their cycle when, and where the app's hooks run). Cloud Manager's production deployment:
 * author first; then each dispatcher/publish pair, detached from the load balancer while it is replaced, its cache
 * flushed and warmed, and attached again only once HAProxy itself reports it UP. Adobe Commerce's maintenance mode
 * (an app that cannot roll): every pair detached at once while the load balancer holds incoming requests.
 */
import type { NodeCyclePhase } from '../shared/types';

export type CycleOperation =
  | 'drain' | 'waitSessions' | 'maint'
  | 'replacePublish' | 'replaceDispatcher' | 'replaceAuthor'
  | 'healthPublish' | 'healthDispatcher' | 'healthAuthor'
  | 'flush' | 'warm' | 'ready' | 'waitUp'
  // Environment operations: the app's hooks and the load balancer's request hold (maintenance mode).
  | 'deployHook' | 'postDeployHook' | 'holdRequests' | 'releaseRequests';

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

/**
 * One stage of an environment's plan:
 * - `author`: the author runs these steps of its cycle;
 * - `pairs`: every pair runs these steps, `window` pairs at a time (`windowed`), or all pairs at once;
 * - `environment`: one operation for the whole environment (a hook phase, holding or releasing requests).
 * A stage whose nodes or hooks do not exist (web tier: no author; an app without hooks) does nothing.
 */
export type PlanStage =
  | { kind: 'author'; steps: readonly CycleStep[] }
  | { kind: 'pairs'; steps: readonly CycleStep[]; windowed: boolean }
  | { kind: 'environment'; op: CycleOperation };

const pairSteps = (...ops: CycleOperation[]) => PAIR_CYCLE.filter((s) => ops.includes(s.op));

/**
 * Rolling (default): the author, then the deploy hook in the new author (up and healthy, the site not yet on the new
 * version), then pair by pair, then the post-deploy hook once the last pair is back in service.
 */
export const ROLLING_PLAN: readonly PlanStage[] = [
  { kind: 'author', steps: AUTHOR_CYCLE },
  { kind: 'environment', op: 'deployHook' },
  { kind: 'pairs', steps: PAIR_CYCLE, windowed: true },
  { kind: 'environment', op: 'postDeployHook' },
];

/**
 * Maintenance mode: the load balancer starts holding requests that find no usable server; every pair is detached;
 * every node is replaced and health-checked; the deploy hook runs (no traffic reaches the new containers yet); caches
 * are flushed and warmed, every pair attached and UP; the held requests are released; then the post-deploy hook.
 */
export const MAINTENANCE_PLAN: readonly PlanStage[] = [
  { kind: 'environment', op: 'holdRequests' },
  { kind: 'pairs', steps: pairSteps('drain', 'waitSessions', 'maint'), windowed: false },
  { kind: 'author', steps: AUTHOR_CYCLE },
  { kind: 'pairs', steps: pairSteps('replacePublish', 'replaceDispatcher', 'healthPublish', 'healthDispatcher'), windowed: false },
  { kind: 'environment', op: 'deployHook' },
  { kind: 'pairs', steps: pairSteps('flush', 'warm', 'ready', 'waitUp'), windowed: false },
  { kind: 'environment', op: 'releaseRequests' },
  { kind: 'environment', op: 'postDeployHook' },
];

/** Pair numbers (1-based) grouped into windows of `window` pairs rolled together. */
export function windowsOf(pairs: number, window: number): number[][] {
  const all = Array.from({ length: pairs }, (_, i) => i + 1);
  const groups: number[][] = [];
  for (let i = 0; i < all.length; i += window) groups.push(all.slice(i, i + window));
  return groups;
}
