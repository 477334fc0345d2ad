/**
 * `start --follow` without a server: its lines (step n of N, a step's duration once it ends), the commands it prints
 * at a wait, and the exit code each outcome maps to; followExecution itself against a scripted state query.
 */
import { describe, expect, it } from 'vitest';
import type { Stagecoach } from '../../src/client/operations';
import {
  FOLLOW_EXIT, followExecution, followExitCode, followStepLine, nextCommandLines, nextCommands,
} from '../../src/cli/follow';
import type { ExecutionState, StepState, WaitingState } from '../../src/shared/types';

const T0 = Date.parse('2030-01-01T10:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

function step(stepId: string, status: StepState['status'], times: { start?: number; end?: number } = {}, summary?: string): StepState {
  return {
    id: stepId, stepId, phaseId: 'stageDeployment', action: stepId as StepState['action'], status,
    ...(times.start !== undefined ? { startedAt: at(times.start) } : {}), ...(times.end !== undefined ? { finishedAt: at(times.end) } : {}),
    details: summary ? { summary } : {},
  } as StepState;
}

function execution(steps: StepState[], extra: Partial<ExecutionState> = {}): ExecutionState {
  return { id: '3', pipelineId: 'sample', status: 'RUNNING', steps, audit: [], urls: {}, artifacts: {}, ...extra } as ExecutionState;
}

const approvalWait: WaitingState = {
  stepId: 'approval', action: 'approval', since: at(100), expiresAt: at(100 + 86_400), accepts: ['approve', 'reject', 'cancel'],
  allowed: ['alice', 'bob'],
};

describe('follow lines', () => {
  it('names the step\'s place and, once it ended, how long it took', () => {
    const build = step('build', 'FINISHED', { start: 0, end: 42 }, '3 tests passed');
    const state = execution([step('validate', 'FINISHED'), build, step('deploy', 'RUNNING', { start: 42 }), step('approval', 'NOT_STARTED')]);
    expect(followStepLine(state, build, T0 + 50_000, { utc: true })).toBe('[10:00:50] step 2 of 4: build FINISHED in 42 s — 3 tests passed');
    expect(followStepLine(state, state.steps[2], T0 + 50_000, { utc: true })).toBe('[10:00:50] step 3 of 4: deploy RUNNING');
    // A skipped step never started: no duration to give.
    expect(followStepLine(state, state.steps[0], T0, { utc: true })).toBe('[10:00:00] step 1 of 4: validate FINISHED');
    expect(followStepLine(state, state.steps[2], T0 + 200_000, { utc: true, note: 'still RUNNING (2 min 38 s)' }))
      .toBe('[10:03:20] step 3 of 4: deploy still RUNNING (2 min 38 s)');
  });

  it('at a wait, prints the exact commands and who may type them', () => {
    const state = execution([step('approval', 'WAITING', { start: 100 })], { waiting: approvalWait });
    expect(nextCommandLines(state)).toEqual([
      'Next (alice or bob may act):',
      '  ./bin/stagecoach approve sample 3 --by alice',
      '  ./bin/stagecoach reject sample 3 --by alice',
      '  ./bin/stagecoach cancel sample 3 --by alice',
    ]);
    const gate = { ...approvalWait, stepId: 'codeQuality', action: 'codeQuality' as const, accepts: ['override', 'reject', 'cancel'], allowed: [], metrics: ['coverage', 'reliability_rating'] };
    expect(nextCommands(execution([], { waiting: gate }))).toEqual({
      who: 'anyone may act',
      commands: [
        './bin/stagecoach override sample 3 --by <your name> --metrics coverage,reliability_rating',
        './bin/stagecoach reject sample 3 --by <your name>',
        './bin/stagecoach cancel sample 3 --by <your name>',
      ],
    });
    const schedule = { ...approvalWait, stepId: 'schedule', action: 'schedule' as const, accepts: ['schedule', 'cancel'], allowed: ['carol'] };
    expect(nextCommands(execution([], { waiting: schedule })).commands[0]).toBe('./bin/stagecoach schedule sample 3 --now --by carol');
    // A signed pipeline refuses an unsigned decision: the commands say a key is needed.
    expect(nextCommands(execution([], { waiting: { ...approvalWait, signed: true } })).commands)
      .toEqual(['approve', 'reject', 'cancel'].map((verb) => `./bin/stagecoach ${verb} sample 3 --by alice --key <your ssh key>`));
  });

  it('maps each outcome to its exit code: finished 0, ended otherwise 1, waiting for a person 6', () => {
    expect(FOLLOW_EXIT).toEqual({ finished: 0, ended: 1, waiting: 6 });
    expect(followExitCode({ kind: 'ended', state: execution([], { status: 'FINISHED' }) })).toBe(0);
    expect(followExitCode({ kind: 'ended', state: execution([], { status: 'FAILED' }) })).toBe(1);
    expect(followExitCode({ kind: 'ended', state: execution([], { status: 'CANCELLED' }) })).toBe(1);
    expect(followExitCode({ kind: 'waiting', state: execution([], { waiting: approvalWait }) })).toBe(6);
  });
});

describe('followExecution on a scripted state query', () => {
  it('prints each change once, then the wait and the next commands, and answers "waiting"', async () => {
    const states = [
      execution([step('build', 'RUNNING', { start: 0 }), step('approval', 'NOT_STARTED')]),
      execution([step('build', 'FINISHED', { start: 0, end: 65 }, 'built 1.0.4'), step('approval', 'WAITING', { start: 65 })], { waiting: approvalWait }),
    ];
    let call = 0;
    const sc = { executionState: async () => states[Math.min(call++, states.length - 1)] } as unknown as Stagecoach;
    const lines: string[] = [];
    const outcome = await followExecution(sc, 'sample', '3', { print: (l) => lines.push(l), intervalMs: 1 });
    expect(outcome.kind).toBe('waiting');
    expect(followExitCode(outcome)).toBe(FOLLOW_EXIT.waiting);
    const text = lines.map((l) => l.replace(/^\[\d\d:\d\d:\d\d\] /, ''));
    expect(text.slice(0, 3)).toEqual(['step 1 of 2: build RUNNING', 'step 1 of 2: build FINISHED in 1 min 5 s — built 1.0.4', 'step 2 of 2: approval WAITING']);
    expect(text[3]).toMatch(/^Execution 3 is waiting at approval for approve \/ reject \/ cancel by alice, bob; expires/);
    expect(text.slice(4)).toEqual(nextCommandLines(states[1]));
  });

  it('with --json, a waiting event carries the commands', async () => {
    const state = execution([step('approval', 'WAITING', { start: 0 })], { waiting: approvalWait });
    const sc = { executionState: async () => state } as unknown as Stagecoach;
    const lines: string[] = [];
    await followExecution(sc, 'sample', '3', { print: (l) => lines.push(l), json: true, intervalMs: 1 });
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ event: 'step', stepId: 'approval', index: 1, of: 1, status: 'WAITING' });
    expect(events[1]).toMatchObject({ event: 'waiting', next: nextCommands(state).commands });
  });
});
