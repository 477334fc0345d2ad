/**
 * Following an execution: polls its `state` query every second and prints one line per step status change (its
 * place in the pipeline, and how long it took once it ends), until the execution ends or waits for someone; at a
 * wait it prints the exact commands that move it on. Shared by `stagecoach start --follow` and the demo.
 */
import { stepLabel } from '../client/artifact-refs';
import { StagecoachError, isDeadlineExceeded } from '../client/errors';
import type { Stagecoach } from '../client/operations';
import { ClientFailure } from '../shared/errors';
import { isTerminal, type ExecutionState, type StepState, type WaitingState } from '../shared/types';
import { EXIT } from './errors';
import {
  StepChangeTracker, formatClock, formatDuration, stepSummary, waitingLine,
} from './format';
import { sleep } from './probe';

/** How `start --follow` ends: 0 the execution finished, 1 it ended otherwise, 6 it waits for a person. */
export const FOLLOW_EXIT = { finished: EXIT.ok, ended: EXIT.failure, waiting: 6 } as const;

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

export function followExitCode(outcome: FollowOutcome): number {
  if (outcome.kind === 'waiting') return FOLLOW_EXIT.waiting;
  return outcome.state.status === 'FINISHED' ? FOLLOW_EXIT.finished : FOLLOW_EXIT.ended;
}

function isWaiting(state: ExecutionState): boolean {
  return Boolean(state.waiting) || state.steps.some((s) => s.status === 'WAITING');
}

const ENDED_STEP = ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED', 'ROLLED_BACK'];

/** How long a step took, once it has ended and its start is known. */
export function stepDurationMs(step: StepState, nowMs: number): number | undefined {
  if (!ENDED_STEP.includes(step.status) || !step.startedAt) return undefined;
  return (step.finishedAt ? Date.parse(step.finishedAt) : nowMs) - Date.parse(step.startedAt);
}

/** `[hh:mm:ss] step 4 of 17: build FINISHED in 42 s — <summary>` (or a `note` such as "still RUNNING (3 min)"). */
export function followStepLine(state: ExecutionState, step: StepState, nowMs: number, opts: { note?: string; utc?: boolean } = {}): string {
  const place = `step ${state.steps.indexOf(step) + 1} of ${state.steps.length}`;
  const duration = stepDurationMs(step, nowMs);
  const what = opts.note ?? `${step.status}${duration === undefined ? '' : ` in ${formatDuration(duration)}`}`;
  const summary = stepSummary(step);
  return `[${formatClock(nowMs, opts.utc)}] ${place}: ${stepLabel(step)} ${what}${summary ? ` — ${summary}` : ''}`;
}

/** The command line for one message a wait accepts, as `by` would type it (optional flags left to `--help`). */
function messageCommand(action: string, pipelineId: string, executionId: string, by: string, waiting: WaitingState): string {
  const base = `./bin/stagecoach ${action} ${pipelineId} ${executionId}`;
  // A signed pipeline refuses a decision without a proof: the command names the key it needs.
  const key = waiting.signed ? ' --key <your ssh key>' : '';
  if (action === 'schedule') return `${base} --now --by ${by}${key}`;
  if (action === 'override') return `${base} --by ${by}${key} --metrics ${(waiting.metrics ?? []).join(',')}`;
  return `${base} --by ${by}${key}`;
}

/** What to type next at a wait: who may act, and one command per accepted message (as the first of them). */
export function nextCommands(state: ExecutionState): { who: string; commands: string[] } {
  const waiting = state.waiting;
  if (!waiting) return { who: 'see its waiting step', commands: [`./bin/stagecoach status ${state.pipelineId} ${state.id}`] };
  const by = waiting.allowed[0] ?? '<your name>';
  return {
    who: waiting.allowed.length ? `${waiting.allowed.join(' or ')} may act` : 'anyone may act',
    commands: waiting.accepts.map((action) => messageCommand(action, state.pipelineId, state.id, by, waiting)),
  };
}

export function nextCommandLines(state: ExecutionState): string[] {
  const { who, commands } = nextCommands(state);
  return [`Next (${who}):`, ...commands.map((c) => `  ${c}`)];
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

  const emitStep = (state: ExecutionState, step: StepState, note?: string) => {
    if (opts.json) {
      opts.print(JSON.stringify({
        event: 'step', at: new Date().toISOString(), stepId: step.stepId, action: step.action, environment: step.environment,
        status: step.status, index: state.steps.indexOf(step) + 1, of: state.steps.length,
        durationMs: stepDurationMs(step, Date.now()), summary: stepSummary(step) || undefined, ...(note ? { note } : {}),
      }));
    } else {
      opts.print(followStepLine(state, step, Date.now(), { note }));
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

    for (const step of tracker.changes(state)) emitStep(state, step);

    const current = state.steps.find((s) => s.status === 'RUNNING' || s.status === 'ROLLING_BACK');
    if (!current) {
      running = undefined;
    } else if (running?.stepId !== current.stepId) {
      running = { stepId: current.stepId, since: Date.now(), lastNote: Date.now() };
    } else if (stillEvery > 0 && Date.now() - running.lastNote >= stillEvery) {
      running.lastNote = Date.now();
      emitStep(state, current, `still ${current.status} (${formatDuration(Date.now() - running.since)})`);
    }

    if (isTerminal(state.status)) {
      opts.print(opts.json ? JSON.stringify({ event: 'ended', status: state.status, reason: state.reason }) : endedMessage(state));
      return { kind: 'ended', state };
    }
    if (isWaiting(state)) {
      if (opts.json) {
        opts.print(JSON.stringify({ event: 'waiting', waiting: state.waiting, next: nextCommands(state).commands }));
      } else {
        opts.print(waitingMessage(state, Date.now()));
        nextCommandLines(state).forEach((line) => opts.print(line));
      }
      return { kind: 'waiting', state };
    }
    await sleep(interval);
  }
}
