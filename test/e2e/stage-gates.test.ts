/**
 * The optional Stage gates of the stageTesting phase (issue 5) on real parts: the securityTest step's HTTP checks
 * and the performanceTest step's bounded load both run against the real Stage topology (HAProxy → Varnish → publish,
 * through the load balancer's port on 127.0.0.1), and Cloud Manager's tiers gate the execution.
 *
 * Executions, in order, on one pipeline (functional/UI tests off to keep the file short):
 *   1 both gates with their defaults          → both pass, reports in the store; approval; cancelled
 *   2 a required header Stage does not send   → securityTest WAITING (important), 14-day default limit; refused
 *     + a p50 threshold of 0 ms, critical       overrides audited; alice's override → performanceTest FAILED
 *   3 the same header rated critical          → FAILED at securityTest; performanceTest never starts
 *   4 a 90 s load, cancelled after 3 s        → the load stops at once; CANCELLED
 *   5 the header important, overrideTimeout 2s → CANCELLED when the gate's own limit passes; nothing offered
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StagecoachError } from '../../src/client/errors';
import { executionWorkflowId } from '../../src/shared/ids';
import type { ExecutionState, StepState } from '../../src/shared/types';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';

const ID = 't-gates';
const DAY = 86_400_000;
let h: Harness;

const DEFAULT_HEADERS = { 'X-Content-Type-Options': '^nosniff$', 'X-Frame-Options': '^(DENY|SAMEORIGIN)$', 'Referrer-Policy': '' };
const WITH_CSP = { ...DEFAULT_HEADERS, 'Content-Security-Policy': "default-src 'self'" };

const base = (overrides: Record<string, unknown> = {}) => testPipeline(ID, h.repo, {
  environments: { stage: { loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' }, prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' } },
  tests: { functional: { enabled: false }, ui: { enabled: false } },
  securityTest: { pages: ['/', '/about'] },
  // Default latency thresholds; throughput at least 20 of the 30 requests/s (not the default 24), so that a CI machine
  // busy with other suites does not turn a stall of the worker's event loop into a waiting gate.
  performanceTest: { pages: ['/', '/about', '/products'], requestsPerSecond: 30, duration: '6s', thresholds: { minThroughput: 20 } },
  ...overrides,
});

beforeAll(async () => {
  h = await startHarness('gates', [ID]);
  await h.writePipeline(base());
}, 10 * 60_000);
afterAll(async () => h?.close());

const step = (s: ExecutionState, id: string): StepState => s.steps.find((x) => x.stepId === id)!;
const artifact = async (ref: string) => JSON.parse((await fs.readFile(path.join(h.tmp, 'state', 'artifacts', ref))).toString());
const idle = () => expect.poll(async () => (await h.stagecoach.pipelineState(ID)).running, { timeout: 60_000 }).toBeUndefined();
const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StagecoachError);
  return (err as Error).message;
};
const run = async (until: (s: ExecutionState) => boolean, timeoutMs = 6 * 60_000) => {
  const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
  return { executionId, state: await h.waitFor(ID, executionId, until, timeoutMs) };
};
const endedAt = async (executionId: string) => {
  const s = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
  await idle();
  return s;
};
type M = { kpi: string; severity: string; passed: boolean; override: boolean; actualValue: string; expectedValue: string; comparator: string };
const metricsOf = (st: StepState) => st.details.metrics as M[];

describe('security and performance gates on Stage', () => {
  it('pass against the real Stage topology; reports in the artifact store', async () => {
    const { executionId, state: s } = await run(isWaitingAt('approval'));
    expect(s.status, s.reason).toBe('RUNNING');
    expect(s.steps.filter((x) => x.phaseId === 'stageTesting').map((x) => x.stepId))
      .toEqual(['productTest', 'functionalTest', 'uiTest', 'securityTest', 'performanceTest', 'contentAudit']);

    const security = step(s, 'securityTest');
    expect(security.status).toBe('FINISHED');
    expect(metricsOf(security).map((m) => [m.kpi, m.severity, m.passed])).toEqual([
      ['security_headers', 'important', true], ['server_disclosure', 'important', true], ['exposed_paths', 'critical', true],
      ['directory_listing', 'critical', true], ['cookie_flags', 'important', true], ['trace_method', 'important', true],
      ['error_disclosure', 'important', true],
    ]);
    expect(security.details.summary).toMatch(/^7 security checks passed on Stage \(\d+ requests\)$/);
    const securityReport = await artifact(security.details.reportRef as string);
    expect(securityReport.baseUrl).toBe(s.urls.stage);
    // Real answers of Stage: the dispatcher's headers on the pages, 404 for /.git/HEAD, TRACE refused.
    const responses = securityReport.responses as Array<{ method: string; path: string; status: number; headers: Record<string, string> }>;
    expect(responses.find((r) => r.path === '/about')?.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(responses.find((r) => r.path === '/.git/HEAD')?.status).toBe(404);
    expect(responses.find((r) => r.method === 'TRACE')?.status).toBeGreaterThanOrEqual(400);

    const perf = step(s, 'performanceTest');
    expect(perf.status).toBe('FINISHED');
    const m = perf.details.measurement as { requests: number; errors: number; errorRate: number; p50Ms: number; p95Ms: number; throughput: number; durationMs: number };
    expect(m.requests).toBe(180); // 30 requests/s for 6 s, every one answered
    expect(m).toMatchObject({ errors: 0, errorRate: 0 });
    expect(m.p50Ms).toBeGreaterThan(0);
    expect(m.p95Ms).toBeGreaterThanOrEqual(m.p50Ms);
    expect(m.p95Ms).toBeLessThan(1000);
    expect(m.throughput).toBeGreaterThanOrEqual(20);
    expect(m.durationMs).toBeGreaterThanOrEqual(5900);
    expect(metricsOf(perf).map((x) => [x.kpi, x.severity, x.comparator, x.passed])).toEqual([
      ['error_rate', 'critical', 'LTE', true], ['latency_p50', 'important', 'LTE', true], ['latency_p95', 'important', 'LTE', true],
      ['throughput', 'important', 'GTE', true],
    ]);
    expect(perf.details.summary).toMatch(/^180 requests in \d+(\.\d)? s: [\d.]+ req\/s, p50 [\d.]+ ms, p95 [\d.]+ ms, 0% errors; every threshold met$/);
    const perfReport = await artifact(perf.details.reportRef as string);
    expect((perfReport.pages as Array<{ path: string; requests: number }>).map((p) => [p.path, p.requests])).toEqual([['/', 60], ['/about', 60], ['/products', 60]]);
    const seconds = perfReport.timeline as Array<{ second: number; requests: number }>;
    expect(seconds.reduce((n, x) => n + x.requests, 0)).toBe(180);
    expect(seconds.length).toBeGreaterThanOrEqual(6);
    expect(s.artifacts.reports.map((r) => r.name)).toEqual(expect.arrayContaining(['security test report', 'performance test report']));

    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'carol' });
    await endedAt(executionId);
    await h.recordHistory('execution-stage-gates', executionWorkflowId(ID, executionId));
  });

  it('an important security failure waits for an override by an allowed role; refusals are audited; a failing performance threshold fails the execution', async () => {
    await h.writePipeline(base({
      securityTest: { pages: ['/', '/about'], requiredHeaders: WITH_CSP, overrideRoles: ['DEPLOYMENT_MANAGER'] },
      performanceTest: { pages: ['/'], requestsPerSecond: 20, duration: '3s', thresholds: { p50Ms: 0 }, severity: { latency_p50: 'critical' } },
    }));
    const { executionId, state: waiting } = await run(isWaitingAt('securityTest'));
    expect(step(waiting, 'securityTest').status).toBe('WAITING');
    expect(waiting.waiting).toMatchObject({ action: 'securityTest', accepts: ['override', 'reject', 'cancel'], allowed: ['alice'], metrics: ['security_headers'] });
    // The gate's own limit: 14 days by default, in workflow time.
    expect(Date.parse(waiting.waiting!.expiresAt) - Date.parse(waiting.waiting!.since)).toBe(14 * DAY);
    expect(step(waiting, 'securityTest').details.summary)
      .toBe('important check(s) failed: security_headers 2 problems: / lacks Content-Security-Policy; /about lacks Content-Security-Policy (needs EQ ' +
        "X-Content-Type-Options ~ /^nosniff$/, X-Frame-Options ~ /^(DENY|SAMEORIGIN)$/, Referrer-Policy, Content-Security-Policy ~ /default-src 'self'/); " +
        'waiting for an override of security_headers or a reject');

    expect(await refusal(h.stagecoach.send(ID, executionId, 'override', { by: 'bob', metrics: ['security_headers'] })))
      .toBe('bob (BUSINESS_OWNER) may not override security test failures of pipeline t-gates: that needs the role DEPLOYMENT_MANAGER (allowed: alice)');
    expect(await refusal(h.stagecoach.send(ID, executionId, 'reject', { by: 'bob' }))).toMatch(/bob \(BUSINESS_OWNER\) may not override security test failures/);
    // A refusal through a signal (the Web UI's way) is audited too.
    await h.client.workflow.getHandle(executionWorkflowId(ID, executionId)).signal('override', { by: 'alice', metrics: ['exposed_paths'] });
    await expect.poll(async () => (await h.stagecoach.executionState(ID, executionId)).audit.length).toBe(3);

    await h.stagecoach.send(ID, executionId, 'override', { by: 'alice', metrics: ['security_headers'] });
    const s = await endedAt(executionId);
    const gate = step(s, 'securityTest');
    expect(gate.status).toBe('FINISHED');
    expect(gate.details).toMatchObject({ decision: 'overridden', overriddenBy: 'alice', summary: expect.stringMatching(/^important check\(s\) overridden by alice: security_headers/) });
    expect(metricsOf(gate).filter((x) => x.override).map((x) => x.kpi)).toEqual(['security_headers']);
    expect(s.audit.map((a) => [a.action, a.by, a.via, a.outcome, a.reason ?? ''])).toEqual([
      ['override', 'bob', 'update', 'refused', expect.stringMatching(/may not override security test failures/)],
      ['reject', 'bob', 'update', 'refused', expect.stringMatching(/may not override security test failures/)],
      ['override', 'alice', 'signal', 'refused', expect.stringMatching(/an override must list every failing important metric: security_headers is missing/)],
      ['override', 'alice', 'update', 'accepted', ''],
    ]);

    // The performance test then ran its real load and failed on its critical threshold.
    expect(s.status).toBe('FAILED');
    const perf = step(s, 'performanceTest');
    expect(perf.status).toBe('FAILED');
    expect((perf.details.measurement as { requests: number }).requests).toBe(60);
    expect(s.reason).toMatch(/^critical performance test metric\(s\) failed: latency_p50 [\d.]+ \(needs LTE 0\)$/);
    expect(metricsOf(perf).find((x) => x.kpi === 'latency_p50')).toMatchObject({ severity: 'critical', passed: false, expectedValue: '0' });
    expect(s.waiting).toBeUndefined();
    expect(step(s, 'contentAudit').status).toBe('NOT_STARTED');
    await h.recordHistory('execution-stage-gate-override', executionWorkflowId(ID, executionId));
  });

  it('a critical security failure fails the execution at once', async () => {
    await h.writePipeline(base({ securityTest: { requiredHeaders: WITH_CSP, severity: { security_headers: 'critical' } } }));
    const { executionId } = await run(hasEnded);
    const s = await endedAt(executionId);
    expect(s.status).toBe('FAILED');
    expect(step(s, 'securityTest').status).toBe('FAILED');
    expect(s.reason).toBe("critical security test check(s) failed: security_headers / lacks Content-Security-Policy (needs EQ X-Content-Type-Options ~ /^nosniff$/, " +
      "X-Frame-Options ~ /^(DENY|SAMEORIGIN)$/, Referrer-Policy, Content-Security-Policy ~ /default-src 'self'/)");
    expect(step(s, 'performanceTest').status).toBe('NOT_STARTED');
    expect(s.audit).toEqual([]);
  });

  it('cancel during the load stops it at once', async () => {
    await h.writePipeline(base({ performanceTest: { requestsPerSecond: 10, duration: '90s' } }));
    const { executionId } = await run((x) => step(x, 'performanceTest').status === 'RUNNING' || hasEnded(x));
    await new Promise((r) => setTimeout(r, 3000)); // the load is under way
    const cancelledAt = Date.now();
    await h.stagecoach.send(ID, executionId, 'cancel', { by: 'carol' });
    const s = await endedAt(executionId);
    // The activity heartbeats, learns of the cancellation and stops its load; the workflow waits for that.
    expect(Date.now() - cancelledAt).toBeLessThan(20_000);
    expect(s.status).toBe('CANCELLED');
    expect(step(s, 'performanceTest').status).toBe('CANCELLED');
    expect(s.reason).toBe('cancelled by carol');
  });

  it("a waiting gate ends the execution when its own limit passes; nothing stays offered", async () => {
    await h.writePipeline(base({ securityTest: { requiredHeaders: WITH_CSP, overrideTimeout: '2s' } }));
    const { executionId } = await run(hasEnded);
    const s = await endedAt(executionId);
    expect(s.status).toBe('CANCELLED');
    expect(step(s, 'securityTest').status).toBe('CANCELLED');
    expect(s.reason).toBe('no override within 2s: the security test timed out (failing: security_headers)');
    expect(s.waiting).toBeUndefined();
    expect(await refusal(h.stagecoach.send(ID, executionId, 'override', { by: 'alice', metrics: ['security_headers'] }))).toMatch(/has ended \(CANCELLED\)/);
    await h.writePipeline(base());
  });
});
