/**
 * Pure mapping from Stagecoach's state (the `state` queries of the execution and pipeline workflows) to the HTTP
 * API's representations, shaped like Cloud Manager's PipelineExecution, PipelineExecutionStepState,
 * PipelineExecutionListRepresentation and PipelineStepMetrics, with HAL `_links` present only when the action is
 * allowed right now. No I/O: every function here is unit-tested on plain objects.
 */
import { artifactRefs, type ArtifactRef } from '../client/artifact-refs';
import { Refusal, type RefusalType } from '../shared/errors';
import type { ExecutionAction } from '../shared/messages';
import { cancelRefusal, reExecuteRefusal } from '../shared/refusals';
import { isTerminal, type ExecutionState, type ExecutionSummary, type PipelineState, type StepState, type StepStatus } from '../shared/types';

/** Cloud Manager's link relations. */
export const REL = {
  advance: 'http://ns.adobe.com/adobecloud/rel/pipeline/advance',
  cancel: 'http://ns.adobe.com/adobecloud/rel/pipeline/cancel',
  reExecute: 'http://ns.adobe.com/adobecloud/rel/pipeline/reExecute',
  logs: 'http://ns.adobe.com/adobecloud/rel/pipeline/logs',
  metrics: 'http://ns.adobe.com/adobecloud/rel/pipeline/metrics',
  execution: 'http://ns.adobe.com/adobecloud/rel/execution',
  executions: 'http://ns.adobe.com/adobecloud/rel/executions',
} as const;

export interface HalLink { href: string; templated?: boolean }
export type Links = Record<string, HalLink>;

/** The program a request named: Stagecoach has no programs, so any id is accepted and echoed in every link. */
export interface LinkContext { programId: string }

const enc = encodeURIComponent;

export const paths = {
  pipeline: (c: LinkContext, pipelineId: string) => `/api/program/${enc(c.programId)}/pipeline/${enc(pipelineId)}`,
  executions: (c: LinkContext, pipelineId: string) => `${paths.pipeline(c, pipelineId)}/executions`,
  execution: (c: LinkContext, pipelineId: string, executionId: string) => `${paths.pipeline(c, pipelineId)}/execution/${enc(executionId)}`,
  step: (c: LinkContext, pipelineId: string, executionId: string, step: Pick<StepState, 'phaseId' | 'stepId'>) =>
    `${paths.execution(c, pipelineId, executionId)}/phase/${enc(step.phaseId)}/step/${enc(step.stepId)}`,
};

// ---------------------------------------------------------------------------------------------------------------
// What is allowed right now

/** Messages the advance link stands for: whatever the waiting step accepts, except cancel. */
const ADVANCE_MESSAGES: ExecutionAction[] = ['approve', 'reject', 'schedule', 'override'];

export function isProdDeploy(step: Pick<StepState, 'action' | 'environmentType'>): boolean {
  return step.action === 'deploy' && step.environmentType === 'prod';
}

/** Why `advance` is not possible on this step now (undefined: it is). */
export function advanceProblem(state: ExecutionState, step: StepState): string | undefined {
  if (isTerminal(state.status)) return `execution ${state.id} has ended (${state.status}): nothing waits`;
  const waiting = state.waiting;
  if (!waiting) return `execution ${state.id} is not waiting for user input (current step: ${currentStepOf(state)?.action ?? 'none'})`;
  if (waiting.stepId !== step.stepId) return `execution ${state.id} waits at step ${waiting.stepId}, not at ${step.stepId}`;
  if (!waiting.accepts.some((a) => ADVANCE_MESSAGES.includes(a as ExecutionAction))) {
    return `step ${step.stepId} of execution ${state.id} has been decided; it only accepts ${waiting.accepts.join(', ') || 'nothing'} now`;
  }
  return undefined;
}

/** The step a running execution is at (the first step before it has begun). */
export function currentStepOf(state: ExecutionState): StepState | undefined {
  return state.steps.find((s) => s.stepId === state.currentStepId) ?? (state.currentStepId ? undefined : state.steps[0]);
}

/**
 * Why this execution cannot be re-executed now (undefined: it can): the same rules as the pipeline workflow's
 * (`reExecuteRefusal`), on the pipeline's state as its `state` query answers it.
 */
export function reExecuteLinkProblem(state: ExecutionState, pipeline: PipelineState | undefined): string | undefined {
  if (!pipeline) return `the state of pipeline ${state.pipelineId} is unknown`;
  return reExecuteRefusal(pipeline, pipeline.running !== undefined, { by: '', executionId: state.id })?.message;
}

export function logFilesOf(state: ExecutionState, step: StepState): Array<ArtifactRef & { file: string }> {
  return artifactRefs(state, step.stepId).map((a) => ({ ...a, file: a.ref.split('/').pop() ?? a.ref }));
}

export function metricsOf(step: StepState): unknown[] | undefined {
  const metrics = step.details?.metrics;
  return Array.isArray(metrics) ? metrics : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Representations

export interface StepStateRepresentation {
  id: string;
  stepId: string;
  phaseId: string;
  action: string;
  repository: string;
  branch: string;
  commitId?: string;
  environment?: string;
  environmentType?: string;
  startedAt?: string;
  finishedAt?: string;
  status: StepStatus;
  details: Record<string, unknown>;
  /** The execution's trigger, repeated so that a step state read on its own says how its execution began. */
  trigger: string;
  _links: Links;
}

export function stepLinks(state: ExecutionState, step: StepState, c: LinkContext, pipeline?: PipelineState): Links {
  const self = paths.step(c, state.pipelineId, state.id, step);
  const links: Links = { self: { href: self }, [REL.execution]: { href: paths.execution(c, state.pipelineId, state.id) } };
  if (!advanceProblem(state, step)) links[REL.advance] = { href: `${self}/advance` };
  // Offered on the step the execution is at (Cloud Manager's place for it); the route accepts any step.
  if (!cancelRefusal(state) && currentStepOf(state)?.stepId === step.stepId) links[REL.cancel] = { href: `${self}/cancel` };
  if (isProdDeploy(step) && !reExecuteLinkProblem(state, pipeline)) links[REL.reExecute] = { href: `${self}/reExecute` };
  if (logFilesOf(state, step).length) links[REL.logs] = { href: `${self}/logs` };
  if (metricsOf(step)) links[REL.metrics] = { href: `${self}/metrics` };
  return links;
}

export function toStepState(state: ExecutionState, step: StepState, c: LinkContext, pipeline?: PipelineState): StepStateRepresentation {
  const details: Record<string, unknown> = { ...step.details };
  if (step.environmentType && state.urls?.[step.environmentType] && step.action === 'deploy') {
    // Cloud Manager's deploy step details name the environment's URLs.
    details.environmentUrls = [{ instanceType: 'publish', instanceUrl: state.urls[step.environmentType] }];
  }
  return {
    id: step.id,
    stepId: step.stepId,
    phaseId: step.phaseId,
    action: step.action,
    repository: state.repository,
    branch: state.branch,
    ...(state.commitId ? { commitId: state.commitId } : {}),
    ...(step.environment ? { environment: step.environment } : {}),
    ...(step.environmentType ? { environmentType: step.environmentType } : {}),
    ...(step.startedAt ? { startedAt: step.startedAt } : {}),
    ...(step.finishedAt ? { finishedAt: step.finishedAt } : {}),
    status: step.status,
    details,
    trigger: state.trigger,
    _links: stepLinks(state, step, c, pipeline),
  };
}

/** A phase's status from its steps: the first step that is neither finished nor untouched says it. */
export function phaseStatus(steps: StepState[], executionStatus: string): StepStatus {
  if (steps.every((s) => s.status === 'NOT_STARTED')) return 'NOT_STARTED';
  if (steps.every((s) => s.status === 'FINISHED')) return 'FINISHED';
  const telling = steps.find((s) => s.status !== 'FINISHED' && s.status !== 'NOT_STARTED');
  if (telling) return telling.status;
  return isTerminal(executionStatus) ? 'NOT_STARTED' : 'RUNNING';
}

export function toPipelineExecution(state: ExecutionState, c: LinkContext, pipeline?: PipelineState) {
  const phaseIds = [...new Set(state.steps.map((s) => s.phaseId))];
  return {
    id: state.id,
    programId: c.programId,
    pipelineId: state.pipelineId,
    ...(state.artifacts?.version ? { artifactsVersion: state.artifacts.version } : {}),
    user: state.user,
    status: state.status,
    trigger: state.trigger,
    pipelineExecutionMode: state.mode,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    ...(state.finishedAt ? { finishedAt: state.finishedAt } : {}),
    pipelineType: 'CI_CD',
    // Stagecoach's additions to Cloud Manager's representation.
    stagecoachPipelineType: state.pipelineType,
    repository: state.repository,
    branch: state.branch,
    ...(state.commitId ? { commitId: state.commitId } : {}),
    ...(state.reason ? { reason: state.reason } : {}),
    ...(state.reExecutionOf ? { reExecutionOf: state.reExecutionOf } : {}),
    ...(state.waiting ? { waiting: state.waiting } : {}),
    ...(state.artifacts?.images ? { images: state.artifacts.images } : {}),
    environmentUrls: state.urls ?? {},
    phases: phaseIds.map((phaseId) => {
      const steps = state.steps.filter((s) => s.phaseId === phaseId);
      return { phaseId, status: phaseStatus(steps, state.status), stepIds: steps.map((s) => s.stepId) };
    }),
    audit: state.audit ?? [],
    _embedded: { stepStates: state.steps.map((s) => toStepState(state, s, c, pipeline)) },
    _links: {
      self: { href: paths.execution(c, state.pipelineId, state.id) },
      [REL.executions]: { href: paths.executions(c, state.pipelineId) },
    } as Links,
  };
}
export type PipelineExecutionRepresentation = ReturnType<typeof toPipelineExecution>;

/** A list item: the pipeline workflow's summary of an execution (the full representation is at its self link). */
export function toExecutionSummary(pipelineId: string, s: ExecutionSummary, c: LinkContext) {
  return {
    id: s.id,
    programId: c.programId,
    pipelineId,
    ...(s.artifacts?.version ? { artifactsVersion: s.artifacts.version } : {}),
    user: s.user,
    status: s.status,
    trigger: s.trigger,
    createdAt: s.createdAt,
    ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
    pipelineType: 'CI_CD',
    ...(s.commitId ? { commitId: s.commitId } : {}),
    ...(s.prodDeployStatus ? { prodDeployStatus: s.prodDeployStatus } : {}),
    _links: { self: { href: paths.execution(c, pipelineId, s.id) } } as Links,
  };
}

export const DEFAULT_PAGE_LIMIT = 20;
export const MAX_PAGE_LIMIT = 100;

/**
 * The executions of a pipeline, newest first (the running one, then the recent ones the pipeline workflow keeps),
 * paginated with `start` and `limit` as Cloud Manager does. `running` overrides the running summary's status with the
 * execution's own state when the caller has it.
 */
export function toExecutionList(
  pipelineId: string, pipeline: PipelineState | undefined, c: LinkContext, page: { start: number; limit: number },
  running?: ExecutionState,
) {
  const all: ExecutionSummary[] = [...(pipeline?.executions ?? [])].reverse();
  if (pipeline?.running && !all.some((e) => e.id === pipeline.running!.id)) {
    const r = pipeline.running;
    all.unshift(running?.id === r.id ? { ...r, status: running.status, commitId: running.commitId, artifacts: running.artifacts } : r);
  }
  const items = all.slice(page.start, page.start + page.limit);
  const base = paths.executions(c, pipelineId);
  const href = (start: number) => `${base}?start=${start}&limit=${page.limit}`;
  const next = page.start + page.limit < all.length ? page.start + page.limit : undefined;
  const prev = page.start > 0 ? Math.max(0, page.start - page.limit) : undefined;
  const links: Links = { self: { href: href(page.start) }, page: { href: `${base}{?start,limit}`, templated: true } };
  if (next !== undefined) links.next = { href: href(next) };
  if (prev !== undefined) links.prev = { href: href(prev) };
  return {
    _totalNumberOfItems: all.length,
    _page: { start: page.start, limit: page.limit, ...(next !== undefined ? { next } : {}), ...(prev !== undefined ? { prev } : {}) },
    _embedded: { executions: items.map((s) => toExecutionSummary(pipelineId, s, c)) },
    _links: links,
  };
}

/** Cloud Manager's Metric, from what a step recorded in `details.metrics`. */
export function toMetrics(step: StepState) {
  const metrics = (metricsOf(step) ?? []) as Array<Record<string, unknown>>;
  return {
    metrics: metrics.map((m) => {
      const kpi = typeof m.kpi === 'string' ? m.kpi : typeof m.id === 'string' ? m.id : '';
      return {
        id: typeof m.id === 'string' ? m.id : kpi,
        kpi,
        severity: typeof m.severity === 'string' ? m.severity : 'informational',
        passed: m.passed === true,
        override: m.override === true,
        ...(m.actualValue !== undefined ? { actualValue: String(m.actualValue) } : {}),
        ...(m.expectedValue !== undefined ? { expectedValue: String(m.expectedValue) } : {}),
        ...(typeof m.comparator === 'string' ? { comparator: m.comparator } : {}),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Request bodies

export type AdvanceOutcome =
  | { ok: true; action: Exclude<ExecutionAction, 'cancel'>; request: Record<string, unknown> }
  | { ok: false; type: RefusalType; detail: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalText(body: Record<string, unknown>, key: string): string | undefined | { problem: string } {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > 1000) return { problem: `"${key}" must be a string of at most 1000 characters` };
  return v;
}

/**
 * Which message an advance body means at the step the execution waits at, with Cloud Manager's bodies:
 * - approval (and managed review): `{ "approved": true }` approves, `{ "approved": false, "reason"?: ... }` rejects;
 * - schedule: `{ "schedule": "now" }` or `{ "schedule": "<ISO 8601 time>" }`;
 * - a gate's override (codeQuality, securityTest, performanceTest): `{ "metrics": [{ "kpi": "<id>", "override": true }, ...] }`
 *   (plain ids are accepted too); `{ "approved": false, "reason"?: ... }` rejects at the gate.
 * The user (`by`) comes from the token, never from the body.
 */
export function advanceMessage(state: ExecutionState, step: StepState, body: unknown): AdvanceOutcome {
  const problem = advanceProblem(state, step);
  if (problem) return { ok: false, type: Refusal.NotWaiting, detail: problem };
  const accepts = state.waiting!.accepts;
  if (!isObject(body)) return { ok: false, type: Refusal.InvalidRequest, detail: `advance needs a JSON object body; ${expectedBody(accepts)}` };
  // A gate waiting for an override also accepts a reject: the body says which.
  const gate = accepts.includes('override');
  if ((accepts.includes('approve') || accepts.includes('reject')) && !(gate && body.approved === undefined)) {
    if (typeof body.approved !== 'boolean') return { ok: false, type: Refusal.InvalidRequest, detail: `step ${step.stepId} waits for an approval decision; ${expectedBody(accepts)}` };
    const comment = optionalText(body, body.approved ? 'comment' : 'reason');
    if (isObject(comment)) return { ok: false, type: Refusal.InvalidRequest, detail: comment.problem as string };
    if (body.approved && !accepts.includes('approve')) {
      return { ok: false, type: Refusal.InvalidRequest, detail: `step ${step.stepId} waits for an override of its failing metrics, not an approval; ${expectedBody(accepts)}` };
    }
    if (body.approved) return { ok: true, action: 'approve', request: comment !== undefined ? { comment } : {} };
    return { ok: true, action: 'reject', request: comment !== undefined ? { reason: comment } : {} };
  }
  if (accepts.includes('schedule')) {
    const when = body.schedule;
    if (when === 'now') return { ok: true, action: 'schedule', request: { now: true } };
    if (typeof when === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(when) && !Number.isNaN(Date.parse(when))) {
      return { ok: true, action: 'schedule', request: { at: new Date(Date.parse(when)).toISOString() } };
    }
    return { ok: false, type: Refusal.InvalidRequest, detail: `step ${step.stepId} waits for a schedule; ${expectedBody(accepts)} (got ${JSON.stringify(when) ?? 'nothing'})` };
  }
  if (accepts.includes('override')) {
    const metrics = body.metrics;
    if (!Array.isArray(metrics) || !metrics.length) return { ok: false, type: Refusal.InvalidRequest, detail: `step ${step.stepId} waits for an override of its failing metrics; ${expectedBody(accepts)}` };
    const ids: string[] = [];
    for (const m of metrics) {
      if (typeof m === 'string' && m) ids.push(m);
      else if (isObject(m) && typeof (m.kpi ?? m.id) === 'string') {
        if (m.override !== false) ids.push(String(m.kpi ?? m.id));
      } else return { ok: false, type: Refusal.InvalidRequest, detail: `each metric is {"kpi": "<id>", "override": true} or a metric id (got ${JSON.stringify(m)})` };
    }
    if (!ids.length) return { ok: false, type: Refusal.InvalidRequest, detail: 'no metric is overridden ("override": true on at least one)' };
    return { ok: true, action: 'override', request: { metrics: ids } };
  }
  return { ok: false, type: Refusal.NotWaiting, detail: `step ${step.stepId} accepts ${accepts.join(', ')} only` };
}

export function expectedBody(accepts: string[]): string {
  if (accepts.includes('override')) {
    return 'send {"metrics": [{"kpi": "<metric id>", "override": true}]}' + (accepts.includes('reject') ? ' to override, or {"approved": false, "reason": "..."} to reject' : '');
  }
  if (accepts.includes('approve') || accepts.includes('reject')) return 'send {"approved": true} to approve or {"approved": false, "reason": "..."} to reject';
  if (accepts.includes('schedule')) return 'send {"schedule": "now"} or {"schedule": "<ISO 8601 time, e.g. 2030-01-31T22:00:00Z>"}';
  return 'nothing to send';
}
