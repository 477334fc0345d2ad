/**
 * What the signed-in user may do to an execution right now, as forms, and what each form asks of the API. A form is
 * offered only when the API's representation has the link for it (the step waits for it, the execution may be
 * cancelled or re-executed), the user's roles allow the route, and the workflow's wait names the user among those it
 * accepts. A decision is made through the API's own routes, which sign it for the user; whatever they refuse is
 * shown with their reason.
 */
import { isAllowed, type ApiUser } from '../api/auth';
import { REL, paths, type PipelineExecutionRepresentation } from '../api/representation';
import type { ExecutionState } from '../shared/types';
import { html, type Html } from './html';
import { consolePaths } from './paths';

export const CONSOLE_ACTIONS = ['approve', 'reject', 'scheduleNow', 'scheduleAt', 'override', 'cancel', 'reExecute'] as const;
export type ConsoleAction = (typeof CONSOLE_ACTIONS)[number];

interface Offer { stepId: string; actions: Set<ConsoleAction> }

/** Whether the wait accepts `user` (an empty list: anyone). */
const waitAccepts = (state: ExecutionState, user: ApiUser) => !state.waiting?.allowed.length || state.waiting.allowed.includes(user.name);

export function offeredActions(state: ExecutionState, representation: PipelineExecutionRepresentation, user: ApiUser): Offer[] {
  const offers: Offer[] = [];
  for (const step of representation._embedded.stepStates) {
    const links = step._links;
    const actions = new Set<ConsoleAction>();
    if (links[REL.advance] && isAllowed(user, 'advance') && waitAccepts(state, user)) {
      const accepts = state.waiting!.accepts;
      if (accepts.includes('approve')) actions.add('approve');
      if (accepts.includes('reject')) actions.add('reject');
      if (accepts.includes('schedule')) { actions.add('scheduleNow'); actions.add('scheduleAt'); }
      if (accepts.includes('override')) actions.add('override');
    }
    if (links[REL.cancel] && isAllowed(user, 'cancel')) actions.add('cancel');
    if (links[REL.reExecute] && isAllowed(user, 'reExecute')) actions.add('reExecute');
    if (actions.size) offers.push({ stepId: step.stepId, actions });
  }
  return offers;
}

export function actionsSection(v: { state: ExecutionState; user: ApiUser }, representation: PipelineExecutionRepresentation): Html {
  const { state, user } = v;
  const offers = offeredActions(state, representation, user);
  const w = state.waiting;
  const waitLine = w ? html`<p>Waiting at <strong>${w.action}</strong> since ${new Date(w.since).toISOString().slice(11, 19)} UTC;
the wait ends <span data-countdown="${w.expiresAt}">at ${w.expiresAt}</span>.
${w.scheduledAt ? html` Scheduled to deploy <span data-countdown="${w.scheduledAt}">at ${w.scheduledAt}</span>.` : ''}
${w.required ? html` Approvals: ${w.approvedBy?.length ?? 0} of ${w.required}${w.approvedBy?.length ? ` (${w.approvedBy.join(', ')})` : ''}.` : ''}
${w.allowed.length ? html` Who may decide: ${w.allowed.join(', ')}.` : ''}</p>` : '';
  if (!offers.length) return w ? html`<section class="actions" aria-labelledby="h-actions"><h2 id="h-actions">Waiting</h2>${waitLine}<p>Nothing here for ${user.name} to do now.</p></section>` : html``;
  const action = consolePaths.actions(state.pipelineId, state.id);
  const form = (stepId: string, name: ConsoleAction, label: string, body: Html = html``, style = 'primary') =>
    html`<form method="post" action="${action}"><input type="hidden" name="step" value="${stepId}"><input type="hidden" name="action" value="${name}">${body}<button type="submit" class="${style}">${label}</button></form>`;
  return html`<section class="actions" aria-labelledby="h-actions"><h2 id="h-actions">Your actions</h2>${waitLine}
${offers.map(({ stepId, actions: a }) => html`
${a.has('approve') ? form(stepId, 'approve', 'Approve') : ''}
${a.has('scheduleNow') ? form(stepId, 'scheduleNow', 'Schedule now') : ''}
${a.has('scheduleAt') ? form(stepId, 'scheduleAt', 'Schedule', html`<label>Deploy at (UTC)<input type="datetime-local" name="at" required></label>`, 'secondary') : ''}
${a.has('override') ? form(stepId, 'override', 'Override these failures', html`<fieldset><legend>Failing metrics (every one must be overridden)</legend>
${(w?.metrics ?? []).map((m) => html`<label><input type="checkbox" name="metrics" value="${m}" checked required> ${m}</label>`)}</fieldset>`) : ''}
${a.has('reject') ? form(stepId, 'reject', 'Reject', html`<label>Reason (optional)<input type="text" name="reason" maxlength="1000"></label>`, 'danger') : ''}
${a.has('reExecute') ? form(stepId, 'reExecute', 'Re-execute the production deployment', html``, 'secondary') : ''}
${a.has('cancel') ? form(stepId, 'cancel', 'Cancel the execution', html`<label>Reason (optional)<input type="text" name="reason" maxlength="1000"></label>`, 'danger') : ''}`)}
</section>`;
}

export interface ApiCall { method: 'PUT'; url: string; body?: Record<string, unknown> }

/** The API request a submitted form stands for; undefined for a form the console does not make. */
export function apiCallFor(state: ExecutionState, form: Record<string, string | string[]>): ApiCall | undefined {
  const one = (key: string) => (Array.isArray(form[key]) ? form[key][0] : form[key]) as string | undefined;
  const stepId = one('step');
  const step = state.steps.find((s) => s.stepId === stepId);
  const action = one('action') as ConsoleAction | undefined;
  if (!step || !action || !CONSOLE_ACTIONS.includes(action)) return undefined;
  const url = paths.step({ programId: '1' }, state.pipelineId, state.id, step);
  const reason = one('reason')?.trim();
  const withReason = reason ? { reason } : {};
  switch (action) {
    case 'approve': return { method: 'PUT', url: `${url}/advance`, body: { approved: true } };
    case 'reject': return { method: 'PUT', url: `${url}/advance`, body: { approved: false, ...withReason } };
    case 'scheduleNow': return { method: 'PUT', url: `${url}/advance`, body: { type: 'IMMEDIATE' } };
    case 'scheduleAt': {
      // datetime-local has no zone: the form says UTC.
      const at = one('at') ?? '';
      return { method: 'PUT', url: `${url}/advance`, body: { type: 'SCHEDULED', schedule: /Z$|[+-]\d\d:\d\d$/.test(at) ? at : `${at}Z` } };
    }
    case 'override': {
      const metrics = ([] as string[]).concat(form.metrics ?? []);
      return { method: 'PUT', url: `${url}/advance`, body: { metrics: metrics.map((kpi) => ({ kpi, override: true })) } };
    }
    case 'cancel': return { method: 'PUT', url: `${url}/cancel`, body: { cancel: true, ...withReason } };
    case 'reExecute': return { method: 'PUT', url: `${url}/reExecute` };
  }
}
