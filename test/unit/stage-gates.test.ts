/**
 * The security and performance gates without servers: what observed responses say about each security check, the
 * load measurement (percentiles, error rate, throughput, timeline), the tiers and thresholds that rate them, the
 * configuration (absent unless configured, defaults, hard limits), the steps as data and the override rules per gate.
 */
import { describe, expect, it } from 'vitest';
import { advanceMessage } from '../../src/api/cloudmanager/requests';
import { REL, stepLinks } from '../../src/api/representation';
import { executionStateLines } from '../../src/cli/format';
import { isError, measure, percentile, timeline, type Sample } from '../../src/activities/performance-test';
import { evaluateSecurity, loopbackUrl, type Observed, type SecurityObservations } from '../../src/activities/security-test';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { Refusal } from '../../src/shared/errors';
import { DEFAULT_PERFORMANCE_TEST, DEFAULT_SECURITY_TEST } from '../../src/shared/stage-gates';
import type { ExecutionState } from '../../src/shared/types';
import { refusalReason } from '../../src/workflows/execution/message-rules';
import { minThroughputOf, performanceMetrics, securityMetrics } from '../../src/workflows/execution/stage-gates';
import { initialState, renderDetails } from '../../src/workflows/execution/state';

const ok = (path: string, headers: Observed['headers'] = {}, body = '<html>page</html>', status = 200): Observed => ({ path, method: 'GET', status, headers, body });
const secureHeaders = { 'x-content-type-options': 'nosniff', 'x-frame-options': 'SAMEORIGIN', 'referrer-policy': 'no-referrer', server: 'stagecoach-sample' };
const clean = (): SecurityObservations => ({
  pages: [ok('/', secureHeaders), ok('/about', secureHeaders)],
  exposed: [ok('/.git/HEAD', {}, 'not found\n', 404), ok('/server-status', {}, '', 404)],
  listing: [ok('/', secureHeaders), ok('/static/', {}, 'not found', 404)],
  trace: { path: '/', method: 'TRACE', status: 501, headers: {}, body: 'Unsupported method' },
  notFound: ok('/nope', { server: 'stagecoach-sample' }, 'not found\n', 404),
});
const byId = (checks: ReturnType<typeof evaluateSecurity>) => Object.fromEntries(checks.map((c) => [c.id, c]));

describe('security checks', () => {
  it('pass on a site that sends the headers and exposes nothing', () => {
    const checks = evaluateSecurity(clean(), DEFAULT_SECURITY_TEST);
    expect(checks.map((c) => [c.id, c.passed])).toEqual([
      ['security_headers', true], ['server_disclosure', true], ['exposed_paths', true], ['directory_listing', true],
      ['cookie_flags', true], ['trace_method', true], ['error_disclosure', true],
    ]);
    expect(byId(checks).cookie_flags.actual).toBe('no cookies set');
  });

  it('name every missing or wrong header, per page', () => {
    const o = clean();
    o.pages[1] = ok('/about', { ...secureHeaders, 'x-frame-options': 'ALLOWALL', 'referrer-policy': undefined });
    const c = byId(evaluateSecurity(o, DEFAULT_SECURITY_TEST)).security_headers;
    expect(c.passed).toBe(false);
    expect(c.findings).toEqual(['/about sends X-Frame-Options: ALLOWALL (needs /^(DENY|SAMEORIGIN)$/)', '/about lacks Referrer-Policy']);
    expect(c.actual).toBe('2 problems: /about sends X-Frame-Options: ALLOWALL (needs /^(DENY|SAMEORIGIN)$/); /about lacks Referrer-Policy');
  });

  it('find version disclosure, exposed paths, listings, weak cookies, an echoed TRACE and stack traces', () => {
    const o = clean();
    o.pages[0] = ok('/', { ...secureHeaders, server: 'Apache/2.4.57 (Debian)', 'x-powered-by': 'PHP/8.2', 'set-cookie': ['sid=1; Path=/', 'pref=a; HttpOnly; SameSite=Lax'] });
    o.exposed[0] = ok('/.git/HEAD', {}, 'ref: refs/heads/main\n');
    o.exposed[1] = ok('/server-status', {}, '', 200); // empty: nothing exposed
    o.listing[1] = ok('/static/', {}, '<html><head><title>Index of /static</title></head>');
    o.trace = { path: '/', method: 'TRACE', status: 200, headers: {}, body: 'TRACE / HTTP/1.1\r\nhost: x\r\n' };
    o.notFound = ok('/nope', {}, 'Traceback (most recent call last):\n  File "/app/server.py"', 500);
    const c = byId(evaluateSecurity(o, DEFAULT_SECURITY_TEST));
    expect(c.server_disclosure.findings).toEqual(['/ names the server version: Server: Apache/2.4.57 (Debian)', '/ sends x-powered-by: PHP/8.2']);
    expect(c.exposed_paths.findings).toEqual(['/.git/HEAD is served (HTTP 200, 21 bytes)']);
    expect(c.directory_listing.findings).toEqual(['/static/ answers with a directory listing']);
    expect(c.cookie_flags.findings).toEqual(['cookie sid on / lacks HttpOnly, SameSite']);
    expect(c.trace_method.passed).toBe(false);
    expect(c.error_disclosure.findings).toEqual(['an unknown page answers HTTP 500, not 404', 'the error page of /nope shows a stack trace or server internals']);
    // Secure is needed on https only.
    expect(byId(evaluateSecurity(o, DEFAULT_SECURITY_TEST, true)).cookie_flags.findings[1]).toBe('cookie pref on / lacks Secure');
  });

  it('fail (to be retried) when Stage does not answer, and only ever test 127.0.0.1', () => {
    const o = clean();
    o.pages[0] = { path: '/', method: 'GET', headers: {}, body: '', error: 'connect ECONNREFUSED 127.0.0.1:1' };
    expect(() => evaluateSecurity(o, DEFAULT_SECURITY_TEST)).toThrow(/Stage did not answer the security test: GET \/: connect ECONNREFUSED/);
    expect(loopbackUrl('http://127.0.0.1:18080/').port).toBe('18080');
    expect(() => loopbackUrl('http://10.0.0.5:80/')).toThrow(/only test 127.0.0.1, not 10.0.0.5/);
  });

  it('are rated with the configured tier', () => {
    const checks = evaluateSecurity(clean(), DEFAULT_SECURITY_TEST);
    const metrics = securityMetrics(checks, { ...DEFAULT_SECURITY_TEST.severity, security_headers: 'critical' });
    expect(metrics[0]).toMatchObject({ kpi: 'security_headers', severity: 'critical', passed: true, override: false, comparator: 'EQ' });
    expect(metrics.find((m) => m.kpi === 'exposed_paths')?.severity).toBe('critical');
    expect(metrics.find((m) => m.kpi === 'cookie_flags')?.severity).toBe('important');
  });
});

describe('load measurement', () => {
  it('nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 95)).toBe(95);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBe(0);
  });

  it('error rate, latency of the answered requests, throughput and a per-second timeline', () => {
    const samples: Sample[] = Array.from({ length: 40 }, (_, i) => ({ page: i % 2 ? '/a' : '/b', at: i * 50, ms: i + 1, status: 200 }));
    samples[3] = { ...samples[3], status: 503 };
    samples[5] = { page: '/a', at: 250, ms: 5000, error: 'no answer within 5000 ms' };
    expect(isError(samples[5])).toBe(true);
    const m = measure(samples, 2000);
    expect(m).toMatchObject({ requests: 40, errors: 2, errorRate: 5, throughput: 19, durationMs: 2000, statuses: { 200: 38, 503: 1, error: 1 } });
    expect(m.p50Ms).toBe(21); // of the 38 answered latencies 1..40 without 4 and 6
    expect(m.maxMs).toBe(40);
    expect(timeline(samples).map((t) => [t.second, t.requests, t.errors])).toEqual([[0, 20, 2], [1, 20, 0]]);
    expect(measure([], 1000)).toMatchObject({ requests: 0, errorRate: 100, throughput: 0 });
  });

  it('is rated against the thresholds; throughput defaults to 80% of the rate', () => {
    const config = { ...DEFAULT_PERFORMANCE_TEST, thresholds: { errorRate: 1, p50Ms: 50, p95Ms: 200 } };
    expect(minThroughputOf(config)).toBe(24);
    const good = { requests: 300, errors: 0, errorRate: 0, p50Ms: 3.2, p95Ms: 9.1, p99Ms: 12, maxMs: 30, throughput: 29.8, durationMs: 10_050, statuses: { 200: 300 } };
    expect(performanceMetrics(good, config).every((x) => x.passed)).toBe(true);
    const bad = performanceMetrics({ ...good, errors: 6, errorRate: 2, p95Ms: 250, throughput: 20 }, config);
    expect(bad.map((x) => [x.kpi, x.severity, x.passed, x.actualValue, x.comparator, x.expectedValue])).toEqual([
      ['error_rate', 'critical', false, '2', 'LTE', '1'], ['latency_p50', 'important', true, '3.2', 'LTE', '50'],
      ['latency_p95', 'important', false, '250', 'LTE', '200'], ['throughput', 'important', false, '20', 'GTE', '24'],
    ]);
    const none = performanceMetrics({ ...good, errors: 300, errorRate: 100, p50Ms: 0, p95Ms: 0 }, config);
    expect(none.find((x) => x.kpi === 'latency_p50')).toMatchObject({ passed: false, actualValue: 'not measured' });
  });
});

describe('configuration, steps and overrides', () => {
  const users = { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }] };

  it('the gates exist only when configured; `{}` gives the defaults', () => {
    const without = parsePipelineConfig({ id: 'unit', repository: '/tmp/repo' });
    expect(without.securityTest).toBeUndefined();
    expect(without.performanceTest).toBeUndefined();
    const state = initialState({ pipelineId: 'unit', executionId: '1', trigger: 'MANUAL', mode: 'NORMAL', user: 'c', config: without }, '2030-01-01T00:00:00Z');
    expect(state.steps.map((s) => s.stepId)).not.toContain('securityTest');

    const withGates = parsePipelineConfig({ id: 'unit', repository: '/tmp/repo', securityTest: {}, performanceTest: {} });
    expect(withGates.securityTest).toEqual(DEFAULT_SECURITY_TEST);
    expect(withGates.performanceTest).toEqual(DEFAULT_PERFORMANCE_TEST);
    expect(withGates.securityTest!.overrideTimeout).toBe('14 days');
    const s2 = initialState({ pipelineId: 'unit', executionId: '1', trigger: 'MANUAL', mode: 'NORMAL', user: 'c', config: withGates }, '2030-01-01T00:00:00Z');
    expect(s2.steps.filter((s) => s.phaseId === 'stageTesting').map((s) => s.stepId))
      .toEqual(['productTest', 'functionalTest', 'uiTest', 'securityTest', 'performanceTest', 'contentAudit']);
    // Re-execution and web tier pipelines never run them.
    const web = parsePipelineConfig({ id: 'unit', repository: '/tmp/repo', type: 'webTier', securityTest: {} });
    expect(initialState({ pipelineId: 'unit', executionId: '1', trigger: 'MANUAL', mode: 'NORMAL', user: 'c', config: web }, 'x').steps.map((s) => s.action))
      .not.toContain('securityTest');
  });

  it('refuses unbounded loads, bad tiers and bad patterns, naming the field', () => {
    const bad = (section: Record<string, unknown>) => () => parsePipelineConfig({ id: 'unit', repository: '/tmp/repo', ...section });
    expect(bad({ performanceTest: { requestsPerSecond: 500 } })).toThrow(/performanceTest\.requestsPerSecond/);
    expect(bad({ performanceTest: { duration: '10 minutes' } })).toThrow(/performanceTest\.duration: at most 5 minutes/);
    expect(bad({ performanceTest: { requestsPerSecond: 100, duration: '200s' } })).toThrow(/exceeds 10000 requests/);
    expect(bad({ securityTest: { severity: { exposed_paths: 'informational' } } })).toThrow(/securityTest\.severity\.exposed_paths/);
    expect(bad({ securityTest: { severity: { unknown_check: 'critical' } } })).toThrow(/securityTest\.severity/);
    expect(bad({ securityTest: { requiredHeaders: { 'X-Test': '([' } } })).toThrow(/a regular expression/);
  });

  it('an override at a security or performance gate needs that gate\'s role', () => {
    const config = parsePipelineConfig({
      id: 'unit', repository: '/tmp/repo', identity: 'declared', approval: users,
      quality: { overrideRoles: ['BUSINESS_OWNER'] }, securityTest: { overrideRoles: ['DEPLOYMENT_MANAGER'] }, performanceTest: {},
    });
    const state: ExecutionState = initialState({ pipelineId: 'unit', executionId: '4', trigger: 'MANUAL', mode: 'NORMAL', user: 'carol', config }, '2030-01-01T00:00:00Z');
    state.status = 'RUNNING';
    state.currentStepId = 'securityTest';
    state.waiting = {
      stepId: 'securityTest', action: 'securityTest', since: '2030-01-01T00:00:00Z', expiresAt: '2030-01-15T00:00:00Z',
      accepts: ['override', 'reject', 'cancel'], allowed: ['alice'], metrics: ['security_headers'],
    };
    const refuse = (action: 'override' | 'reject', request: Record<string, unknown>) => refusalReason(action, request, state, config, 0)?.message;
    expect(refuse('override', { by: 'alice', metrics: ['security_headers'] })).toBeUndefined();
    expect(refuse('override', { by: 'bob', metrics: ['security_headers'] }))
      .toBe('bob (BUSINESS_OWNER) may not override security test failures of pipeline unit: that needs the role DEPLOYMENT_MANAGER (allowed: alice)');
    expect(refuse('reject', { by: 'bob' })).toMatch(/may not override security test failures/);
    expect(refuse('override', { by: 'alice', metrics: [] })).toMatch(/security_headers is missing/);
    state.waiting = { ...state.waiting, stepId: 'performanceTest', action: 'performanceTest', metrics: ['latency_p95'] };
    expect(refuse('override', { by: 'bob', metrics: ['latency_p95'] })).toBeUndefined(); // every role by default
  });

  it('emergency mode names the steps it skips in the Web UI details', () => {
    const config = parsePipelineConfig({ id: 'unit', repository: '/tmp/repo', securityTest: {}, performanceTest: {} });
    const state = initialState({ pipelineId: 'unit', executionId: '1', trigger: 'MANUAL', mode: 'EMERGENCY', user: 'c', config }, '2030-01-01T00:00:00Z');
    expect(renderDetails(state, 0)).toMatch(/\*\*Emergency mode:\*\* skips securityTest, performanceTest, contentAudit; never the approval/);
    expect(renderDetails({ ...state, mode: 'NORMAL' }, 0)).not.toMatch(/Emergency/);
    state.waiting = {
      stepId: 'securityTest', action: 'securityTest', since: '2030-01-01T00:00:00Z', expiresAt: '2030-01-15T00:00:00Z',
      accepts: ['override', 'reject', 'cancel'], allowed: ['alice'], metrics: ['security_headers', 'cookie_flags'],
    };
    expect(renderDetails(state, Date.parse('2030-01-01T00:00:00Z')))
      .toContain('Waiting at **securityTest** for override / reject / cancel by alice; expires 2030-01-15T00:00:00Z (14 d 0 h left); an override lists security_headers, cookie_flags');
  });
});

describe('the HTTP API at a waiting gate', () => {
  it('advance overrides with metrics or rejects with approved: false; an approval is not what a gate waits for', () => {
    const config = parsePipelineConfig({ id: 'unit', repository: '/tmp/repo', securityTest: {} });
    const state = initialState({ pipelineId: 'unit', executionId: '2', trigger: 'MANUAL', mode: 'NORMAL', user: 'c', config }, '2030-01-01T00:00:00Z');
    state.status = 'RUNNING';
    state.currentStepId = 'securityTest';
    const gate = state.steps.find((s) => s.stepId === 'securityTest')!;
    gate.status = 'WAITING';
    state.waiting = {
      stepId: 'securityTest', action: 'securityTest', since: '2030-01-01T00:00:00Z', expiresAt: '2030-01-15T00:00:00Z',
      accepts: ['override', 'reject', 'cancel'], allowed: [], metrics: ['security_headers'],
    };
    expect(advanceMessage(state, gate, { metrics: [{ kpi: 'security_headers', override: true }] }))
      .toEqual({ ok: true, action: 'override', request: { metrics: ['security_headers'] } });
    expect(advanceMessage(state, gate, { approved: false, reason: 'fix the headers' })).toEqual({ ok: true, action: 'reject', request: { reason: 'fix the headers' } });
    expect(advanceMessage(state, gate, { approved: true })).toMatchObject({ ok: false, type: Refusal.InvalidRequest, detail: expect.stringMatching(/waits for an override of its failing metrics, not an approval/) });
    expect(advanceMessage(state, gate, {})).toMatchObject({ ok: false, type: Refusal.InvalidRequest, detail: expect.stringMatching(/to override, or \{"approved": false/) });
    expect(stepLinks(state, gate, { programId: '1' })[REL.advance]).toBeDefined();
  });
});

describe('stagecoach status at a waiting gate', () => {
  it('lists the failing metrics an override must name', () => {
    const config = parsePipelineConfig({ id: 'unit', repository: '/tmp/repo', performanceTest: {} });
    const state = initialState({ pipelineId: 'unit', executionId: '3', trigger: 'MANUAL', mode: 'NORMAL', user: 'c', config }, '2030-01-01T00:00:00Z');
    state.status = 'RUNNING';
    state.currentStepId = 'performanceTest';
    state.waiting = {
      stepId: 'performanceTest', action: 'performanceTest', since: '2030-01-01T00:00:00Z', expiresAt: '2030-01-15T00:00:00Z',
      accepts: ['override', 'reject', 'cancel'], allowed: ['alice'], metrics: ['latency_p95', 'throughput'],
    };
    const lines = executionStateLines(state, 'wf', Date.parse('2030-01-01T00:00:00Z'), { utc: true });
    expect(lines).toContain('  failing    latency_p95, throughput (an override lists them all)');
    expect(lines.some((l) => l.startsWith('Waiting at performanceTest since 2030-01-01 00:00'))).toBe(true);
  });
});
