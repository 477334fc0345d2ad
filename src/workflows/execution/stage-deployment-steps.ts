/**
 * The stage deployment phase's runners before the rollout: validate, build (or copy a previous execution's
 * artifacts), the code quality gate and the image build. The deploy step itself is deploy-step.ts.
 */
import { workflowInfo } from '@temporalio/workflow';
import { quickActivities, buildActivities } from '../activity-profiles';
import { describeMetric, evaluateQualityMetrics, failing } from './quality-gates';
import { awaitOverride } from './override';
import { commitAuthorStarter } from './roles';
import { StopExecution, failureDetails, type StepRunner } from './step-context';

export const validate: StepRunner = async (ctx, step) => {
  const { config } = ctx;
  if (ctx.input.reExecuteOf) {
    if (!ctx.input.reExecuteOf.artifacts.images) throw new StopExecution('FAILED', 'FAILED', `execution ${ctx.input.reExecuteOf.executionId} has no images to deploy again`);
  }
  const engines = await quickActivities.checkDockerEngines({ environments: [config.environments.stage, config.environments.prod], pipelineId: config.id });
  const resolved = await quickActivities.resolveBranch({ repository: config.repository, branch: config.branch, pinnedCommit: ctx.input.pinnedCommit });
  if (!ctx.input.reExecuteOf) {
    ctx.state.commitId = resolved.commitId;
    ctx.state.artifacts.version = resolved.version;
    if (resolved.committedAt) ctx.state.commitTime = resolved.committedAt;
  }
  // A commit starts an ON_COMMIT execution: its author is the starter (who then may not approve it), never the caller.
  const author = ctx.state.trigger === 'ON_COMMIT' ? resolved.authorEmail?.trim() : undefined;
  if (author) ctx.state.user = commitAuthorStarter(config, author);
  step.details = {
    summary: `config valid; ${ctx.input.pinnedCommit ? `push update of ${resolved.commitId.slice(0, 12)}` : `${config.branch} at ${resolved.commitId.slice(0, 12)}`}; ${engines.engines.length} Docker engine(s) answer` +
      (author ? `; started by ${ctx.state.user} (the commit's author${ctx.state.user.includes(author) ? '' : `, ${author}`})` : ''),
    repository: config.repository, branch: config.branch, commitId: resolved.commitId, version: resolved.version,
    dockerEngines: engines.engines, ...(author ? { authorEmail: author, starter: ctx.state.user } : {}),
  };
};

export const build: StepRunner = async (ctx, step) => {
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
      pipelineId: state.pipelineId, executionId: state.id, runId: workflowInfo().firstExecutionRunId, repository: config.repository,
      commitId: state.commitId!, app: config.app,
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
export const codeQuality: StepRunner = async (ctx, step) => {
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

export const buildImage: StepRunner = async (ctx, step) => {
  const { config, state } = ctx;
  const which = config.type === 'webTier' ? 'dispatcher' : 'all';
  const result = await buildActivities.buildImages({
    pipelineId: state.pipelineId, executionId: state.id, runId: workflowInfo().firstExecutionRunId, repository: config.repository,
    commitId: state.commitId!, version: state.artifacts.version ?? state.commitId!.slice(0, 12), app: config.app, which,
    ...(state.trigger === 'PUSH_UPGRADES' ? { noCache: true } : {}),
  });
  state.artifacts.images = { app: result.images.app ?? { id: '', tag: '' }, dispatcher: result.images.dispatcher };
  state.artifacts.reports.push({ name: 'image build log', ref: result.logRef });
  step.details = {
    summary: which === 'all' ? `built ${result.images.app!.tag} and ${result.images.dispatcher.tag}` : `built ${result.images.dispatcher.tag}`,
    images: result.images, logRef: result.logRef,
  };
};
