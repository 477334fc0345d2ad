/**
 * The security test (step securityTest): real HTTP checks against Stage through its load balancer on 127.0.0.1 —
 * required security response headers, no version disclosure, no exposed repository or server status paths, no
 * directory listing, cookie flags, TRACE refused, no stack traces on error pages. It measures and reports (a JSON
 * report in the artifact store); the workflow rates each check's result with its configured tier.
 */
import http from 'node:http';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryable } from '../shared/errors';
import type { SecurityCheckId, SecurityCheckResult, SecurityTestConfig } from '../shared/stage-gates';
import { executionRef } from '../config/paths';
import type { ArtifactStore } from './artifacts';
import { sitePage } from './health';

/** One response as the checks see it: status, headers (set-cookie as a list) and the start of the body. */
export interface Observed {
  path: string;
  method: string;
  status?: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  error?: string;
}

const MAX_BODY = 64 * 1024;
const MAX_FINDINGS = 20;

/** Refuses anything but the loopback address: tests only ever reach containers through ports published there. */
export function loopbackUrl(baseUrl: string): URL {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw ApplicationFailure.nonRetryable(`not an HTTP URL: ${baseUrl}`, NonRetryable.InvalidConfig);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    throw ApplicationFailure.nonRetryable(`Stage gates only test 127.0.0.1, not ${url.hostname}: Stage's load balancer is published ` +
      'elsewhere (environments.stage.docker.publishAddress); run the security and performance gates on a Stage published on 127.0.0.1', NonRetryable.InvalidConfig);
  }
  return url;
}

/** A raw HTTP request (node:http: fetch refuses TRACE and merges Set-Cookie headers). */
export function request(base: URL, path: string, method: string, signal: AbortSignal, timeoutMs = 5000, agent?: http.Agent): Promise<Observed> {
  return new Promise((resolve) => {
    const req = http.request(sitePage(base, path), { method, signal, timeout: timeoutMs, agent, headers: { 'User-Agent': 'stagecoach-security-test' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_BODY) chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => resolve({ path, method, status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY) }));
      res.on('error', (err) => resolve({ path, method, headers: {}, body: '', error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ path, method, headers: {}, body: '', error: err.message }));
    req.end();
  });
}

export interface SecurityObservations {
  pages: Observed[];
  exposed: Observed[];
  listing: Observed[];
  trace: Observed;
  notFound: Observed;
}

const header = (o: Observed, name: string): string | undefined => {
  const v = o.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
};

const LISTING = /<title>\s*Index of \/|<h1>\s*Index of \/|Directory listing for \/|\[To Parent Directory\]|<title>Directory: \//i;
const STACK_TRACE = /Traceback \(most recent call last\)|\bat [\w$.]+\([\w./-]+:\d+(:\d+)?\)|Exception in thread|java\.lang\.\w+Exception|<b>Fatal error<\/b>|Stack trace:|node_modules\/|\/usr\/lib\/python3/i;
const VERSIONED = /\/\s*v?\d+(\.\d+)*/;

function check(id: SecurityCheckId, expected: string, findings: string[], ok = 'ok'): SecurityCheckResult {
  return {
    id, expected, passed: findings.length === 0,
    actual: findings.length === 0 ? ok : findings.length === 1 ? findings[0] : `${findings.length} problems: ${findings.slice(0, 3).join('; ')}${findings.length > 3 ? '; ...' : ''}`,
    findings: findings.slice(0, MAX_FINDINGS),
  };
}

/** Pure: what the observed responses say about each check. */
export function evaluateSecurity(o: SecurityObservations, config: Pick<SecurityTestConfig, 'requiredHeaders'>, https = false): SecurityCheckResult[] {
  const unreachable = [...o.pages, ...o.exposed, ...o.listing, o.trace, o.notFound].filter((r) => r.status === undefined);
  if (unreachable.length) {
    throw ApplicationFailure.create({
      type: NonRetryable.PageCheckFailed, nonRetryable: true,
      message: `Stage did not answer the security test: ${unreachable.slice(0, 3).map((r) => `${r.method} ${r.path}: ${r.error}`).join('; ')}`,
    });
  }
  const required = Object.entries(config.requiredHeaders);
  const headers: string[] = [];
  for (const page of o.pages) {
    for (const [name, pattern] of required) {
      const value = header(page, name);
      if (value === undefined) headers.push(`${page.path} lacks ${name}`);
      else if (pattern && !new RegExp(pattern, 'i').test(value)) headers.push(`${page.path} sends ${name}: ${value} (needs /${pattern}/)`);
    }
  }
  const disclosure: string[] = [];
  for (const r of [...o.pages, o.notFound]) {
    const server = header(r, 'server');
    if (server && VERSIONED.test(server)) disclosure.push(`${r.path} names the server version: Server: ${server}`);
    for (const name of ['x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version']) {
      const value = header(r, name);
      if (value) disclosure.push(`${r.path} sends ${name}: ${value}`);
    }
  }
  const exposed = o.exposed.filter((r) => r.status === 200 && r.body.trim().length > 0).map((r) => `${r.path} is served (HTTP 200, ${r.body.length} bytes)`);
  const listing = o.listing.filter((r) => r.status === 200 && LISTING.test(r.body)).map((r) => `${r.path} answers with a directory listing`);
  const cookies: string[] = [];
  for (const page of o.pages) {
    const set = page.headers['set-cookie'];
    for (const cookie of Array.isArray(set) ? set : set ? [set] : []) {
      const name = cookie.split('=')[0].trim();
      const attrs = cookie.split(';').slice(1).map((a) => a.trim().toLowerCase());
      const missing = [
        ...(attrs.includes('httponly') ? [] : ['HttpOnly']),
        ...(attrs.some((a) => a.startsWith('samesite=')) ? [] : ['SameSite']),
        ...(https && !attrs.includes('secure') ? ['Secure'] : []),
      ];
      if (missing.length) cookies.push(`cookie ${name} on ${page.path} lacks ${missing.join(', ')}`);
    }
  }
  const traced = o.trace.status !== undefined && o.trace.status < 300 && /^TRACE /m.test(o.trace.body)
    ? [`TRACE ${o.trace.path} is echoed back (HTTP ${o.trace.status})`] : [];
  const errors: string[] = [];
  if (o.notFound.status !== 404) errors.push(`an unknown page answers HTTP ${o.notFound.status}, not 404`);
  if (STACK_TRACE.test(o.notFound.body)) errors.push(`the error page of ${o.notFound.path} shows a stack trace or server internals`);
  const cookieCount = o.pages.reduce((n, p) => n + [p.headers['set-cookie'] ?? []].flat().length, 0);
  return [
    check('security_headers', required.map(([n, p]) => (p ? `${n} ~ /${p}/` : n)).join(', ') || '(none required)', headers,
      `all ${required.length} on ${o.pages.length} page(s)`),
    check('server_disclosure', 'no server version, no X-Powered-By', disclosure, 'none'),
    check('exposed_paths', `none of ${o.exposed.length} path(s) served`, exposed, `none of ${o.exposed.length} served`),
    check('directory_listing', `no listing in ${o.listing.length} director(ies)`, listing, 'none'),
    check('cookie_flags', `HttpOnly, SameSite${https ? ', Secure' : ''}`, cookies, cookieCount ? `${cookieCount} cookie(s) flagged` : 'no cookies set'),
    check('trace_method', 'TRACE refused', traced, `refused (HTTP ${o.trace.status})`),
    check('error_disclosure', '404 without internals', errors, 'HTTP 404, no internals'),
  ];
}

export interface SecurityTestInput {
  baseUrl: string;
  pipelineId: string;
  executionId: string;
  config: Pick<SecurityTestConfig, 'pages' | 'requiredHeaders' | 'exposedPaths' | 'listingPaths'>;
}

export interface SecurityTestResult {
  checks: SecurityCheckResult[];
  requests: number;
  durationMs: number;
  reportRef: string;
}

export function createSecurityTestActivities(deps: { artifacts: ArtifactStore }) {
  async function securityTest(input: SecurityTestInput): Promise<SecurityTestResult> {
    const base = loopbackUrl(input.baseUrl);
    const signal = cancellationSignal();
    const started = Date.now();
    const observed: Observed[] = [];
    const get = async (path: string, method = 'GET') => {
      if (signal.aborted) throw signal.reason ?? new Error('cancelled');
      const r = await request(base, path, method, signal);
      if (signal.aborted) throw signal.reason ?? new Error('cancelled');
      observed.push(r);
      return r;
    };
    const o: SecurityObservations = { pages: [], exposed: [], listing: [], trace: undefined as never, notFound: undefined as never };
    for (const p of input.config.pages) o.pages.push(await get(p));
    for (const p of input.config.exposedPaths) o.exposed.push(await get(p));
    for (const p of input.config.listingPaths) o.listing.push(await get(p));
    o.trace = await get(input.config.pages[0], 'TRACE');
    o.notFound = await get(`/stagecoach-security-test-${input.executionId}-does-not-exist`);
    const checks = evaluateSecurity(o, input.config, base.protocol === 'https:');
    const durationMs = Date.now() - started;
    const report = {
      baseUrl: input.baseUrl, at: new Date(started).toISOString(), durationMs, checks,
      responses: observed.map((r) => ({ method: r.method, path: r.path, status: r.status, headers: r.headers, bodyBytes: r.body.length })),
    };
    const reportRef = await deps.artifacts.put(executionRef(input.pipelineId, input.executionId, 'securityTest/report.json'), JSON.stringify(report, null, 2));
    return { checks, requests: observed.length, durationMs, reportRef };
  }
  return { securityTest };
}

/** The activity's cancellation as an AbortSignal (none outside an activity, as in direct calls). */
export function cancellationSignal(): AbortSignal {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return new AbortController().signal;
  }
}
