/**
 * Pure mapping from Stagecoach's state (the `state` queries of the execution and pipeline workflows) to the HTTP
 * API's representations, shaped like Cloud Manager's PipelineExecution, PipelineExecutionStepState,
 * PipelineExecutionListRepresentation and PipelineStepMetrics, with HAL `_links` present only when the action is
 * allowed right now. No I/O: every function here is unit-tested on plain objects.
 */
import { artifactRefs, type ArtifactRef } from '../client/artifact-refs';
import { executionRef } from '../config/paths';
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
  executionId: 'http://ns.adobe.com/adobecloud/rel/execution/id',
  executions: 'http://ns.adobe.com/adobecloud/rel/executions',
  program: 'http://ns.adobe.com/adobecloud/rel/program',
  pipeline: 'http://ns.adobe.com/adobecloud/rel/pipeline',
  pipelines: 'http://ns.adobe.com/adobecloud/rel/pipelines',
  environments: 'http://ns.adobe.com/adobecloud/rel/environments',
  publish: 'http://ns.adobe.com/adobecloud/rel/publish',
} as const;

/**
 * A HAL link. `href` is an absolute path: Cloud Manager's clients (aio-lib-cloudmanager) prepend their base URL to
 * every link they follow. `templated` is always present, as Cloud Manager writes it.
 */
export interface HalLink { href: string; templated: boolean }
export type Links = Record<string, HalLink>;

/** The program a request named: Stagecoach has no programs, so any id is accepted and echoed in every link. */
export interface LinkContext { programId: string }

const enc = encodeURIComponent;

const link = (href: string, templated = false): HalLink => ({ href, templated });

export const paths = {
  program: (c: LinkContext) => `/api/program/${enc(c.programId)}`,
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

/** Unique across pipelines and executions, as Cloud Manager's step state ids are; `stepId` names the step. */
export function stepStateId(state: Pick<ExecutionState, 'pipelineId' | 'id'>, step: Pick<StepState, 'id'>): string {
  return `${state.pipelineId}.${state.id}.${step.id}`;
}

/** Cloud Manager's name for an action where it has its own: its performance test step is `loadTest`. */
export function cloudManagerAction(action: string): string {
  return action === 'performanceTest' ? 'loadTest' : action;
}

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

/** Steps whose log the worker writes line by line while they run, so that it can be read (tailed) before they end. */
const STREAMED_LOG_STEPS: readonly string[] = ['build', 'buildImage'];

export function logFilesOf(state: ExecutionState, step: StepState): Array<ArtifactRef & { file: string }> {
  const files = artifactRefs(state, step.stepId).map((a) => ({ ...a, file: a.ref.split('/').pop() ?? a.ref }));
  if (files.length || step.status !== 'RUNNING' || !STREAMED_LOG_STEPS.includes(step.action)) return files;
  const ref = executionRef(state.pipelineId, state.id, `${step.stepId}/build.log`);
  return [{ ref, name: `${step.stepId} log (live)`, step: step.stepId, file: 'build.log' }];
}

/** Lighthouse's categories, reported by contentAudit as Cloud Manager reports its Experience Audit: informational. */
const LIGHTHOUSE_CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'] as const;

export function metricsOf(step: StepState): unknown[] | undefined {
  const metrics = step.details?.metrics;
  if (Array.isArray(metrics)) return metrics;
  const scores = step.details?.scores as Partial<Record<string, number | null>> | undefined;
  if (step.action !== 'contentAudit' || !scores || typeof scores !== 'object') return undefined;
  const scored = LIGHTHOUSE_CATEGORIES.filter((c) => typeof scores[c] === 'number');
  // An audit that could not score (no Chromium, Stage unreachable) has no metrics, as a step that measured nothing.
  if (!scored.length) return undefined;
  return scored.map((c) => ({
    id: `lighthouse_${c}`, kpi: `lighthouse_${c}`, severity: 'informational', passed: true, override: false, actualValue: String(scores[c]),
  }));
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
  const links: Links = {
    self: link(self),
    [REL.execution]: link(paths.execution(c, state.pipelineId, state.id)),
    [REL.pipeline]: link(paths.pipeline(c, state.pipelineId)),
    [REL.program]: link(paths.program(c)),
  };
  if (!advanceProblem(state, step)) links[REL.advance] = link(`${self}/advance`);
  // Offered on the step the execution is at (Cloud Manager's place for it); the route accepts any step.
  if (!cancelRefusal(state) && currentStepOf(state)?.stepId === step.stepId) links[REL.cancel] = link(`${self}/cancel`);
  if (isProdDeploy(step) && !reExecuteLinkProblem(state, pipeline)) links[REL.reExecute] = link(`${self}/reExecute`);
  if (logFilesOf(state, step).length) links[REL.logs] = link(`${self}/logs`);
  if (metricsOf(step)) links[REL.metrics] = link(`${self}/metrics`);
  return links;
}

export function toStepState(state: ExecutionState, step: StepState, c: LinkContext, pipeline?: PipelineState): StepStateRepresentation {
  const details: Record<string, unknown> = { ...step.details };
  if (step.environmentType && state.urls?.[step.environmentType] && step.action === 'deploy') {
    // Cloud Manager's deploy step details name the environment's URLs.
    details.environmentUrls = [{ instanceType: 'publish', instanceUrl: state.urls[step.environmentType] }];
  }
  return {
    id: stepStateId(state, step),
    stepId: step.stepId,
    phaseId: step.phaseId,
    action: cloudManagerAction(step.action),
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
      self: link(paths.execution(c, state.pipelineId, state.id)),
      [REL.executions]: link(paths.executions(c, state.pipelineId)),
      [REL.pipeline]: link(paths.pipeline(c, state.pipelineId)),
      [REL.program]: link(paths.program(c)),
    } as Links,
  };
}
export type PipelineExecutionRepresentation = ReturnType<typeof toPipelineExecution>;

/**
 * A list item: the pipeline workflow's summary of an execution (the full representation is at its self link), with
 * the mode and the last change from the execution's own state when the caller has it (the summary has neither).
 */
export function toExecutionSummary(pipelineId: string, s: ExecutionSummary, c: LinkContext, state?: ExecutionState) {
  const updatedAt = state?.updatedAt ?? s.finishedAt ?? s.createdAt;
  return {
    id: s.id,
    programId: c.programId,
    pipelineId,
    ...(s.artifacts?.version ? { artifactsVersion: s.artifacts.version } : {}),
    user: s.user,
    status: state?.status ?? s.status,
    trigger: s.trigger,
    ...(state ? { pipelineExecutionMode: state.mode } : {}),
    createdAt: s.createdAt,
    updatedAt,
    ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
    pipelineType: 'CI_CD',
    ...(s.commitId ?? state?.commitId ? { commitId: s.commitId ?? state?.commitId } : {}),
    ...(s.prodDeployStatus ? { prodDeployStatus: s.prodDeployStatus } : {}),
    _links: {
      self: link(paths.execution(c, pipelineId, s.id)),
      [REL.pipeline]: link(paths.pipeline(c, pipelineId)),
      [REL.program]: link(paths.program(c)),
    } as Links,
  };
}

export const DEFAULT_PAGE_LIMIT = 20;
export const MAX_PAGE_LIMIT = 100;

/** The executions of a pipeline, newest first: the running one, then the recent ones the pipeline workflow keeps. */
function executionsNewestFirst(pipeline: PipelineState | undefined): ExecutionSummary[] {
  const all: ExecutionSummary[] = [...(pipeline?.executions ?? [])].reverse();
  if (pipeline?.running && !all.some((e) => e.id === pipeline.running!.id)) all.unshift(pipeline.running);
  return all;
}

/** The ids of the executions on one page (whose states the caller reads for the list items). */
export function executionPageIds(pipeline: PipelineState | undefined, page: { start: number; limit: number }): string[] {
  return executionsNewestFirst(pipeline).slice(page.start, page.start + page.limit).map((e) => e.id);
}

/** `limit` as Cloud Manager takes it: clamped to 1..MAX_PAGE_LIMIT rather than refused. */
export function clampLimit(limit: number): number {
  return Math.min(MAX_PAGE_LIMIT, Math.max(1, Math.trunc(limit)));
}

/**
 * A page of a pipeline's executions, paginated with `start` and `limit` as Cloud Manager does. `states` are the
 * executions' own states where the caller could read them (status, mode, last change).
 */
export function toExecutionList(
  pipelineId: string, pipeline: PipelineState | undefined, c: LinkContext, page: { start: number; limit: number },
  states: ReadonlyMap<string, ExecutionState> = new Map(),
) {
  const all = executionsNewestFirst(pipeline);
  const items = all.slice(page.start, page.start + page.limit);
  const base = paths.executions(c, pipelineId);
  const href = (start: number) => `${base}?start=${start}&limit=${page.limit}`;
  const next = page.start + page.limit < all.length ? page.start + page.limit : undefined;
  const prev = page.start > 0 ? Math.max(0, page.start - page.limit) : undefined;
  const links: Links = { self: link(href(page.start)), page: link(`${base}{?start,limit}`, true) };
  if (next !== undefined) links.next = link(href(next));
  if (prev !== undefined) links.prev = link(href(prev));
  return {
    _totalNumberOfItems: all.length,
    _page: { start: page.start, limit: page.limit, ...(next !== undefined ? { next } : {}), ...(prev !== undefined ? { prev } : {}) },
    _embedded: { executions: items.map((s) => toExecutionSummary(pipelineId, s, c, states.get(s.id))) },
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
