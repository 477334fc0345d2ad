/**
 * The optional Stage gates of the stageTesting phase, steps `securityTest` and `performanceTest`: their checks and
 * metrics, their defaults and the shape of their configuration. Plain data (used by the configuration schema, the
 * activities that measure and the workflow that judges).
 */
import type { DurationSpec } from './duration';

/** A gate check's tier: critical fails the execution, important waits for an override (or a reject). */
export type GateSeverity = 'critical' | 'important';

/**
 * The security test's checks against Stage, by metric id (kpi):
 * - security_headers: every configured page answers with each required response header, its value matching
 * - server_disclosure: no Server header naming a version, no X-Powered-By / X-AspNet-Version headers
 * - exposed_paths: none of the configured paths (/.git/, server status pages, ...) answers 200 with content
 * - directory_listing: none of the configured directories answers with an index listing
 * - cookie_flags: every cookie set by a page is HttpOnly and has SameSite (and Secure on https)
 * - trace_method: TRACE is refused (no request echoed back: cross-site tracing)
 * - error_disclosure: an unknown page answers 404 without a stack trace or server internals
 */
export const SECURITY_CHECKS = [
  'security_headers', 'server_disclosure', 'exposed_paths', 'directory_listing', 'cookie_flags', 'trace_method', 'error_disclosure',
] as const;
export type SecurityCheckId = (typeof SECURITY_CHECKS)[number];

/** The performance test's metrics (kpi), each compared with its threshold. */
export const PERFORMANCE_METRICS = ['error_rate', 'latency_p50', 'latency_p95', 'throughput'] as const;
export type PerformanceMetricId = (typeof PERFORMANCE_METRICS)[number];

export interface SecurityTestConfig {
  /** Pages whose responses are checked (headers, cookies). */
  pages: string[];
  /** Response headers every page must send: header name → regular expression its value must match ('' any value). */
  requiredHeaders: Record<string, string>;
  /** Paths that must not be served (anything but 200 with a body passes). */
  exposedPaths: string[];
  /** Directories that must not answer with an index listing. */
  listingPaths: string[];
  /** Tier of each check. */
  severity: Record<SecurityCheckId, GateSeverity>;
  /** Roles (of approval.approvers) allowed to override important failures, or reject at the gate. */
  overrideRoles: string[];
  overrideTimeout: DurationSpec;
}

export interface PerformanceTestConfig {
  /** Pages requested in turn. */
  pages: string[];
  /** Requests started per second (open loop), at most 100. */
  requestsPerSecond: number;
  /** How long the load runs, at most 5 minutes. */
  duration: DurationSpec;
  /** Requests in flight at most. */
  concurrency: number;
  thresholds: {
    /** Percent of requests that failed (no answer, or HTTP 4xx/5xx), at most. */
    errorRate: number;
    /** Median and 95th percentile latency, milliseconds, at most. */
    p50Ms: number;
    p95Ms: number;
    /** Completed requests per second, at least (default: 80% of requestsPerSecond). */
    minThroughput?: number;
  };
  severity: Record<PerformanceMetricId, GateSeverity>;
  overrideRoles: string[];
  overrideTimeout: DurationSpec;
}

const ALL_ROLES = ['BUSINESS_OWNER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER'];

export const DEFAULT_SECURITY_TEST: SecurityTestConfig = {
  pages: ['/'],
  requiredHeaders: {
    'X-Content-Type-Options': '^nosniff$',
    'X-Frame-Options': '^(DENY|SAMEORIGIN)$',
    'Referrer-Policy': '',
  },
  exposedPaths: ['/.git/HEAD', '/.git/config', '/.env', '/.svn/entries', '/.DS_Store', '/server-status', '/server-info', '/WEB-INF/web.xml', '/phpinfo.php'],
  listingPaths: ['/', '/static/', '/content/', '/etc/'],
  severity: {
    security_headers: 'important', server_disclosure: 'important', exposed_paths: 'critical', directory_listing: 'critical',
    cookie_flags: 'important', trace_method: 'important', error_disclosure: 'important',
  },
  overrideRoles: ALL_ROLES,
  overrideTimeout: '14 days',
};

export const DEFAULT_PERFORMANCE_TEST: PerformanceTestConfig = {
  pages: ['/'],
  requestsPerSecond: 30,
  duration: '10s',
  concurrency: 8,
  thresholds: { errorRate: 1, p50Ms: 200, p95Ms: 1000 },
  severity: { error_rate: 'critical', latency_p50: 'important', latency_p95: 'important', throughput: 'important' },
  overrideRoles: ALL_ROLES,
  overrideTimeout: '14 days',
};

/** Hard limits of the performance test, whatever the configuration says. */
export const PERFORMANCE_LIMITS = { maxRequestsPerSecond: 100, maxDurationMs: 5 * 60_000, maxConcurrency: 32, maxTotalRequests: 10_000 };

/** What the security test measured for one check (the workflow rates it with the configured tier). */
export interface SecurityCheckResult {
  id: SecurityCheckId;
  passed: boolean;
  /** What was found, in a few words ("missing on /: Referrer-Policy"), or "ok". */
  actual: string;
  /** What passing needs. */
  expected: string;
  /** Every problem found, one line each (bounded). */
  findings: string[];
}

/** What the performance test measured. */
export interface LoadMeasurement {
  requests: number;
  errors: number;
  /** Percent. */
  errorRate: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Completed requests per second. */
  throughput: number;
  durationMs: number;
  statuses: Record<string, number>;
}
