/**
 * Execution and step events as CloudEvents (structured JSON) carrying Cloud Manager's event body
 * (its pipeline execution and step events). Built in workflow code: pure and deterministic (ids from a sequence).
 * A webhook of `format: cloudmanager` receives that body alone, as Adobe I/O Events delivers it.
 */
import type { HealRecord, KeeperRelease, ScaleRecord } from './keeper';
import type { EnvironmentType, ExecutionState, StepState } from './types';

export type EventKind = 'started' | 'waiting' | 'ended' | 'healed' | 'scaled';
/** The environment keeper's events (shared/keeper.ts). */
export type KeeperEventKind = Extract<EventKind, 'healed' | 'scaled'>;

export const EVENT_TYPES: Record<EventKind, string> = {
  started: 'https://ns.adobe.com/experience/cloudmanager/event/started',
  waiting: 'https://ns.adobe.com/experience/cloudmanager/event/waiting',
  ended: 'https://ns.adobe.com/experience/cloudmanager/event/ended',
  // Cloud Manager has no events of its own for these: Stagecoach's environment keeper (shared/keeper.ts).
  healed: 'stagecoach.keeper.healed',
  scaled: 'stagecoach.keeper.scaled',
};
export const OBJECT_TYPES = {
  execution: 'https://ns.adobe.com/experience/cloudmanager/pipeline-execution',
  step: 'https://ns.adobe.com/experience/cloudmanager/execution-step-state',
} as const;

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  /** Stagecoach's own shorthand of `type`, to filter on. */
  kind: EventKind;
  data: {
    event_id: string;
    event: Record<string, unknown>;
    /** What happened, in Stagecoach's terms. */
    execution: { pipelineId: string; id: string; status: string; trigger: string; mode: string; user: string; reason?: string };
    step?: { id: string; stepId: string; phaseId: string; action: string; environment?: string; status: string; details?: unknown };
    /** A `healed` event: the heal, on which environment. */
    heal?: HealRecord & KeeperEventEnvironment;
    /** A `scaled` event: the scale, on which environment. */
    scale?: ScaleRecord & KeeperEventEnvironment;
  };
}

/** Path of an execution (and a step state) in the HTTP API: the events' `@id`. */
export function executionPath(pipelineId: string, executionId: string, step?: StepState): string {
  const base = `/api/program/1/pipeline/${pipelineId}/execution/${executionId}`;
  return step ? `${base}/phase/${step.phaseId}/step/${step.stepId}` : base;
}

/** Cloud Manager's event envelope (Adobe I/O Events' activity streams): what happened, when, by whom, to what. */
function eventEnvelope(e: { id: string; kind: EventKind; objectType: string; time: string; actor: string; object: string }): Record<string, unknown> {
  return {
    '@id': e.id,
    '@type': EVENT_TYPES[e.kind],
    'xdmEventEnvelope:objectType': e.objectType,
    'activitystreams:published': e.time,
    'activitystreams:actor': { 'xdmImsUser:id': e.actor, '@type': 'xdmImsUser' },
    'activitystreams:object': { '@id': e.object, '@type': e.objectType },
  };
}

export function buildEvent(input: {
  kind: EventKind; state: ExecutionState; step?: StepState; seq: number; time: string; actor: string;
}): CloudEvent {
  const { state, step, kind } = input;
  const id = `stagecoach-${state.pipelineId}-${state.id}-${input.seq}`;
  const objectType = step ? OBJECT_TYPES.step : OBJECT_TYPES.execution;
  return {
    specversion: '1.0',
    id,
    source: `stagecoach/pipeline/${state.pipelineId}`,
    type: EVENT_TYPES[kind],
    subject: executionPath(state.pipelineId, state.id, step),
    time: input.time,
    datacontenttype: 'application/json',
    kind,
    data: {
      event_id: id,
      event: eventEnvelope({ id, kind, objectType, time: input.time, actor: input.actor, object: executionPath(state.pipelineId, state.id, step) }),
      execution: {
        pipelineId: state.pipelineId, id: state.id, status: state.status, trigger: state.trigger, mode: state.mode,
        user: state.user, reason: state.reason,
      },
      step: step && {
        id: step.id, stepId: step.stepId, phaseId: step.phaseId, action: step.action, environment: step.environment,
        status: step.status, details: step.details.summary,
      },
    },
  };
}

interface KeeperEventEnvironment { environment: string; environmentType: EnvironmentType }

/**
 * The keeper's events: `healed` (a node replaced from the release) and `scaled` (pairs added or removed from it). The
 * object is the execution whose release it is (as Cloud Manager's events name their execution), the actor the keeper.
 * `id` is the heal's or the scale's, unique in the keeper.
 */
export function buildKeeperEvent(input: {
  kind: KeeperEventKind; pipelineId: string; release: KeeperRelease; id: string; time: string; heal?: HealRecord; scale?: ScaleRecord;
}): CloudEvent {
  const { pipelineId, release, kind } = input;
  const { environment } = release;
  const id = `stagecoach-${pipelineId}-${environment.type}-${input.id}`;
  const where = { environment: environment.name, environmentType: environment.type };
  const object = executionPath(pipelineId, release.executionId);
  return {
    specversion: '1.0',
    id,
    source: `stagecoach/pipeline/${pipelineId}/keeper/${environment.type}`,
    type: EVENT_TYPES[kind],
    subject: object,
    time: input.time,
    datacontenttype: 'application/json',
    kind,
    data: {
      event_id: id,
      event: eventEnvelope({ id, kind, objectType: OBJECT_TYPES.execution, time: input.time, actor: 'keeper', object }),
      execution: { pipelineId, id: release.executionId, status: 'FINISHED', ...release.execution },
      ...(input.heal ? { heal: { ...input.heal, ...where } } : {}),
      ...(input.scale ? { scale: { ...input.scale, ...where } } : {}),
    },
  };
}

/** Cloud Manager's event body as Adobe I/O Events posts it: `event_id` and `event`, whose `@id` links are absolute. */
export interface CloudManagerEventBody {
  event_id: string;
  event: Record<string, unknown>;
}

/**
 * The body a `format: cloudmanager` webhook receives: the CloudEvent's Cloud Manager part, the object's `@id` made an
 * absolute URL of the API (`apiUrl`, as receivers reach it, since they fetch it), addressed to `orgId` when one is set.
 */
export function cloudManagerEventBody(event: CloudEvent, apiUrl: string, orgId?: string): CloudManagerEventBody {
  const inner = event.data.event;
  const object = inner['activitystreams:object'] as { '@id': string; '@type': string };
  return {
    event_id: event.data.event_id,
    event: {
      ...inner,
      ...(orgId ? { 'activitystreams:to': { 'xdmImsOrg:id': orgId, '@type': 'xdmImsOrg' } } : {}),
      'activitystreams:object': { ...object, '@id': new URL(object['@id'], apiUrl).toString() },
    },
  };
}
