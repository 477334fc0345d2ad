/** The console's pages other than the execution's: sign-in, the pipelines, one pipeline's executions, a step's log. */
import { badge, duration, html, timeOf, type Html } from './html';
import { consolePaths } from './paths';

export function signInBody(problem?: string): Html {
  return html`<h1>Sign in</h1>
<p>Use your Stagecoach API token: the console acts with its roles, and the executions record decisions in your name.</p>
${problem ? html`<p class="notice refused" role="alert">${problem}</p>` : ''}
<form method="post" action="${consolePaths.signIn}" class="filters">
<label>API token<input type="password" name="token" autocomplete="current-password" required minlength="16"></label>
<button type="submit" class="primary">Sign in</button>
</form>`;
}

/** The pipelines representation's items (GET /api/program/1/pipelines), with what a waiting one waits for. */
export interface PipelineRow {
  id: string; name?: string; status: string; lastStartedAt?: string; lastFinishedAt?: string;
  waitingFor?: string; running?: string; last?: { id: string; status: string };
  environments: Array<{ type: string; name: string; url?: string }>;
}

export function pipelinesBody(rows: PipelineRow[]): Html {
  return html`<h1>Pipelines</h1>
${rows.length ? html`<div class="table-wrap"><table>
<thead><tr><th scope="col">Pipeline</th><th scope="col">Status</th><th scope="col">Last execution</th><th scope="col">Environments</th></tr></thead>
<tbody>${rows.map((r) => html`<tr data-pipeline="${r.id}">
<td><a href="${consolePaths.pipeline(r.id)}">${r.name ?? r.id}</a>${r.name && r.name !== r.id ? html`<br><small class="muted">${r.id}</small>` : ''}</td>
<td>${badge(r.status)}${r.waitingFor ? html` for ${r.waitingFor}` : ''}${r.running ? html` (<a href="${consolePaths.execution(r.id, r.running)}">execution ${r.running}</a>)` : ''}</td>
<td>${r.last ? html`<a href="${consolePaths.execution(r.id, r.last.id)}">${r.last.id}</a> ${badge(r.last.status)}` : 'none'}${r.lastStartedAt ? html`<br><small>${timeOf(r.lastStartedAt)}</small>` : ''}</td>
<td>${r.environments.length ? html`<ul>${r.environments.map((e) => html`<li>${e.name}${e.url ? html`: <a href="${e.url}">${e.url}</a>` : ''}</li>`)}</ul>` : ''}</td>
</tr>`)}</tbody></table></div>` : html`<p>No pipeline is configured.</p>`}`;
}

/** An item of the executions representation (GET .../executions). */
export interface ExecutionRow {
  id: string; status: string; trigger: string; user: string; createdAt: string; finishedAt?: string; commitId?: string; artifactsVersion?: string;
}

export interface ExecutionFilter { status?: string; trigger?: string; user?: string }

export function filterExecutions(rows: ExecutionRow[], f: ExecutionFilter): ExecutionRow[] {
  return rows.filter((r) => (!f.status || r.status === f.status) && (!f.trigger || r.trigger === f.trigger)
    && (!f.user || r.user.toLowerCase().includes(f.user.toLowerCase())));
}

const select = (name: string, label: string, chosen: string | undefined, values: string[]) => html`<label>${label}<select name="${name}">
<option value="">any</option>${values.map((v) => html`<option value="${v}" ${v === chosen ? 'selected' : ''}>${v.toLowerCase().replace(/_/g, ' ')}</option>`)}</select></label>`;

export function pipelineBody(p: { id: string; status: string; canStart: boolean; rows: ExecutionRow[]; total: number; filter: ExecutionFilter; now: number }): Html {
  const shown = filterExecutions(p.rows, p.filter);
  return html`<h1>Pipeline ${p.id}</h1>
<p>${badge(p.status)} · <a href="${consolePaths.insights(p.id)}">Delivery insights</a></p>
${p.canStart ? html`<form method="post" action="${consolePaths.start(p.id)}"><button type="submit" class="primary">Start an execution</button></form>` : ''}
<h2>Executions</h2>
<form method="get" action="${consolePaths.pipeline(p.id)}" class="filters" role="search" aria-label="Filter executions">
${select('status', 'Outcome', p.filter.status, ['RUNNING', 'FINISHED', 'FAILED', 'CANCELLED', 'ERROR'])}
${select('trigger', 'Trigger', p.filter.trigger, ['MANUAL', 'ON_COMMIT', 'PUSH_UPGRADES', 'RE_EXECUTE'])}
<label>Who<input type="text" name="user" value="${p.filter.user ?? ''}"></label>
<button type="submit" class="secondary">Filter</button>
</form>
<p class="muted">${shown.length} of ${p.total} executions</p>
${shown.length ? html`<div class="table-wrap"><table>
<thead><tr><th scope="col">Execution</th><th scope="col">Outcome</th><th scope="col">Trigger</th><th scope="col">Who</th><th scope="col">Commit</th><th scope="col">Started</th><th scope="col">Duration</th></tr></thead>
<tbody>${shown.map((r) => html`<tr data-execution="${r.id}"><td><a href="${consolePaths.execution(p.id, r.id)}">${r.id}</a></td><td>${badge(r.status)}</td>
<td>${r.trigger.toLowerCase().replace(/_/g, ' ')}</td><td>${r.user}</td><td>${r.commitId ? html`<code>${r.commitId.slice(0, 12)}</code>` : ''}${r.artifactsVersion ? ` ${r.artifactsVersion}` : ''}</td>
<td>${timeOf(r.createdAt)}</td><td>${duration(r.createdAt, r.finishedAt, p.now)}</td></tr>`)}</tbody></table></div>` : ''}`;
}

export function logBody(l: { pipelineId: string; executionId: string; stepId: string; file: string; text: string; download: string; follow: boolean }): Html {
  return html`<h1>${l.file} of ${l.stepId}</h1>
<p><a href="${consolePaths.execution(l.pipelineId, l.executionId)}#step-${l.stepId}">Back to execution ${l.executionId}</a> ·
<a href="${l.download}" download="${l.file}">Download ${l.file}</a>${l.follow ? ' · following the running step' : ''}</p>
<pre class="log" tabindex="0" aria-label="${l.file}" ${l.follow ? html`data-follow="${l.download}" data-offset="${Buffer.byteLength(l.text)}"` : ''}>${l.text}</pre>`;
}

export function problemBody(status: number, message: string): Html {
  return html`<h1>${status === 404 ? 'Not found' : 'Something went wrong'}</h1><p class="notice refused" role="alert">${message}</p>
<p><a href="${consolePaths.home}">Back to the pipelines</a></p>`;
}
