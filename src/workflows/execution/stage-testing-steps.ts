/**
 * The stage testing phase's runners: the product, functional and UI tests against Stage, the optional security and
 * performance gates, and the Experience Audit.
 */
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { DurationSpec } from '../../shared/duration';
import type { StepState } from '../../shared/types';
import { PROFILES, stageGateActivities, stageTestActivities } from '../activity-profiles';
import { durationMs } from './message-rules';
import { describeMetric, failing, type Metric } from './quality-gates';
import { awaitOverride } from './override';
import { performanceMetrics, securityMetrics } from './stage-gates';
import { StopExecution, failureDetails, type StepContext, type StepRunner } from './step-context';

export const productTest: StepRunner = async (ctx, step) => {
  const { config, state } = ctx;
  const result = await stageTestActivities.productTest({
    baseUrl: state.urls.stage!, pages: config.productTest.pages, healthPath: config.app.healthPath, version: state.artifacts.version ?? '',
  });
  step.details = { summary: `${result.pages.length} page checks passed on Stage`, pages: result.pages };
};

/**
 * The app's functional or UI tests: its test image from the build, run against Stage within the configured limit.
 * An app without such tests passes, saying so.
 */
export const customTests = (kind: 'functional' | 'ui'): StepRunner => async (ctx, step) => {
  const { config, state } = ctx;
  const what = kind === 'ui' ? 'UI' : 'functional';
  // Absent in executions started before test images existed: they only look for the app's Dockerfile.
  const settings = config.tests?.[kind];
  if (settings && !settings.enabled) {
    step.details = { summary: `skipped: ${what} tests are switched off (tests.${kind}.enabled: false)`, ran: false, skipped: true };
    return;
  }
  const image = state.artifacts.testImages?.[kind];
  if (settings && !image) {
    step.details = { summary: `passed: the app ships no ${what} tests (no ${settings.context}/Dockerfile at this commit): nothing to run`, ran: false };
    return;
  }
  const limitMs = settings ? durationMs(settings.timeout) : undefined;
  const activities = limitMs === undefined ? stageTestActivities : proxyActivities<Activities>({
    ...PROFILES.stageTests,
    startToCloseTimeout: limitMs + 10 * 60_000,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const record = (r: Record<string, unknown>) => {
    const files = Array.isArray(r.files) ? r.files as Array<{ name: string; ref: string }> : [];
    const logRef = typeof r.logRef === 'string' ? r.logRef : undefined;
    const reportRef = typeof r.reportRef === 'string' ? r.reportRef : undefined;
    if (logRef) state.artifacts.reports.push({ name: `${what} tests log`, ref: logRef });
    if (reportRef) state.artifacts.reports.push({ name: `${what} tests (JUnit)`, ref: reportRef });
    step.details = {
      ran: true, image: image?.tag, ...(logRef ? { logRef } : {}), ...(reportRef ? { reportRef } : {}),
      ...(r.tests ? { tests: r.tests } : {}), exitCode: r.exitCode, durationMs: r.durationMs,
      files, screenshots: files.filter((f) => /\.png$/i.test(f.name)),
    };
  };
  let result: Awaited<ReturnType<typeof stageTestActivities.customTests>>;
  try {
    result = await activities.customTests({
      repository: config.repository, commitId: state.commitId!, kind,
      ...(image ? {
        image: image.id, pipelineId: state.pipelineId, executionId: state.id, environment: config.environments.stage,
        appPort: config.app.port, version: state.artifacts.version ?? '', timeoutMs: limitMs,
      } : {}),
    });
  } catch (err) {
    const failed = failureDetails(err);
    if (failed?.ran === true) record(failed);
    throw err;
  }
  if (!result.ran) {
    step.details = { summary: `passed: ${result.reason}`, ran: false };
    return;
  }
  record(result as unknown as Record<string, unknown>);
  const t = result.tests;
  step.details.summary = (t ? `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped` : `exit code ${result.exitCode} (no JUnit report)`) +
    ` against Stage in ${Math.round(result.durationMs / 1000)} s` +
    (result.files.some((f) => /\.png$/i.test(f.name)) ? `; ${result.files.filter((f) => /\.png$/i.test(f.name)).length} screenshot(s)` : '');
};

/**
 * A Stage gate's outcome: a critical failure fails the execution (FAILED, naming the checks); important failures wait
 * for an override (awaitOverride); otherwise it passes, saying what it measured.
 */
async function judgeGate(ctx: StepContext, step: StepState, gate: {
  gate: string; noun: 'metric' | 'check'; metrics: Metric[]; roles: string[]; timeout: DurationSpec; passed: string;
}): Promise<void> {
  const critical = failing(gate.metrics, 'critical');
  const important = failing(gate.metrics, 'important');
  step.details.metrics = gate.metrics;
  if (critical.length) {
    step.details.summary = `critical ${gate.noun}(s) failed: ${critical.map(describeMetric).join('; ')}`;
    throw new StopExecution('FAILED', 'FAILED', `critical ${gate.gate} ${gate.noun}(s) failed: ${critical.map(describeMetric).join('; ')}`);
  }
  if (!important.length) {
    step.details.summary = gate.passed;
    return;
  }
  await awaitOverride(ctx, step, { ...gate, important });
}

/** Security test (optional, skipped in emergency mode): real checks against Stage, each rated critical or important. */
export const securityTest: StepRunner = async (ctx, step) => {
  const { state } = ctx;
  const config = ctx.config.securityTest!;
  const result = await stageGateActivities.securityTest({
    baseUrl: state.urls.stage!, pipelineId: state.pipelineId, executionId: state.id,
    config: { pages: config.pages, requiredHeaders: config.requiredHeaders, exposedPaths: config.exposedPaths, listingPaths: config.listingPaths },
  });
  state.artifacts.reports.push({ name: 'security test report', ref: result.reportRef });
  const metrics = securityMetrics(result.checks, config.severity);
  step.details = { summary: '', requests: result.requests, durationMs: result.durationMs, reportRef: result.reportRef, metrics };
  await judgeGate(ctx, step, {
    gate: 'security test', noun: 'check', metrics, roles: config.overrideRoles, timeout: config.overrideTimeout,
    passed: `${metrics.length} security checks passed on Stage (${result.requests} requests)`,
  });
};

/** Performance test (optional, skipped in emergency mode): a bounded load on Stage against the configured thresholds. */
export const performanceTest: StepRunner = async (ctx, step) => {
  const { state } = ctx;
  const config = ctx.config.performanceTest!;
  const result = await stageGateActivities.performanceTest({
    baseUrl: state.urls.stage!, pipelineId: state.pipelineId, executionId: state.id, pages: config.pages,
    requestsPerSecond: config.requestsPerSecond, durationMs: durationMs(config.duration), concurrency: config.concurrency,
  });
  state.artifacts.reports.push({ name: 'performance test report', ref: result.reportRef });
  const m = result.measurement;
  const metrics = performanceMetrics(m, config);
  step.details = {
    summary: '', reportRef: result.reportRef, metrics, measurement: m, pages: result.pages, delayed: result.delayed,
    load: { requestsPerSecond: config.requestsPerSecond, duration: config.duration, concurrency: config.concurrency },
  };
  await judgeGate(ctx, step, {
    gate: 'performance test', noun: 'metric', metrics, roles: config.overrideRoles, timeout: config.overrideTimeout,
    passed: `${m.requests} requests in ${Math.round(m.durationMs / 100) / 10} s: ${m.throughput} req/s, p50 ${m.p50Ms} ms, p95 ${m.p95Ms} ms, ` +
      `${m.errorRate}% errors; every threshold met`,
  });
};

/** Lighthouse works the worker's event loop hard while it computes a report: a longer silence is allowed. */
const auditActivities = proxyActivities<Activities>({ ...PROFILES.stageTests, heartbeatTimeout: '1 minute' });

const CATEGORY_NAMES: Record<string, string> = { performance: 'performance', accessibility: 'accessibility', 'best-practices': 'best practices', seo: 'SEO' };

/** Experience Audit: Lighthouse scores of Stage's pages and their change against the previous audit. Never blocks. */
export const contentAudit: StepRunner = async (ctx, step) => {
  const { state } = ctx;
  if (state.mode === 'EMERGENCY') {
    step.details = { summary: 'skipped: emergency mode skips the content audit', skipped: true };
    return;
  }
  const result = await auditActivities.contentAudit({
    baseUrl: state.urls.stage!, pages: ctx.config.audit.pages, pipelineId: state.pipelineId, executionId: state.id,
  });
  if (!('ran' in result)) {
    // Executions started before Lighthouse: response time and size.
    step.details = {
      summary: `measured ${result.pages.length} page(s) of Stage (response time and size; Lighthouse scoring not run)`,
      pages: result.pages,
    };
    return;
  }
  if (result.logRef) state.artifacts.reports.push({ name: 'content audit log', ref: result.logRef });
  if (result.summaryRef) state.artifacts.reports.push({ name: 'content audit summary', ref: result.summaryRef });
  const { scores, changes } = result.average;
  step.details = {
    summary: result.ran
      ? `Lighthouse on ${result.pages.length} page(s) of Stage: ` +
        Object.keys(CATEGORY_NAMES).map((c) => `${CATEGORY_NAMES[c]} ${scores[c as keyof typeof scores] ?? '-'} (${changes[c as keyof typeof changes]})`).join(', ') +
        (result.slowest[0] ? `; slowest ${result.slowest[0].path}` : '')
      : `not scored: ${result.reason}`,
    ran: result.ran, ...(result.reason ? { reason: result.reason } : {}),
    lighthouseVersion: result.lighthouseVersion, scores, changes, previousExecutionId: result.previousExecutionId,
    pages: result.pages, slowest: result.slowest,
    ...(result.logRef ? { logRef: result.logRef } : {}), ...(result.summaryRef ? { summaryRef: result.summaryRef } : {}),
  };
};
