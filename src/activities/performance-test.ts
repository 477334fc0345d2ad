/**
 * The performance test (step performanceTest): a bounded load on Stage's load balancer (127.0.0.1 only) — requests
 * started at a fixed rate (open loop) for a fixed time, at most `concurrency` in flight, with a hard cap on the total
 * — measuring error rate, p50/p95/p99 latency and throughput, overall and per page. A JSON report (with a per-second
 * timeline, like Cloud Manager's load test graphs) goes to the artifact store; the workflow compares the measurement
 * with the configured thresholds.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryable } from '../shared/errors';
import { PERFORMANCE_LIMITS, type LoadMeasurement } from '../shared/stage-gates';
import { executionRef } from '../config/paths';
import type { ArtifactStore } from './artifacts';
import { cancellationSignal, loopbackUrl } from './security-test';
import { sitePage } from './health';

/** One request's outcome. `at`: ms since the load began. */
export interface Sample { page: string; at: number; ms: number; status?: number; error?: string }

/** Nearest-rank percentile of ascending values (0 when there are none). */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
export const isError = (s: Sample) => s.status === undefined || s.status >= 400;

/** Pure: the measurement of a set of samples over `durationMs`. */
export function measure(samples: Sample[], durationMs: number): LoadMeasurement {
  const latencies = samples.filter((s) => !isError(s)).map((s) => s.ms).sort((a, b) => a - b);
  const errors = samples.filter(isError).length;
  const statuses: Record<string, number> = {};
  for (const s of samples) {
    const key = s.status === undefined ? 'error' : String(s.status);
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  return {
    requests: samples.length,
    errors,
    errorRate: samples.length ? round((100 * errors) / samples.length, 2) : 100,
    p50Ms: round(percentile(latencies, 50)),
    p95Ms: round(percentile(latencies, 95)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? 0),
    throughput: durationMs > 0 ? round(((samples.length - errors) * 1000) / durationMs, 2) : 0,
    durationMs: Math.round(durationMs),
    statuses,
  };
}

/** Per second: requests, errors, p95 (the report's response time and error graphs). */
export function timeline(samples: Sample[]): Array<{ second: number; requests: number; errors: number; p95Ms: number }> {
  const bySecond = new Map<number, Sample[]>();
  for (const s of samples) {
    const second = Math.floor(s.at / 1000);
    bySecond.set(second, [...(bySecond.get(second) ?? []), s]);
  }
  return [...bySecond.entries()].sort(([a], [b]) => a - b).map(([second, list]) => ({
    second, requests: list.length, errors: list.filter(isError).length,
    p95Ms: round(percentile(list.map((s) => s.ms).sort((a, b) => a - b), 95)),
  }));
}

export interface PerformanceTestInput {
  baseUrl: string;
  pipelineId: string;
  executionId: string;
  pages: string[];
  requestsPerSecond: number;
  durationMs: number;
  concurrency: number;
}

export interface PerformanceTestResult {
  measurement: LoadMeasurement;
  pages: Array<{ path: string } & Pick<LoadMeasurement, 'requests' | 'errors' | 'errorRate' | 'p50Ms' | 'p95Ms'>>;
  /** Requests that could not start on time because `concurrency` were in flight. */
  delayed: number;
  reportRef: string;
}

function timedGet(agent: http.Agent, url: URL, signal: AbortSignal, timeoutMs: number): Promise<{ status?: number; error?: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (r: { status?: number; error?: string }) => resolve({ ...r, ms: performance.now() - started });
    const req = http.get(url, { agent, signal, timeout: timeoutMs, headers: { 'User-Agent': 'stagecoach-performance-test' } }, (res) => {
      res.resume(); // the body is read (and timed) but not kept
      res.on('end', () => done({ status: res.statusCode }));
      res.on('error', (err) => done({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => done({ error: err.message }));
  });
}

export function createPerformanceTestActivities(deps: { artifacts: ArtifactStore }) {
  async function performanceTest(input: PerformanceTestInput): Promise<PerformanceTestResult> {
    const base = loopbackUrl(input.baseUrl);
    const L = PERFORMANCE_LIMITS;
    if (input.requestsPerSecond < 1 || input.requestsPerSecond > L.maxRequestsPerSecond || input.durationMs <= 0 || input.durationMs > L.maxDurationMs) {
      throw ApplicationFailure.nonRetryable(`performance test out of bounds: ${input.requestsPerSecond} requests/s for ${input.durationMs} ms`, NonRetryable.InvalidConfig);
    }
    const total = Math.min(L.maxTotalRequests, Math.floor((input.requestsPerSecond * input.durationMs) / 1000));
    const concurrency = Math.min(L.maxConcurrency, Math.max(1, input.concurrency));
    const interval = 1000 / input.requestsPerSecond;
    const signal = cancellationSignal();
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const samples: Sample[] = [];
    const inFlight = new Set<Promise<void>>();
    let delayed = 0;
    const started = performance.now();
    try {
      for (let i = 0; i < total; i++) {
        if (signal.aborted) break;
        const wait = started + i * interval - performance.now();
        if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) break;
        if (inFlight.size >= concurrency) {
          delayed++;
          await Promise.race(inFlight);
        }
        const page = input.pages[i % input.pages.length];
        const at = performance.now() - started;
        const p: Promise<void> = timedGet(agent, sitePage(base, page), signal, 5000).then((r) => {
          samples.push({ page, at, ...r });
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      await Promise.all(inFlight);
    } finally {
      agent.destroy();
    }
    if (signal.aborted) throw signal.reason ?? new Error('cancelled');
    const elapsed = performance.now() - started;
    const measurement = measure(samples, elapsed);
    const pages = input.pages.filter((p, i) => input.pages.indexOf(p) === i).map((path) => {
      const m = measure(samples.filter((s) => s.page === path), elapsed);
      return { path, requests: m.requests, errors: m.errors, errorRate: m.errorRate, p50Ms: m.p50Ms, p95Ms: m.p95Ms };
    });
    const slowest = [...samples].filter((s) => !isError(s)).sort((a, b) => b.ms - a.ms).slice(0, 10)
      .map((s) => ({ page: s.page, at: Math.round(s.at), ms: round(s.ms) }));
    const errorSamples = samples.filter(isError).slice(0, 50).map((s) => ({ page: s.page, at: Math.round(s.at), status: s.status, error: s.error }));
    const report = {
      baseUrl: input.baseUrl, load: { requestsPerSecond: input.requestsPerSecond, durationMs: input.durationMs, concurrency, planned: total },
      measurement, pages, delayed, timeline: timeline(samples), slowest, errors: errorSamples,
    };
    const reportRef = await deps.artifacts.put(executionRef(input.pipelineId, input.executionId, 'performanceTest/report.json'), JSON.stringify(report, null, 2));
    return { measurement, pages, delayed, reportRef };
  }
  return { performanceTest };
}
