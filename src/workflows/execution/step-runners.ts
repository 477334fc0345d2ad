/**
 * What each step action does. A runner records what it did in `step.details` (with a one-line `summary` for the Web
 * UI) and throws to fail; the execution loop owns statuses and times.
 */
import {
  ActivityCancellationType, ApplicationFailure, CancellationScope, executeChild, getExternalWorkflowHandle, patched, proxyActivities,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { rolloutWorkflowId } from '../../shared/ids';
import type { ScheduleRequest } from '../../shared/messages';
import type { DurationSpec } from '../../shared/duration';
import { causeChain } from '../../shared/errors';
import type { ExecutionState, PipelineConfig, StepAction, StepState, WaitingState } from '../../shared/types';
import { PROFILES, buildActivities, quickActivities, stageGateActivities, stageTestActivities } from '../activity-profiles';
import { rollingDeployment } from '../rolling-deployment';
import type { ExecutionInput } from './state';
import { durationMs, eligibleApprovers } from './message-rules';
import { describeMetric, evaluateQualityMetrics, failing, qualityOverriders, type Metric } from './quality-gates';
import { performanceMetrics, securityMetrics } from './stage-gates';

/** Ends the execution early in a chosen way (a reject, a timeout): not an error of Stagecoach. */
export class StopExecution extends Error {
  constructor(readonly executionStatus: 'CANCELLED' | 'FAILED', readonly stepStatus: StepState['status'], reason: string) {
    super(reason);
    this.name = 'StopExecution';
  }
}

export interface ApprovalDecision { approvedBy: string[]; rejected?: { by: string; at: string; reason?: string } }

export interface Decisions {
  /** By step id: approval, managed. */
  approvals: Record<string, ApprovalDecision>;
  schedule?: ScheduleRequest & { receivedAt: string; version: number };
  /** The accepted override of the quality gate's failing important metrics. */
  override?: { by: string; metrics: string[]; at: string };
}

export interface StepContext {
  input: ExecutionInput;
  state: ExecutionState;
  config: PipelineConfig;
  decisions: Decisions;
  /** Waits (durably) until `done()` or the timeout; answers false on timeout. */
  wait(
    step: StepState, waiting: Omit<WaitingState, 'stepId' | 'action' | 'since' | 'expiresAt'>, timeout: string | number,
    done: () => boolean, expiresAt?: string,
  ): Promise<boolean>;
  /** Publishes state to the Web UI (details, search attributes). */
  publish(): void;
  nowMs(): number;
}

export type StepRunner = (ctx: StepContext, step: StepState) => Promise<void>;

const validate: StepRunner = async (ctx, step) => {
  const { config } = ctx;
  if (ctx.input.reExecuteOf) {
    if (!ctx.input.reExecuteOf.artifacts.images) throw new StopExecution('FAILED', 'FAILED', `execution ${ctx.input.reExecuteOf.executionId} has no images to deploy again`);
  }
  const engines = await quickActivities.checkDockerEngines({ environments: [config.environments.stage, config.environments.prod], pipelineId: config.id });
  const resolved = await quickActivities.resolveBranch({ repository: config.repository, branch: config.branch, pinnedCommit: ctx.input.pinnedCommit });
  if (!ctx.input.reExecuteOf) {
    ctx.state.commitId = resolved.commitId;
    ctx.state.artifacts.version = resolved.version;
  }
  step.details = {
    summary: `config valid; ${ctx.input.pinnedCommit ? `push update of ${resolved.commitId.slice(0, 12)}` : `${config.branch} at ${resolved.commitId.slice(0, 12)}`}; ${engines.engines.length} Docker engine(s) answer`,
    repository: config.repository, branch: config.branch, commitId: resolved.commitId, version: resolved.version,
    dockerEngines: engines.engines,
  };
};

const build: StepRunner = async (ctx, step) => {
  const previous = ctx.input.reExecuteOf;
  if (previous) {
    // Re-execution: the previous execution's artifacts, copied by reference. No rebuild.
    ctx.state.artifacts = { ...previous.artifacts, copiedFrom: previous.executionId };
    step.details = {
      summary: `copied artifacts of execution ${previous.executionId} (no rebuild)`, copying: true,
      copiedFrom: previous.executionId, images: previous.artifacts.images,
    };
    return;
  }
  const { config, state } = ctx;
  // `config.tests` / `config.quality` are absent in executions started before scanners and test images existed.
  const testImages = config.tests && {
    ...(config.tests.functional.enabled ? { functional: config.tests.functional.context } : {}),
    ...(config.tests.ui.enabled ? { ui: config.tests.ui.context } : {}),
  };
  let result: Awaited<ReturnType<typeof buildActivities.buildAndTest>>;
  try {
    result = await buildActivities.buildAndTest({
      pipelineId: state.pipelineId, executionId: state.id, repository: config.repository, commitId: state.commitId!, app: config.app,
      ...(state.trigger === 'PUSH_UPGRADES' ? { noCache: true } : {}),
      ...(config.quality ? { scan: true } : {}),
      ...(testImages ? { testImages } : {}),
    });
  } catch (err) {
    // A failed build still points at its log and, when the tests ran, their report.
    const failed = failureDetails(err);
    const logRef = typeof failed?.logRef === 'string' ? failed.logRef : undefined;
    const reportRef = typeof failed?.reportRef === 'string' ? failed.reportRef : undefined;
    if (logRef) state.artifacts.reports.push({ name: 'build log', ref: logRef });
    if (reportRef) state.artifacts.reports.push({ name: 'unit tests (JUnit)', ref: reportRef });
    const t = failed?.unitTests as { passed: number; failed: number; skipped: number } | undefined;
    step.details = {
      ...(logRef ? { logRef } : {}), ...(reportRef ? { reportRef } : {}),
      ...(t ? { unitTests: { passed: t.passed, failed: t.failed, skipped: t.skipped } } : {}),
    };
    throw err;
  }
  const t = result.unitTests;
  const coverage = t.coverage;
  state.artifacts.unitTests = { ...result.unitTests, reportRef: result.reportRef };
  state.artifacts.reports.push({ name: 'build log', ref: result.logRef }, { name: 'unit tests (JUnit)', ref: result.reportRef });
  if (result.scan) state.artifacts.scan = result.scan;
  const built = result.testImages && Object.keys(result.testImages).length ? result.testImages : undefined;
  if (built) state.artifacts.testImages = built;
  step.details = {
    summary: `unit tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped` +
      (coverage ? `; coverage ${coverage.percent}%` : '') +
      (built ? `; test images: ${Object.keys(built).join(', ')}` : ''),
    unitTests: { passed: t.passed, failed: t.failed, skipped: t.skipped }, logRef: result.logRef, reportRef: result.reportRef,
    ...(coverage ? { coverage } : {}),
    ...(result.scanRefs ? { scanReports: result.scanRefs } : {}),
    ...(built ? { testImages: built } : {}),
  };
};

/** The details an activity's ApplicationFailure carries (its first detail, when an object). */
function failureDetails(err: unknown): Record<string, unknown> | undefined {
  const failure = causeChain(err).find((c): c is ApplicationFailure => c instanceof ApplicationFailure);
  const detail = failure?.details?.[0];
  return typeof detail === 'object' && detail !== null ? detail as Record<string, unknown> : undefined;
}

/** Executions started before the scanners: the gates the unit test report measures. */
const unitTestGates: StepRunner = async (ctx, step) => {
  const tests = ctx.state.artifacts.unitTests;
  const metrics = [
    { kpi: 'unit_tests_failed', severity: 'critical', actualValue: String(tests?.failed ?? 0), expectedValue: '0', comparator: 'EQ', passed: (tests?.failed ?? 0) === 0 },
    { kpi: 'skipped_tests', severity: 'informational', actualValue: String(tests?.skipped ?? 0), expectedValue: '0', comparator: 'EQ', passed: (tests?.skipped ?? 0) === 0 },
  ];
  step.details = {
    summary: `evaluated ${metrics.length} metrics from the unit test report (no code scanners configured): ${metrics.filter((m) => m.passed).length} passed`,
    metrics, scanners: 'none configured',
  };
};

/**
 * Cloud Manager's three tiers over what the build's scanners measured (quality-gates.ts): a critical failure fails
 * the execution; informational ones are reported; important failures, per `importantMetricFailures`, fail it,
 * continue, or (ask) wait for an override listing every failing important metric, by a permitted role, or a reject.
 */
const codeQuality: StepRunner = async (ctx, step) => {
  const { config, state } = ctx;
  const quality = config.quality;
  if (!quality) return unitTestGates(ctx, step);
  const scan = state.artifacts.scan;
  const metrics = evaluateQualityMetrics({ scan, unitTests: state.artifacts.unitTests }, quality.thresholds);
  const critical = failing(metrics, 'critical');
  const important = failing(metrics, 'important');
  const info = failing(metrics, 'informational');
  const reports = state.steps.find((s) => s.action === 'build')?.details.scanReports as { sarif?: string[]; coverage?: string; duplication?: string } | undefined;
  for (const ref of reports?.sarif ?? []) state.artifacts.reports.push({ name: `SARIF (${ref.split('/').pop()})`, ref });
  if (reports?.coverage) state.artifacts.reports.push({ name: 'coverage', ref: reports.coverage });
  if (reports?.duplication) state.artifacts.reports.push({ name: 'duplicated lines', ref: reports.duplication });
  const issues = scan?.issues;
  const infoNote = info.length ? `; informational: ${info.map(describeMetric).join('; ')}` : '';
  step.details = {
    summary: '',
    metrics,
    ...(issues ? {
      ratings: { security: issues.securityRating, reliability: issues.reliabilityRating, maintainability: issues.maintainabilityRating },
      issues: { security: issues.security, reliability: issues.reliability, maintainability: issues.maintainability },
      technicalDebt: { minutes: issues.technicalDebtMinutes, ratio: issues.debtRatio, linesOfCode: issues.linesOfCode },
      scanners: issues.tools,
    } : {}),
    ...(scan?.coverage ? { coverage: scan.coverage } : {}),
    ...(scan?.duplication ? { duplication: scan.duplication } : {}),
    ...(scan?.missing.length ? { notFound: scan.missing } : {}),
    ...(reports?.sarif?.[0] ? { sarifRef: reports.sarif[0] } : {}),
    ...(reports?.coverage ? { coverageRef: reports.coverage } : {}),
    ...(reports?.duplication ? { duplicationRef: reports.duplication } : {}),
  };
  const notFound = scan?.missing.length ? ` (the build's /out lacks ${scan.missing.join(', ')})` : '';
  if (critical.length) {
    throw new StopExecution('FAILED', 'FAILED', `critical quality metric failed: ${critical.map(describeMetric).join('; ')}${notFound}`);
  }
  if (!important.length) {
    step.details.summary = `${metrics.length - info.length} of ${metrics.length} metrics passed; no critical or important failure${infoNote}`;
    return;
  }
  const list = important.map(describeMetric).join('; ');
  if (quality.importantMetricFailures === 'fail') {
    throw new StopExecution('FAILED', 'FAILED', `important quality metric(s) failed: ${list}${notFound} (importantMetricFailures: fail)`);
  }
  if (quality.importantMetricFailures === 'continue') {
    step.details.summary = `important metric(s) failed, continuing as configured (importantMetricFailures: continue): ${list}${infoNote}`;
    step.details.continued = true;
    return;
  }
  await awaitOverride(ctx, step, {
    gate: 'quality gate', noun: 'metric', metrics, important, roles: quality.overrideRoles, timeout: quality.overrideTimeout, note: infoNote,
  });
};

/**
 * A gate's important failures (codeQuality, securityTest, performanceTest): wait, with the gate's own limit, for an
 * `override` listing every failing important metric by an approver holding one of the gate's roles, or a reject.
 * A reject or the limit ends the execution (CANCELLED) with the reason; an override marks the metrics overridden.
 */
async function awaitOverride(ctx: StepContext, step: StepState, gate: {
  gate: string; noun: 'metric' | 'check'; metrics: Metric[]; important: Metric[]; roles: string[]; timeout: DurationSpec; note?: string;
}): Promise<void> {
  const { important, metrics, timeout, note = '' } = gate;
  const list = important.map(describeMetric).join('; ');
  const ids = important.map((m) => m.kpi);
  const approvers = ctx.config.approval.approvers;
  const allowed = approvers.length ? qualityOverriders(approvers, gate.roles) : [];
  const decision: ApprovalDecision = { approvedBy: [] };
  ctx.decisions.approvals[step.stepId] = decision;
  ctx.decisions.override = undefined;
  step.details.summary = `important ${gate.noun}(s) failed: ${list}; waiting for an override of ${ids.join(', ')} or a reject${note}`;
  const decided = await ctx.wait(step, { accepts: ['override', 'reject', 'cancel'], allowed, metrics: ids }, timeout,
    () => decision.rejected !== undefined || ctx.decisions.override !== undefined);
  if (!decided) {
    throw new StopExecution('CANCELLED', 'CANCELLED', `no override within ${timeout}: the ${gate.gate} timed out (failing: ${ids.join(', ')})`);
  }
  if (decision.rejected) {
    const { by, reason } = decision.rejected;
    step.details.decision = 'rejected';
    throw new StopExecution('CANCELLED', 'CANCELLED', `${gate.gate} rejected by ${by}${reason ? `: ${reason}` : ''} (failing: ${ids.join(', ')})`);
  }
  const override = ctx.decisions.override!;
  for (const m of metrics) if (!m.passed && override.metrics.includes(m.kpi)) m.override = true;
  Object.assign(step.details, {
    summary: `important ${gate.noun}(s) overridden by ${override.by}: ${list}${note}`,
    decision: 'overridden', overriddenBy: override.by, overriddenAt: override.at,
  });
}

const buildImage: StepRunner = async (ctx, step) => {
  const { config, state } = ctx;
  const which = config.type === 'webTier' ? 'dispatcher' : 'all';
  const result = await buildActivities.buildImages({
    pipelineId: state.pipelineId, executionId: state.id, repository: config.repository, commitId: state.commitId!,
    version: state.artifacts.version ?? state.commitId!.slice(0, 12), app: config.app, which,
    ...(state.trigger === 'PUSH_UPGRADES' ? { noCache: true } : {}),
  });
  state.artifacts.images = { app: result.images.app ?? { id: '', tag: '' }, dispatcher: result.images.dispatcher };
  state.artifacts.reports.push({ name: 'image build log', ref: result.logRef });
  step.details = {
    summary: which === 'all' ? `built ${result.images.app!.tag} and ${result.images.dispatcher.tag}` : `built ${result.images.dispatcher.tag}`,
    images: result.images, logRef: result.logRef,
  };
};

const deploy: StepRunner = async (ctx, step) => {
  const { config, state } = ctx;
  const envType = step.environmentType!;
  const environment = config.environments[envType];
  const images = state.artifacts.images;
  if (!images) throw new StopExecution('FAILED', 'FAILED', 'no images to deploy: the buildImage step did not run');
  const rolloutId = rolloutWorkflowId(state.pipelineId, state.id, envType);
  const rolling = executeChild(rollingDeployment, {
    workflowId: rolloutId,
    staticSummary: `Rolling deployment of ${state.pipelineId} execution ${state.id} to ${environment.name}`,
    args: [{
      pipelineId: state.pipelineId,
      executionId: state.id,
      environment,
      images: { app: images.app.id || undefined, dispatcher: images.dispatcher.id },
      app: {
        port: config.app.port, healthPath: config.app.healthPath,
        // Adobe Commerce's phases, when the app declares them (absent in executions started before they existed).
        ...(config.app.hooks ? { hooks: { deploy: config.app.hooks.deploy, postDeploy: config.app.hooks.postDeploy } } : {}),
        ...(config.app.mounts?.length ? { mounts: config.app.mounts } : {}),
        ...(config.app.readOnlyRootFilesystem ? { readOnlyRootFilesystem: true } : {}),
      },
      warmPages: config.cache.warmPages,
    }],
  });
  // Cancelling a child reaches only its first run (temporalio/features#503); a rollout that continued as new is
  // reached by its workflow id alone, which names the run in progress. It rolls back and ends CANCELLED as before.
  if (patched('cancel-rollout-by-workflow-id')) {
    CancellationScope.current().cancelRequested.catch(() => {
      void CancellationScope.nonCancellable(() => getExternalWorkflowHandle(rolloutId).cancel()).catch(() => undefined);
    });
  }
  const result = await rolling;
  state.urls[envType] = result.url;
  state.rollouts[envType] = result;
  if (result.status !== 'FINISHED') {
    throw new StopExecution('FAILED', result.status === 'ROLLED_BACK' ? 'ROLLED_BACK' : 'FAILED',
      `${environment.name} deployment ${result.status === 'ROLLED_BACK' ? 'rolled back' : 'failed'}: ${result.reason}`);
  }
  step.details = {
    summary: `${result.nodes.length} node(s) on the new images; serving ${result.url}`,
    url: result.url, nodes: result.nodes.map((n) => ({ name: n.name, images: n.currentImages })),
  };
};

const productTest: StepRunner = async (ctx, step) => {
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
const customTests = (kind: 'functional' | 'ui'): StepRunner => async (ctx, step) => {
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
const securityTest: StepRunner = async (ctx, step) => {
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
const performanceTest: StepRunner = async (ctx, step) => {
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
const contentAudit: StepRunner = async (ctx, step) => {
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

/**
 * approval and managed (Cloud Manager's managed review): wait for the required number of distinct approvals from
 * those allowed, or one reject. The one who started the execution never approves it.
 */
const approvalStep = (which: 'approval' | 'managed'): StepRunner => async (ctx, step) => {
  const { config, state } = ctx;
  const managed = config.approval.managedReview;
  const timeout = which === 'approval' ? config.approval.timeout : managed!.timeout;
  // `?? 1`: executions started before `required` existed carry configs without it (replay must agree).
  const required = which === 'approval' ? config.approval.required ?? 1 : 1;
  const allowed = which === 'approval' ? eligibleApprovers(state, config) : managed!.approvers.filter((n) => n !== state.user);
  const decision: ApprovalDecision = { approvedBy: [] };
  ctx.decisions.approvals[step.stepId] = decision;
  const decided = await ctx.wait(step, { accepts: ['approve', 'reject', 'cancel'], allowed, approvedBy: decision.approvedBy, required },
    timeout, () => decision.rejected !== undefined || decision.approvedBy.length >= required);
  const what = which === 'approval' ? 'approval' : 'managed review';
  if (!decided) {
    throw new StopExecution('CANCELLED', 'CANCELLED',
      `no ${what} decision within ${timeout}` + (decision.approvedBy.length ? ` (${decision.approvedBy.length} of ${required} approvals)` : '') + `: the ${what} timed out`);
  }
  if (decision.rejected) {
    const { by, reason } = decision.rejected;
    step.details = { summary: `rejected by ${by}`, decision: 'rejected', by, reason };
    throw new StopExecution('CANCELLED', 'CANCELLED', `${which === 'approval' ? '' : 'managed review '}rejected by ${by}${reason ? `: ${reason}` : ''}`);
  }
  step.details = {
    summary: `approved by ${decision.approvedBy.join(', ')}`, decision: 'approved', by: decision.approvedBy.join(', '),
    approvedBy: decision.approvedBy, required,
  };
};

const schedule: StepRunner = async (ctx, step) => {
  const allowed = ctx.config.approval.approvers.map((a) => a.name);
  const got = await ctx.wait(step, { accepts: ['schedule', 'cancel'], allowed }, ctx.config.schedule.timeout,
    () => ctx.decisions.schedule !== undefined);
  if (!got) throw new StopExecution('CANCELLED', 'CANCELLED', `no schedule within ${ctx.config.schedule.timeout}: the schedule step timed out`);
  // A durable timer until the scheduled time; a new `schedule` while it runs replaces it. Rescheduling stays bound
  // by the step's original waiting limit.
  const limit = ctx.state.waiting?.expiresAt ?? new Date(ctx.nowMs()).toISOString();
  for (;;) {
    const request = ctx.decisions.schedule!;
    const version = request.version;
    const at = request.now ? ctx.nowMs() : Date.parse(request.at!);
    step.details = { summary: request.now ? `deploy now (by ${request.by})` : `scheduled for ${request.at} by ${request.by}`, scheduledBy: request.by, scheduledAt: new Date(at).toISOString() };
    const delay = at - ctx.nowMs();
    if (delay <= 0) return;
    const rescheduled = await ctx.wait(step, { accepts: ['schedule', 'cancel'], allowed, scheduledAt: new Date(at).toISOString() }, delay,
      () => ctx.decisions.schedule!.version !== version, limit);
    if (!rescheduled) return;
  }
};

export const STEP_RUNNERS: Record<StepAction, StepRunner> = {
  validate, build, codeQuality, buildImage, deploy, productTest,
  functionalTest: customTests('functional'), uiTest: customTests('ui'), securityTest, performanceTest, contentAudit,
  approval: approvalStep('approval'), managed: approvalStep('managed'), schedule,
};
