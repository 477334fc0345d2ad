/**
 * Driving executions the way a user does, through the real client operations (src/client/operations.ts), and
 * reading their histories.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { Stagecoach } from '../../src/client/operations';
import type { StartResult } from '../../src/shared/messages';
import type { ExecutionState } from '../../src/shared/types';
import { sleep } from './stats';

export type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

export const TERMINAL = ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'];
export const STARTED_BY = 'carol';

/**
 * Starts an execution through Stagecoach.startExecution (update-with-start on the pipeline workflow) without its
 * client-side preflight (`preflight: false`): that reads the YAML file and the git branch on this machine, which a
 * bench pipeline (configured by the fake loadPipeline activity) has not got.
 */
export async function startExecution(client: Client, pipelineId: string, by = STARTED_BY): Promise<StartResult> {
  try {
    return await new Stagecoach(client).startExecution(pipelineId, { by }, { preflight: false });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new Error(`starting an execution of ${pipelineId} failed: ${(err as Error).message}${cause ? `: ${cause}` : ''}`, { cause: err });
  }
}

/** Polls the execution's `state` query until `until` holds (every `intervalMs`); fails after `timeoutMs`. */
export async function waitForState(
  stagecoach: Stagecoach, pipelineId: string, executionId: string, until: (s: ExecutionState) => boolean,
  { timeoutMs = 120_000, intervalMs = 20 } = {},
): Promise<ExecutionState> {
  const deadline = Date.now() + timeoutMs;
  let last: ExecutionState | undefined;
  while (Date.now() < deadline) {
    last = await stagecoach.executionState(pipelineId, executionId).catch(() => last);
    if (last && until(last)) return last;
    await sleep(intervalMs);
  }
  throw new Error(`execution ${executionId} of ${pipelineId}: condition not met within ${timeoutMs / 1000} s; last status ` +
    `${last?.status}, step ${last?.currentStepId}, waiting ${last?.waiting?.action}, reason ${last?.reason}`);
}

export const waitingFor = (...actions: string[]) => (s: ExecutionState) =>
  (s.waiting !== undefined && actions.includes(s.waiting.action)) || TERMINAL.includes(s.status);

/**
 * Sends a message, retrying while the execution has not reached the wait yet (refused as "not waiting"), and when
 * the server is too busy to answer in time (DEADLINE_EXCEEDED): if that attempt was applied after all, the retry
 * is refused as "not waiting" (the execution moved on), which counts as done.
 */
async function sendWhenWaiting(stagecoach: Stagecoach, pipelineId: string, executionId: string, action: 'approve' | 'schedule', request: Record<string, unknown>) {
  let timedOut = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await stagecoach.send(pipelineId, executionId, action, request);
    } catch (err) {
      const message = (err as Error).message;
      if (timedOut && /not waiting|has ended/.test(message)) return undefined;
      if (/deadline exceeded|timed out|timeout/i.test(message) && attempt < 10) {
        timedOut = true;
        await sleep(500);
        continue;
      }
      if (attempt >= 50 || !/not waiting/.test(message)) throw err;
      await sleep(20);
    }
  }
}

/**
 * From the approval wait to Production: every approval the execution waits for (by an approver allowed now), then
 * `schedule --now`. Answers when each was accepted (wall clock, after the update returned).
 */
export async function release(stagecoach: Stagecoach, pipelineId: string, executionId: string, atApproval?: ExecutionState): Promise<{ approveAcceptedAt: number; scheduleAcceptedAt: number }> {
  let state = atApproval ?? await waitForState(stagecoach, pipelineId, executionId, waitingFor('approval', 'schedule'));
  let approveAcceptedAt = Number.NaN;
  // One or more approval steps (approval, a managed review), each possibly needing several approvers.
  for (let approvals = 0; state.waiting && state.waiting.action !== 'schedule' && !TERMINAL.includes(state.status); approvals++) {
    if (approvals >= 10) throw new Error(`execution ${executionId} of ${pipelineId} still waits at ${state.waiting.action} after ${approvals} approvals`);
    const by = state.waiting.allowed[0] ?? 'alice';
    await sendWhenWaiting(stagecoach, pipelineId, executionId, 'approve', { by });
    approveAcceptedAt = Date.now();
    state = await waitForState(stagecoach, pipelineId, executionId, waitingFor('approval', 'managed', 'schedule'));
  }
  if (TERMINAL.includes(state.status)) throw new Error(`execution ${executionId} of ${pipelineId} ended ${state.status} before its schedule: ${state.reason}`);
  await sendWhenWaiting(stagecoach, pipelineId, executionId, 'schedule', { by: 'alice', now: true });
  return { approveAcceptedAt, scheduleAcceptedAt: Date.now() };
}

export async function fetchEvents(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

/**
 * Every run of a workflow that continued as new (a long rollout does, at a window boundary), first run first: walks
 * back from the latest run through each run's `continuedExecutionRunId`.
 */
export async function fetchRuns(client: Client, workflowId: string): Promise<HistoryEvent[][]> {
  const runs: HistoryEvent[][] = [];
  let runId: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    runs.unshift(events);
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    if (!runId) break;
  }
  return runs;
}

/** An event's time in milliseconds since the epoch, with the server's sub-millisecond precision. */
export function eventTimeMs(event: HistoryEvent): number {
  const t = event.eventTime;
  return Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
}

/** Per activity, the time from its scheduling to the next activity's scheduling: one full orchestration cycle. */
export function activityCycles(events: HistoryEvent[]): number[] {
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes).map(eventTimeMs);
  return scheduled.slice(1).map((t, i) => t - scheduled[i]);
}

/** Activity types scheduled in a history, with their counts. */
export function scheduledActivityTypes(events: HistoryEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Per task, the time from its scheduling to a worker's poll receiving it (server-side dispatch), by kind. */
export function dispatchLatencies(events: HistoryEvent[]): { activity: number[]; workflowTask: number[] } {
  const activity: number[] = [];
  const workflowTask: number[] = [];
  const scheduledAt = new Map<string, number>();
  let wftScheduled: number | undefined;
  for (const e of events) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduledAt.set(id, eventTimeMs(e));
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const at = scheduledAt.get(String(started.scheduledEventId));
      if (at !== undefined) activity.push(eventTimeMs(e) - at);
    }
    if (e.workflowTaskScheduledEventAttributes) wftScheduled = eventTimeMs(e);
    if (e.workflowTaskStartedEventAttributes && wftScheduled !== undefined) {
      workflowTask.push(eventTimeMs(e) - wftScheduled);
      wftScheduled = undefined;
    }
  }
  return { activity, workflowTask };
}

/** Events by kind (the name of their attributes field, e.g. activityTaskScheduled). */
export function eventKinds(events: HistoryEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) {
    const key = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]);
    const kind = key ? key.slice(0, -'EventAttributes'.length) : 'unknown';
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

/**
 * What woke the workflow for each workflow task: the kind of the event just before each WorkflowTaskScheduled
 * (e.g. activityTaskCompleted, externalWorkflowExecutionSignaled). Shows which events cost a workflow task of their own.
 */
export function workflowTaskCauses(events: HistoryEvent[]): Record<string, number> {
  const kind = (e: HistoryEvent) => {
    const key = Object.keys(e).find((k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k]);
    return key ? key.slice(0, -'EventAttributes'.length) : 'unknown';
  };
  const counts: Record<string, number> = {};
  events.forEach((e, i) => {
    if (!e.workflowTaskScheduledEventAttributes) return;
    const cause = i === 0 ? 'start' : kind(events[i - 1]);
    counts[cause] = (counts[cause] ?? 0) + 1;
  });
  return counts;
}
