/** Pure pieces, without servers: report parsing, message rules, configuration defaults, rollout windows. */
import { describe, expect, it } from 'vitest';
import { parseJUnit } from '../../src/activities/reports';
import { parseShowStat } from '../../src/activities/load-balancer';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { Refusal } from '../../src/shared/errors';
import { renderHaproxyConfig } from '../../src/topology/haproxy-config';
import { payloadProblem, refusalReason } from '../../src/workflows/execution/message-rules';
import { initialState } from '../../src/workflows/execution/state';
import { windowsOf } from '../../src/workflows/rollout-plan';

const config = parsePipelineConfig({
  id: 'unit', repository: '/tmp/repo', identity: 'declared',
  approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }] },
});

describe('pipeline configuration', () => {
  it('defaults every waiting step to 14 days, as Cloud Manager does', () => {
    expect(config.approval.timeout).toBe('14 days');
    expect(config.schedule.timeout).toBe('14 days');
    expect(config.environments.prod).toMatchObject({ pairs: 2, window: 1, type: 'prod' });
    expect(config.app).toMatchObject({ testTarget: 'test', runtimeTarget: 'runtime', imageName: 'stagecoach/unit' });
  });

  it('reports every bad field with its path', () => {
    expect(() => parsePipelineConfig({ id: 'Bad Id', repository: '', approval: { approvers: [{ name: 'x', roles: ['ADMIN'] }] } }))
      .toThrow(/id: lowercase[\s\S]*repository:[\s\S]*approval\.approvers\.0\.roles\.0/);
  });
});

describe('reports', () => {
  it('counts a JUnit report and names the failing tests', () => {
    const xml = `<testsuites><testsuite name="s" tests="4">
      <testcase classname="tests.A" name="ok"/>
      <testcase classname="tests.A" name="broken"><failure message="boom">trace</failure></testcase>
      <testcase classname="tests.B" name="later"><skipped/></testcase>
      <testcase classname="tests.B" name="crash"><error message="x"/></testcase>
    </testsuite></testsuites>`;
    expect(parseJUnit(xml)).toEqual({ total: 4, passed: 1, failed: 2, skipped: 1, failures: ['tests.A.broken', 'tests.B.crash'] });
  });

  it('reads HAProxy show stat by its header', () => {
    const csv = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status\n' +
      'web,FRONTEND,,,3,5,,,,,,,,,,,,OPEN\n' +
      'dispatchers,pair-1,0,0,2,4,,,,,,,,,,,,DRAIN\n' +
      'dispatchers,pair-2,0,0,0,4,,,,,,,,,,,,UP\n' +
      'dispatchers,BACKEND,0,0,2,4,,,,,,,,,,,,UP\n';
    expect(parseShowStat(csv)).toEqual([
      { backend: 'dispatchers', server: 'pair-1', status: 'DRAIN', sessions: 2 },
      { backend: 'dispatchers', server: 'pair-2', status: 'UP', sessions: 0 },
    ]);
  });

  it('renders an HAProxy configuration with one checked server per dispatcher', () => {
    const cfg = renderHaproxyConfig({ servers: [{ name: 'pair-1', host: 'dispatcher-1', port: 80 }, { name: 'pair-2', host: 'dispatcher-2', port: 80 }] });
    // The runtime API on a unix socket, reached from outside only with a client certificate from the environment's CA.
    expect(cfg).toMatch(/stats socket \/\S+ mode 600 level admin/);
    expect(cfg).toMatch(/bind :9999 ssl crt \S+ ca-file \S+ verify required ssl-min-ver TLSv1\.3\n(.*\n)*\s+server runtime-api unix@\//);
    expect(cfg.match(/^\s*server pair-\d dispatcher-\d:80 check/gm)).toHaveLength(2);
    expect(() => renderHaproxyConfig({ servers: [] })).toThrow();
  });
});

describe('execution messages', () => {
  const state = initialState({ pipelineId: 'unit', executionId: '1', trigger: 'MANUAL', mode: 'NORMAL', user: 'carol', config }, '2026-01-01T00:00:00.000Z');
  const now = Date.parse('2026-01-02T00:00:00Z');
  state.status = 'RUNNING';
  state.currentStepId = 'schedule';
  state.waiting = { stepId: 'schedule', action: 'schedule', since: '2026-01-02T00:00:00Z', expiresAt: '2026-01-16T00:00:00Z', accepts: ['schedule', 'cancel'], allowed: ['alice'] };

  it('checks payload shapes', () => {
    expect(payloadProblem('approve', 'alice')).toMatch(/one object argument/);
    expect(payloadProblem('schedule', { by: 'alice' })).toMatch(/exactly one of/);
    expect(payloadProblem('schedule', { by: 'alice', at: 'tomorrow' })).toMatch(/not an ISO 8601 time/);
    expect(payloadProblem('schedule', { by: 'alice', now: true })).toBeUndefined();
  });

  it('refuses a schedule in the past or beyond the waiting limit, and approvals when none waits', () => {
    const refused = (type: string, message: RegExp) => ({ type, message: expect.stringMatching(message) });
    expect(refusalReason('schedule', { by: 'alice', at: '2026-01-01T12:00:00Z' }, state, config, now)).toEqual(refused(Refusal.NotAllowedNow, /in the past/));
    expect(refusalReason('schedule', { by: 'alice', at: '2026-02-01T00:00:00Z' }, state, config, now))
      .toEqual(refused(Refusal.NotAllowedNow, /beyond the schedule step's waiting limit/));
    expect(refusalReason('schedule', { by: 'alice', at: '2026-01-05T00:00:00Z' }, state, config, now)).toBeUndefined();
    expect(refusalReason('schedule', { by: 'mallory', now: true }, state, config, now)).toEqual(refused(Refusal.Forbidden, /may not schedule/));
    expect(refusalReason('approve', { by: 'alice' }, state, config, now))
      .toEqual(refused(Refusal.NotWaiting, /not waiting for an approval decision \(current step: schedule/));
  });
});

describe('rollout plan', () => {
  it('groups pairs into windows', () => {
    expect(windowsOf(5, 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(windowsOf(3, 1)).toEqual([[1], [2], [3]]);
  });
});
