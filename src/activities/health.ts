/** HTTP health checks with bounded retries: a new container gets a short while to come up, never forever. */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryable } from '../shared/errors';
import { sitePathProblem } from '../shared/site-path';

/**
 * The URL of one page of the site at `base`: refused (non-retryable) unless `path` is a path on that very site, so a
 * configured page can never send Stagecoach's requests (or a load test) to another host. The configuration refuses
 * such paths too (shared/site-path.ts); this is the second check, where the request is made.
 */
export function sitePage(base: string | URL, path: string): URL {
  const origin = new URL(base);
  const problem = sitePathProblem(path);
  const url = problem ? undefined : new URL(path, origin);
  if (!url || url.origin !== origin.origin) {
    throw ApplicationFailure.create({
      type: NonRetryable.InvalidConfig, nonRetryable: true,
      message: `page ${JSON.stringify(path)} is not a path on ${origin.origin}: ${problem ?? 'it resolves to another host'}`,
    });
  }
  return url;
}

export interface HttpCheckResult { ok: boolean; status?: number; body?: string; error?: string; ms: number }

export async function httpGet(url: string, timeoutMs = 5000, headers: Record<string, string> = {}): Promise<HttpCheckResult & { headers?: Headers }> {
  const started = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers, redirect: 'manual' });
    const body = await res.text();
    return { ok: res.ok, status: res.status, body, headers: res.headers, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, error: (err as Error).message, ms: Math.round(performance.now() - started) };
  }
}

export function createHealthActivities() {
  /** Polls `url` until it answers 2xx; fails (non-retryable: the loop is the retry) after `attempts` tries. */
  async function checkHealth(input: { url: string; attempts?: number; intervalMs?: number; what: string }): Promise<{ attempts: number; status: number; ms: number }> {
    const attempts = input.attempts ?? 40;
    const context = Context.current();
    let last: HttpCheckResult | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      last = await httpGet(input.url, 3000);
      if (last.ok) return { attempts: attempt, status: last.status!, ms: last.ms };
      context.heartbeat({ attempt });
      // The context's sleep rejects with CancelledFailure once the rollout cancels this check, so a cancelled rollout
      // rolls back at once instead of waiting out every remaining attempt of an unhealthy node.
      await context.sleep(input.intervalMs ?? 250);
    }
    throw ApplicationFailure.create({
      type: NonRetryable.HealthCheckFailed, nonRetryable: true,
      message: `${input.what} failed its health check ${input.url} ${attempts} times: ` +
        (last?.status ? `HTTP ${last.status} ${last.body?.slice(0, 200) ?? ''}` : last?.error ?? 'no answer'),
    });
  }
  return { checkHealth };
}
