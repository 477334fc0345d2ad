/**
 * Execution and step events as CloudEvents (structured JSON) carrying Cloud Manager's event body
 * (its pipeline execution and step events). Built in workflow code: pure and deterministic (ids from a sequence).
 */
import type { ExecutionState, StepState } from './types';

export type EventKind = 'started' | 'waiting' | 'ended';

const EVENT_TYPES: Record<EventKind, string> = {
  started: 'https://ns.adobe.com/experience/cloudmanager/event/started',
  waiting: 'https://ns.adobe.com/experience/cloudmanager/event/waiting',
  ended: 'https://ns.adobe.com/experience/cloudmanager/event/ended',
};
const OBJECT_TYPES = {
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
  };
}

/** Path of an execution (and a step state) in the HTTP API: the events' `@id`. */
export function executionPath(pipelineId: string, executionId: string, step?: StepState): string {
  const base = `/api/program/1/pipeline/${pipelineId}/execution/${executionId}`;
  return step ? `${base}/phase/${step.phaseId}/step/${step.stepId}` : base;
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
      event: {
        '@id': id,
        '@type': EVENT_TYPES[kind],
        'xdmEventEnvelope:objectType': objectType,
        'activitystreams:published': input.time,
        'activitystreams:actor': { 'xdmImsUser:id': input.actor, '@type': 'xdmImsUser' },
        'activitystreams:object': { '@id': executionPath(state.pipelineId, state.id, step), '@type': objectType },
      },
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
