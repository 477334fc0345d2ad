/**
 * What each step action does. A runner records what it did in `step.details` (with a one-line `summary` for the Web
 * UI) and throws to fail; the execution loop owns statuses and times.
 */
import { executeChild } from '@temporalio/workflow';
import { rolloutWorkflowId } from '../../shared/ids';
import type { ScheduleRequest } from '../../shared/messages';
import type { ExecutionState, PipelineConfig, StepAction, StepState, WaitingState } from '../../shared/types';
import { buildActivities, quickActivities, stageTestActivities } from '../activity-profiles';
import { rollingDeployment } from '../rolling-deployment';
import type { ExecutionInput } from './state';
import { eligibleApprovers } from './message-rules';

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
  const engines = await quickActivities.checkDockerEngines({ environments: [config.environments.stage, config.environments.prod] });
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
  const result = await buildActivities.buildAndTest({
    pipelineId: state.pipelineId, executionId: state.id, repository: config.repository, commitId: state.commitId!, app: config.app,
    ...(state.trigger === 'PUSH_UPGRADES' ? { noCache: true } : {}),
  });
  state.artifacts.unitTests = { ...result.unitTests, reportRef: result.reportRef };
  state.artifacts.reports.push({ name: 'build log', ref: result.logRef }, { name: 'unit tests (JUnit)', ref: result.reportRef });
  const t = result.unitTests;
  step.details = {
    summary: `unit tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`,
    unitTests: { passed: t.passed, failed: t.failed, skipped: t.skipped }, logRef: result.logRef, reportRef: result.reportRef,
  };
};

const codeQuality: StepRunner = async (ctx, step) => {
  // No scanners run yet: the gates evaluated here are those the unit test report measures.
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
  const result = await executeChild(rollingDeployment, {
    workflowId: rolloutWorkflowId(state.pipelineId, state.id, envType),
    staticSummary: `Rolling deployment of ${state.pipelineId} execution ${state.id} to ${environment.name}`,
    args: [{
      pipelineId: state.pipelineId,
      executionId: state.id,
      environment,
      images: { app: images.app.id || undefined, dispatcher: images.dispatcher.id },
      app: { port: config.app.port, healthPath: config.app.healthPath },
      warmPages: config.cache.warmPages,
    }],
  });
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

const customTests = (kind: 'functional' | 'ui'): StepRunner => async (ctx, step) => {
  const result = await stageTestActivities.customTests({ repository: ctx.config.repository, commitId: ctx.state.commitId!, kind });
  step.details = { summary: `passed: ${result.reason}`, ran: result.ran };
};

const contentAudit: StepRunner = async (ctx, step) => {
  if (ctx.state.mode === 'EMERGENCY') {
    step.details = { summary: 'skipped: emergency mode skips the content audit', skipped: true };
    return;
  }
  const result = await stageTestActivities.contentAudit({ baseUrl: ctx.state.urls.stage!, pages: ctx.config.audit.pages });
  step.details = {
    summary: `measured ${result.pages.length} page(s) of Stage (response time and size; Lighthouse scoring not run)`,
    pages: result.pages,
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
  functionalTest: customTests('functional'), uiTest: customTests('ui'), contentAudit,
  approval: approvalStep('approval'), managed: approvalStep('managed'), schedule,
};
