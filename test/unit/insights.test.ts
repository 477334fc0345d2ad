/**
 * The DORA figures on a fixture of executions with known commit times, outcomes and re-executions: every figure is
 * the value worked out by hand in the comments, and every point names the executions it came from.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createGitActivities } from '../../src/activities/git';
import { doraMetric, type DoraMetric, type DoraInterval, type EnvironmentTier } from '../../src/observability/insights';
import type { ExecutionState, StepState, StepStatus, Trigger, ExecutionMode } from '../../src/shared/types';

/** `01T08:00` (or `01T08:00:30`) in March 2026, UTC. */
const T = (s: string) => `2026-03-${s}${s.split(':').length === 2 ? ':00' : ''}.000Z`;

interface Fixture {
  id: string; pipeline?: string; trigger?: Trigger; mode?: ExecutionMode; commit?: string;
  prod?: [start: string, end: string, status: StepStatus]; stage?: [start: string, end: string, status: StepStatus];
}

function deployStep(environmentType: 'stage' | 'prod', deploy: Fixture['prod']): StepState {
  return {
    id: environmentType === 'stage' ? '5' : '12', stepId: `deploy-${environmentType}`, phaseId: environmentType === 'stage' ? 'stageDeployment' : 'production',
    action: 'deploy', environmentType, environment: environmentType, details: {},
    ...(deploy ? { status: deploy[2], startedAt: T(deploy[0]), finishedAt: T(deploy[1]) } : { status: 'NOT_STARTED' }),
  };
}

function execution(f: Fixture): ExecutionState {
  return {
    id: f.id, pipelineId: f.pipeline ?? 'shop', pipelineType: 'fullStack', status: 'FINISHED', trigger: f.trigger ?? 'MANUAL', mode: f.mode ?? 'NORMAL',
    user: 'dana', createdAt: T('01T00:00'), updatedAt: T('01T00:00'), repository: 'r', branch: 'main',
    ...(f.commit ? { commitTime: T(f.commit) } : {}),
    steps: [deployStep('stage', f.stage), deployStep('prod', f.prod)],
    artifacts: { reports: [] }, rollouts: {}, urls: {}, audit: [],
  };
}

const FIXTURE = [
  execution({ id: '1', commit: '01T08:00', prod: ['01T10:00', '01T10:30', 'FINISHED'] }), // lead 2 h 30 = 9000 s
  execution({ id: '2', commit: '01T12:00', prod: ['01T14:00', '01T14:20', 'ROLLED_BACK'] }), // incident opens
  execution({ id: '3', commit: '01T15:00', prod: ['01T16:00', '01T16:10', 'FINISHED'] }), // lead 4200 s; restores 2 after 6600 s
  execution({ id: '4', trigger: 'RE_EXECUTE', prod: ['01T18:00', '01T18:05', 'FINISHED'] }), // rework (1 h 50 after 3): 3 is a failed change
  execution({ id: '5', commit: '02T09:00', prod: ['02T09:30', '02T09:40', 'FAILED'] }), // incident opens
  execution({ id: '6', commit: '02T10:00', prod: ['02T10:30', '02T10:50', 'FAILED'] }), // same incident
  execution({ id: '7', mode: 'EMERGENCY', commit: '02T11:00', prod: ['02T11:15', '02T11:45', 'FINISHED'] }), // rework; lead 2700 s; restores 5 after 7500 s
  execution({ id: '8', commit: '05T08:00', prod: ['05T09:00', '05T09:20', 'FINISHED'] }), // lead 4800 s
  execution({ id: '9', trigger: 'RE_EXECUTE', prod: ['07T12:00', '07T12:10', 'FINISHED'] }), // 3 days after 8: not rework
  execution({ id: '10', commit: '07T13:00' }), // cancelled before Production: no deployment
  execution({ id: '11', commit: '07T14:00', stage: ['07T14:10', '07T14:20', 'FINISHED'] }), // Stage only
  execution({ id: '1', pipeline: 'blog', commit: '01T00:00', prod: ['01T06:00', '01T06:00:30', 'FINISHED'] }), // lead 21630 s
  execution({ id: '2', pipeline: 'blog', commit: '07T00:00', prod: ['07T23:00', '08T00:00', 'FINISHED'] }), // ends at the range's end: out
];

const figure = (metric: DoraMetric, interval: DoraInterval, tier: EnvironmentTier = 'production') =>
  doraMetric(FIXTURE, { metric, interval, tier, start: new Date('2026-03-01T00:00:00Z'), end: new Date('2026-03-08T00:00:00Z') });
const values = (metric: DoraMetric, interval: DoraInterval) => figure(metric, interval).map((p) => [p.date, p.value]);
const ids = (metric: DoraMetric, interval: DoraInterval) => figure(metric, interval).map((p) => p.executions.map((c) => `${c.pipelineId}/${c.executionId}`));

describe('insights: DORA figures on a fixture computed by hand', () => {
  it('deployment frequency: successful Production deployments per day, month, range', () => {
    expect(values('deployment_frequency', 'daily')).toEqual([
      ['2026-03-01', 4], ['2026-03-02', 1], ['2026-03-03', 0], ['2026-03-04', 0], ['2026-03-05', 1], ['2026-03-06', 0], ['2026-03-07', 1],
    ]);
    expect(values('deployment_frequency', 'monthly')).toEqual([['2026-03-01', 7]]);
    expect(values('deployment_frequency', 'all')).toEqual([['2026-03-01', 7]]);
    expect(ids('deployment_frequency', 'all')).toEqual([['shop/1', 'shop/3', 'shop/4', 'shop/7', 'shop/8', 'shop/9', 'blog/1']]);
    expect(figure('deployment_frequency', 'all', 'staging').map((p) => p.value)).toEqual([1]);
  });

  it('lead time for changes: median seconds from commit to the Production deployment\'s end', () => {
    // Day 1: 4200, 9000, 21630 → 9000. Day 2: 2700. Day 5: 4800. Range: 2700 4200 4800 9000 21630 → 4800.
    expect(values('lead_time_for_changes', 'daily').filter(([, v]) => v !== null)).toEqual([['2026-03-01', 9000], ['2026-03-02', 2700], ['2026-03-05', 4800]]);
    expect(values('lead_time_for_changes', 'all')).toEqual([['2026-03-01', 4800]]);
    expect(figure('lead_time_for_changes', 'all')[0].executions.find((c) => c.executionId === '1' && c.pipelineId === 'blog')?.seconds).toBe(21630);
  });

  it('change failure rate: failed, rolled back, or followed within the window by a re-execution or an emergency fix', () => {
    // 10 deployments; failed changes 2 (rolled back), 3 (reworked by 4), 5, 6 → 0.4. Day 1: 2 of 5; day 2: 2 of 3.
    expect(values('change_failure_rate', 'all')).toEqual([['2026-03-01', 0.4]]);
    const daily = figure('change_failure_rate', 'daily');
    expect(daily.map((p) => [p.date, p.value])).toEqual([
      ['2026-03-01', 0.4], ['2026-03-02', 2 / 3], ['2026-03-03', null], ['2026-03-04', null], ['2026-03-05', 0], ['2026-03-06', null], ['2026-03-07', 0],
    ]);
    expect(daily[0].executions.filter((c) => c.failed).map((c) => [c.executionId, c.why])).toEqual([['2', 'ROLLED_BACK'], ['3', 'followed by rework shop/4']]);
    // A window shorter than the 1 h 50 between 3 and 4: 3 is no longer a failed change, nor 4 rework.
    const narrow = doraMetric(FIXTURE, { metric: 'change_failure_rate', interval: 'all', tier: 'production', start: new Date('2026-03-01T00:00:00Z'), end: new Date('2026-03-08T00:00:00Z'), reworkWindowMs: 3600_000 });
    expect(narrow[0].value).toBe(0.3); // 2, 5, 6 of 10 (7 came 25 min after 6: still rework, but 6 had failed anyway)
  });

  it('time to restore service: from the failure that opened an incident to the next successful deployment', () => {
    // 2 → 3: 6600 s; 5 → 7: 7500 s (6 is the same incident). Median 7050.
    expect(values('time_to_restore_service', 'all')).toEqual([['2026-03-01', 7050]]);
    expect(figure('time_to_restore_service', 'all')[0].executions.map((c) => [c.executionId, c.seconds, c.restoredBy])).toEqual([['2', 6600, 'shop/3'], ['5', 7500, 'shop/7']]);
    expect(values('time_to_restore_service', 'daily').filter(([, v]) => v !== null)).toEqual([['2026-03-01', 6600], ['2026-03-02', 7500]]);
  });

  it('rework rate: deployments that re-executed or fixed the one before within the window', () => {
    // 4 and 7 of 10 → 0.2; 9 came 3 days after 8. Day 1: 1 of 5; day 2: 1 of 3.
    expect(values('rework_rate', 'all')).toEqual([['2026-03-01', 0.2]]);
    expect(values('rework_rate', 'daily').slice(0, 2)).toEqual([['2026-03-01', 0.2], ['2026-03-02', 1 / 3]]);
    expect(figure('rework_rate', 'all')[0].executions.filter((c) => c.rework).map((c) => c.executionId)).toEqual(['4', '7']);
  });
});

describe('where lead time starts', () => {
  it('resolveBranch answers when the commit was made, as the execution records it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-commit-time-'));
    try {
      const repo = path.join(dir, 'repo');
      fs.mkdirSync(repo);
      const env = { ...process.env, GIT_COMMITTER_DATE: '2026-03-01T08:00:00Z', GIT_AUTHOR_DATE: '2026-03-01T07:00:00Z' };
      const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { env });
      git('init', '-q', '-b', 'main');
      fs.writeFileSync(path.join(repo, 'VERSION'), '1.0.0\n');
      git('add', '.');
      git('commit', '-q', '-m', 'one');
      const resolved = await createGitActivities({ stateDir: path.join(dir, 'state') }).activities.resolveBranch({ repository: repo, branch: 'main' });
      expect(resolved).toMatchObject({ version: '1.0.0', committedAt: '2026-03-01T08:00:00.000Z' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
