/**
 * The console without servers: its pages through the API app's `inject`, over a stub of the Stagecoach client that
 * answers a fixed execution state (sign-in, the actions a user is offered at a wait, escaping, a form's API call).
 */
import { describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { apiCallFor } from '../../src/console/actions';
import { html } from '../../src/console/html';
import { formatInsight, insightsBody } from '../../src/console/insights-page';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import type { ExecutionState } from '../../src/shared/types';
import { initialState } from '../../src/workflows/execution/state';

const config = parsePipelineConfig({
  id: 'unit', repository: '/tmp/repo', identity: 'declared',
  approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }] },
});
const T0 = '2030-01-01T00:00:00.000Z';

function waitingAtApproval(): ExecutionState {
  const s = initialState({ pipelineId: 'unit', executionId: '3', trigger: 'MANUAL', mode: 'NORMAL', user: 'carol<b>', config }, T0);
  s.status = 'RUNNING';
  for (const step of s.steps) {
    if (step.stepId === 'approval') break;
    step.status = 'FINISHED';
  }
  const approval = s.steps.find((x) => x.stepId === 'approval')!;
  approval.status = 'WAITING';
  s.currentStepId = 'approval';
  s.waiting = { stepId: 'approval', action: 'approval', since: T0, expiresAt: '2030-01-15T00:00:00.000Z', accepts: ['approve', 'reject', 'cancel'], allowed: ['alice', 'bob'] };
  return s;
}

const TOKENS = { alice: 'unit-console-alice-0001', carol: 'unit-console-carol-0002' };
const state = waitingAtApproval();
const stub = {
  executionState: async () => state,
  pipelineState: async () => ({ pipelineId: 'unit', running: { id: '3', workflowId: 'w', status: 'RUNNING', trigger: 'MANUAL', user: 'carol', createdAt: T0 }, executions: [], nextExecutionNumber: 4, audit: [] }),
};
const app = buildApi({
  stagecoach: stub as never, logger: false, artifactsDir: '/nonexistent',
  tokens: { users: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'], token: TOKENS.alice }, { name: 'carol', roles: ['DEVELOPER'], token: TOKENS.carol }] },
});
const cookie = (who: keyof typeof TOKENS) => `stagecoach_console=${TOKENS[who]}`;
const page = (who: keyof typeof TOKENS) => app.inject({ method: 'GET', url: '/console/pipelines/unit/executions/3', headers: { cookie: cookie(who) } });

describe('console', () => {
  it('sends a visitor without a session to sign in, and signs in with an API token only', async () => {
    const home = await app.inject({ method: 'GET', url: '/' });
    expect(home.statusCode).toBe(303);
    expect(home.headers.location).toBe('/console/sign-in');
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const bad = await app.inject({ method: 'POST', url: '/console/sign-in', headers: form, payload: 'token=not-a-valid-token-000' });
    expect(bad.statusCode).toBe(401);
    expect(bad.body).toContain('That token is not valid.');
    const good = await app.inject({ method: 'POST', url: '/console/sign-in', headers: form, payload: `token=${TOKENS.alice}` });
    expect(good.statusCode).toBe(303);
    expect(String(good.headers['set-cookie'])).toMatch(/stagecoach_console=unit-console-alice-0001; Path=\/; HttpOnly; SameSite=Strict/);
  });

  it('offers approve and reject at the approval to an approver with the role, and only cancel to a developer', async () => {
    const alice = await page('alice');
    expect(alice.statusCode).toBe(200);
    expect(alice.body).toContain('value="approve"');
    expect(alice.body).toContain('value="reject"');
    expect(alice.body).toContain('data-events="/console/pipelines/unit/executions/3/events"');
    // The starter's name is text, never markup.
    expect(alice.body).toContain('carol&lt;b&gt;');
    const carol = await page('carol');
    expect(carol.body).not.toContain('value="approve"');
    expect(carol.body).toContain('value="cancel"'); // a developer may cancel, not approve
  });

  it('turns a form into the API request Cloud Manager clients send', () => {
    const url = '/api/program/1/pipeline/unit/execution/3/phase/production/step/approval';
    expect(apiCallFor(state, { step: 'approval', action: 'approve' })).toEqual({ method: 'PUT', url: `${url}/advance`, body: { approved: true } });
    expect(apiCallFor(state, { step: 'approval', action: 'reject', reason: ' not today ' })).toEqual({ method: 'PUT', url: `${url}/advance`, body: { approved: false, reason: 'not today' } });
    expect(apiCallFor(state, { step: 'approval', action: 'scheduleAt', at: '2030-01-02T10:00' })?.body).toEqual({ type: 'SCHEDULED', schedule: '2030-01-02T10:00Z' });
    expect(apiCallFor(state, { step: 'nope', action: 'approve' })).toBeUndefined();
    expect(apiCallFor(state, { step: 'approval', action: 'format-disk' })).toBeUndefined();
  });

  it('streams the live sections of an execution, and ends the stream once the execution has ended', async () => {
    const ended = { ...waitingAtApproval(), status: 'CANCELLED' as const, waiting: undefined, finishedAt: T0 };
    const finishedApp = buildApi({
      stagecoach: { ...stub, executionState: async () => ended } as never, logger: false, artifactsDir: '/nonexistent',
      tokens: { users: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'], token: TOKENS.alice }] },
    });
    const events = await finishedApp.inject({ method: 'GET', url: '/console/pipelines/unit/executions/3/events', headers: { cookie: cookie('alice') } });
    expect(events.headers['content-type']).toMatch(/^text\/event-stream/);
    const [update, end] = events.body.split('\n\n');
    expect(update).toMatch(/^event: update\ndata: /);
    expect(Object.keys(JSON.parse(update.split('data: ')[1]) as object)).toEqual(['status', 'actions', 'phases', 'rollout', 'steps', 'audit']);
    expect(end).toBe('event: end\ndata: {}');
    // A page of an ended execution opens no stream.
    const ended3 = await finishedApp.inject({ method: 'GET', url: '/console/pipelines/unit/executions/3', headers: { cookie: cookie('alice') } });
    expect(ended3.body).not.toContain('data-events');
    await finishedApp.close();
  });

  it('escapes interpolated text', () => {
    expect(html`<p>${'<script>"&\''}</p>`.text).toBe('<p>&lt;script&gt;&quot;&amp;&#39;</p>');
  });
});

describe('the insights page', () => {
  it('formats each figure by its unit, and says when there is no data', () => {
    expect([formatInsight('count', 3), formatInsight('ratio', 0), formatInsight('ratio', 0.125), formatInsight('ratio', 1)]).toEqual(['3', '0 %', '12.5 %', '100 %']);
    expect([formatInsight('seconds', 42), formatInsight('seconds', 600), formatInsight('seconds', 3 * 3600), formatInsight('seconds', 3 * 86400)]).toEqual(['42 s', '10.0 min', '3.0 h', '3.0 d']);
    expect(formatInsight('seconds', null)).toBe('no data');
  });

  it('draws a bar per day with data, lists the executions behind a figure, and escapes what it shows', () => {
    const daily = [{ date: '2026-11-01', value: 2, executions: [] }, { date: '2026-11-02', value: null, executions: [] }, { date: '2026-11-03', value: 1, executions: [] }];
    const body = insightsBody({
      pipelineId: 'web<1>', start: '2026-11-01T00:00:00Z', end: '2026-11-04T00:00:00Z',
      series: [{ metric: 'deployment_frequency', all: { date: '2026-11-01', value: 3, executions: [{ pipelineId: 'web<1>', executionId: '7', status: 'FINISHED' }] }, daily }],
    }).text;
    const section = body.slice(body.indexOf('data-metric="deployment_frequency"'), body.indexOf('data-metric="lead_time_for_changes"'));
    expect(section.match(/<rect /g)).toHaveLength(2);
    expect(section).toContain('aria-label="Deployment frequency per day: 2 of 3 days with data"');
    expect(section).toContain('<strong class="figure">3</strong>');
    expect(section).toContain('From 1 execution(s)');
    expect(body).toContain('Insights of web&lt;1&gt;');
    expect(body).not.toContain('web<1>');
    // A metric the API gave nothing for reads "no data", with an empty chart.
    expect(body.slice(body.indexOf('data-metric="rework_rate"'))).toContain('<strong class="figure">no data</strong>');
  });
});
