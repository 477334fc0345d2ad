/**
 * Request bodies as Cloud Manager's clients send them (src/api/cloudmanager/requests.ts): the schedule's
 * IMMEDIATE/SCHEDULED, reject through the cancel link, an override that leaves out a failing metric, and a start
 * from a step id.
 */
import { describe, expect, it } from 'vitest';
import { advanceMessage, cancelMessage, reExecutionOfStart } from '../../src/api/cloudmanager/requests';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import type { ExecutionState } from '../../src/shared/types';
import { initialState } from '../../src/workflows/execution/state';
import { ClientFailure, Refusal } from '../../src/shared/errors';

const config = parsePipelineConfig({ id: 'unit', repository: '/tmp/repo' });
const T0 = '2030-01-01T00:00:00.000Z';

function waitingAt(stepId: string, accepts: string[], metrics?: string[]): ExecutionState {
  const s = initialState({ pipelineId: 'unit', executionId: '1', trigger: 'MANUAL', mode: 'NORMAL', user: 'carol', config }, T0);
  s.status = 'RUNNING';
  s.currentStepId = stepId;
  const step = s.steps.find((x) => x.stepId === stepId)!;
  step.status = 'WAITING';
  s.waiting = { stepId, action: step.action, since: T0, expiresAt: T0, accepts, allowed: [], ...(metrics ? { metrics } : {}) };
  return s;
}
const stepOf = (s: ExecutionState, stepId: string) => s.steps.find((x) => x.stepId === stepId)!;

describe('Cloud Manager request bodies', () => {
  it('schedule: IMMEDIATE, SCHEDULED at a future time; the past and other types are 400', () => {
    const s = waitingAt('schedule', ['schedule', 'cancel']);
    const schedule = stepOf(s, 'schedule');
    expect(advanceMessage(s, schedule, { type: 'IMMEDIATE' })).toEqual({ ok: true, action: 'schedule', request: { now: true } });
    expect(advanceMessage(s, schedule, { type: 'SCHEDULED', schedule: '2999-01-01T10:00:00Z' }))
      .toEqual({ ok: true, action: 'schedule', request: { at: '2999-01-01T10:00:00.000Z' } });
    expect(advanceMessage(s, schedule, { type: 'SCHEDULED', schedule: '2020-01-01T10:00:00Z' })).toMatchObject({ ok: false, type: Refusal.InvalidRequest, detail: expect.stringMatching(/in the past/) });
    expect(advanceMessage(s, schedule, { type: 'LATER' })).toMatchObject({ ok: false, type: Refusal.InvalidRequest });
  });

  it('an override that leaves out a failing important metric is a 400', () => {
    const s = waitingAt('codeQuality', ['override', 'reject', 'cancel'], ['coverage', 'sqale_rating']);
    expect(advanceMessage(s, stepOf(s, 'codeQuality'), { metrics: [{ kpi: 'coverage', override: true }] }))
      .toMatchObject({ ok: false, type: Refusal.InvalidRequest, detail: expect.stringMatching(/missing: sqale_rating/) });
  });

  it('cancel: approved/start/override false reject the waiting step; anything else cancels', () => {
    const approval = waitingAt('approval', ['approve', 'reject', 'cancel']);
    expect(cancelMessage(approval, stepOf(approval, 'approval'), { approved: false })).toEqual({ ok: true, action: 'reject', request: {} });
    expect(cancelMessage(approval, stepOf(approval, 'approval'), { cancel: true })).toEqual({ ok: true, action: 'cancel', request: {} });
    expect(cancelMessage(approval, stepOf(approval, 'approval'), undefined)).toEqual({ ok: true, action: 'cancel', request: {} });
    const gate = waitingAt('codeQuality', ['override', 'reject', 'cancel'], ['coverage']);
    expect(cancelMessage(gate, stepOf(gate, 'codeQuality'), { override: false, reason: 'no' })).toEqual({ ok: true, action: 'reject', request: { reason: 'no' } });
    const schedule = waitingAt('schedule', ['schedule', 'cancel']);
    expect(cancelMessage(schedule, stepOf(schedule, 'schedule'), { approved: false })).toMatchObject({ ok: false, type: Refusal.NotWaiting });
    expect(cancelMessage(approval, stepOf(approval, 'build'), { approved: false })).toMatchObject({ ok: false, type: Refusal.NotWaiting });
    expect(cancelMessage(approval, stepOf(approval, 'approval'), 'x')).toMatchObject({ ok: false, type: Refusal.InvalidRequest });
  });

  it('start with a step id: the production deploy re-executes, any other step is a 400', () => {
    const s = waitingAt('approval', []);
    expect(reExecutionOfStart(s, 'deploy-prod')).toEqual({ ok: true, executionId: '1' });
    expect(reExecutionOfStart(s, `unit.1.${stepOf(s, 'deploy-prod').id}`)).toEqual({ ok: true, executionId: '1' });
    expect(reExecutionOfStart(s, 'build')).toMatchObject({ ok: false, type: Refusal.InvalidRequest });
    expect(reExecutionOfStart(s, 'nope')).toMatchObject({ ok: false, type: Refusal.InvalidRequest });
    expect(reExecutionOfStart(undefined, 'deploy-prod')).toMatchObject({ ok: false, type: ClientFailure.NotFound });
  });
});
