/**
 * Following an execution: polls its `state` query every second and prints one line per step status change, until
 * the execution ends or waits for someone. Shared by `stagecoach start --follow` and the demo.
 */
import { StagecoachError, isDeadlineExceeded } from '../client/errors';
import type { Stagecoach } from '../client/operations';
import { ClientFailure } from '../shared/errors';
import { isTerminal, type ExecutionState, type StepState } from '../shared/types';
import { stepLabel } from '../client/artifact-refs';
import {
  StepChangeTracker, formatClock, formatDuration, stepChangeLine, stepSummary, waitingLine,
} from './format';
import { sleep } from './probe';

export interface FollowOptions {
  print: (line: string) => void;
  /** Print JSON lines (`{"event": ...}`) instead of text. */
  json?: boolean;
  intervalMs?: number;
  /** While one step stays RUNNING, print a "still running" line this often (0: never). Default 60 s. */
  stillRunningEveryMs?: number;
  /** How long a missing execution is tolerated right after it was started. Default 15 s. */
  notFoundGraceMs?: number;
}

export type FollowOutcome =
  | { kind: 'waiting'; state: ExecutionState }
  | { kind: 'ended'; state: ExecutionState };

function isWaiting(state: ExecutionState): boolean {
  return Boolean(state.waiting) || state.steps.some((s) => s.status === 'WAITING');
}

/** The line printed when following stops because the execution waits. */
export function waitingMessage(state: ExecutionState, nowMs: number): string {
  if (state.waiting) return `Execution ${state.id} is ${waitingLine(state.waiting, nowMs)}`;
  const step = state.steps.find((s) => s.status === 'WAITING');
  return `Execution ${state.id} is waiting at ${step ? stepLabel(step) : 'a step'}`;
}

/** The line printed when following stops because the execution ended. */
export function endedMessage(state: ExecutionState): string {
  return `Execution ${state.id} ended: ${state.status}${state.reason ? ` — ${state.reason}` : ''}`;
}

export async function followExecution(
  sc: Stagecoach, pipelineId: string, executionId: string, opts: FollowOptions,
): Promise<FollowOutcome> {
  const interval = opts.intervalMs ?? 1000;
  const stillEvery = opts.stillRunningEveryMs ?? 60_000;
  const grace = opts.notFoundGraceMs ?? 15_000;
  const started = Date.now();
  const tracker = new StepChangeTracker();
  let running: { stepId: string; since: number; lastNote: number } | undefined;
  let noWorkerNoted = false;

  const emitStep = (step: StepState, note?: string) => {
    if (opts.json) {
      opts.print(JSON.stringify({
        event: 'step', at: new Date().toISOString(), stepId: step.stepId, action: step.action, environment: step.environment,
        status: step.status, summary: stepSummary(step) || undefined, ...(note ? { note } : {}),
      }));
    } else if (note) {
      const summary = stepSummary(step);
      opts.print(`[${formatClock(Date.now())}] ${stepLabel(step)} ${note}${summary ? ` — ${summary}` : ''}`);
    } else {
      opts.print(stepChangeLine(step, Date.now()));
    }
  };

  for (;;) {
    let state: ExecutionState;
    try {
      state = await sc.executionState(pipelineId, executionId);
    } catch (err) {
      if (err instanceof StagecoachError && err.type === ClientFailure.NotFound && Date.now() - started < grace) {
        await sleep(interval);
        continue;
      }
      if (isDeadlineExceeded(err)) {
        if (!noWorkerNoted) {
          noWorkerNoted = true;
          opts.print(opts.json
            ? JSON.stringify({ event: 'note', message: 'no worker answered the state query; still trying' })
            : `[${formatClock(Date.now())}] no worker answered the state query (is \`./bin/stagecoach worker\` or \`dev\` running?); still trying`);
        }
        await sleep(interval);
        continue;
      }
      throw err;
    }

    for (const step of tracker.changes(state)) emitStep(step);

    const current = state.steps.find((s) => s.status === 'RUNNING' || s.status === 'ROLLING_BACK');
    if (!current) {
      running = undefined;
    } else if (running?.stepId !== current.stepId) {
      running = { stepId: current.stepId, since: Date.now(), lastNote: Date.now() };
    } else if (stillEvery > 0 && Date.now() - running.lastNote >= stillEvery) {
      running.lastNote = Date.now();
      emitStep(current, `still ${current.status} (${formatDuration(Date.now() - running.since)})`);
    }

    if (isTerminal(state.status)) {
      opts.print(opts.json ? JSON.stringify({ event: 'ended', status: state.status, reason: state.reason }) : endedMessage(state));
      return { kind: 'ended', state };
    }
    if (isWaiting(state)) {
      opts.print(opts.json ? JSON.stringify({ event: 'waiting', waiting: state.waiting }) : waitingMessage(state, Date.now()));
      return { kind: 'waiting', state };
    }
    await sleep(interval);
  }
}
