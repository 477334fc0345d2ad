/**
 * Named activity option profiles. Each says how long one kind of work may take and when retrying is pointless:
 * bad configuration, a missing branch and failed tests are never retried (NON_RETRYABLE_TYPES).
 */
import { ActivityCancellationType, proxyActivities, type ActivityOptions, type RetryPolicy } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NON_RETRYABLE_TYPES } from '../shared/errors';
import { pairName } from '../topology/names';

const retry = (maximumAttempts: number): RetryPolicy => ({
  maximumAttempts,
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '20s',
  nonRetryableErrorTypes: NON_RETRYABLE_TYPES,
});

/**
 * Work on real components waits for a cancelled activity to really stop (or finish) before the workflow moves on,
 * so a rollback never races a replacement still running on the same container.
 */
const waitForStop = ActivityCancellationType.WAIT_CANCELLATION_COMPLETED;

/** Every activity heartbeats every 2 s (activities/index.ts): 10 s of silence means its worker is gone. */
export const PROFILES = {
  /** Reading configuration, git refs, quick Docker queries. */
  quick: { startToCloseTimeout: '1 minute', heartbeatTimeout: '10 seconds', retry: retry(3) },
  /**
   * Docker image builds: long, heartbeating (a silent build is presumed dead), cancelled by closing the request. A
   * build that fails fails for good (typed, never retried); retries are for lost workers, two of them in a row.
   */
  dockerBuild: { cancellationType: waitForStop, startToCloseTimeout: '45 minutes', heartbeatTimeout: '10 seconds', retry: retry(3) },
  /** Creating and replacing containers, the load balancer and its image. */
  container: { cancellationType: waitForStop, startToCloseTimeout: '10 minutes', heartbeatTimeout: '10 seconds', retry: retry(3) },
  /** Load balancer runtime API commands and bounded waits on its state. */
  loadBalancer: { cancellationType: waitForStop, startToCloseTimeout: '5 minutes', heartbeatTimeout: '10 seconds', retry: retry(5) },
  /** Dispatcher cache flush and warm-up over HTTP. */
  cache: { cancellationType: waitForStop, startToCloseTimeout: '2 minutes', heartbeatTimeout: '10 seconds', retry: retry(3) },
  /** HTTP health checks: their own loop is bounded, so a failure is final. */
  healthCheck: { cancellationType: waitForStop, startToCloseTimeout: '2 minutes', heartbeatTimeout: '10 seconds', retry: retry(2) },
  /** Tests and audits against Stage; failed tests are an answer, not retried: retries are for lost workers. */
  stageTests: { startToCloseTimeout: '60 minutes', heartbeatTimeout: '10 seconds', retry: retry(3) },
  /** Security and performance gates on Stage: bounded (a load stops within its 5 minute cap), stopped before moving on. */
  stageGates: { cancellationType: waitForStop, startToCloseTimeout: '10 minutes', heartbeatTimeout: '10 seconds', retry: retry(2) },
} satisfies Record<string, ActivityOptions>;

/** A one-line summary of an activity call for the Web UI: its name and what it acts on. */
export function activitySummary(name: string, input: unknown): string {
  const i = (input ?? {}) as Record<string, unknown>;
  const env = (i.environment as { name?: string } | undefined)?.name;
  const parts = [env, i.node ?? i.server, i.state, i.role && i.node ? undefined : i.role, i.pair !== undefined ? pairName(Number(i.pair)) : undefined,
    i.kind, i.what, i.branch ? `branch ${String(i.branch)}` : undefined]
    .filter((p) => typeof p === 'string' && p.length > 0) as string[];
  return parts.length ? `${name}: ${parts.join(' ')}` : name;
}

/** Activity proxies of one profile whose every call carries a summary (shown per activity in the Web UI). */
function summarized(options: ActivityOptions): ReturnType<typeof proxyActivities<Activities>> {
  const proxy = proxyActivities<Activities>(options);
  return new Proxy(proxy, {
    get(target, name: string) {
      const fn = target[name as keyof Activities];
      return (...args: unknown[]) =>
        (fn as unknown as { executeWithOptions(o: ActivityOptions, a: unknown[]): Promise<unknown> })
          .executeWithOptions({ ...options, summary: activitySummary(name, args[0]) }, args);
    },
  });
}

export const quickActivities = summarized(PROFILES.quick);
export const buildActivities = summarized(PROFILES.dockerBuild);
export const containerActivities = summarized(PROFILES.container);
export const loadBalancerActivities = summarized(PROFILES.loadBalancer);
export const cacheActivities = summarized(PROFILES.cache);
export const healthActivities = summarized(PROFILES.healthCheck);
export const stageTestActivities = summarized(PROFILES.stageTests);
export const stageGateActivities = summarized(PROFILES.stageGates);
