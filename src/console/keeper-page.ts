/**
 * The console's page of an environment keeper (docs/keeper.md): what it keeps, each node's health, the last heal,
 * the heal budget and its log, from the API's keeper route; and the scale form, sent through the API's scale route
 * (which checks the role and signs the decision for the user).
 */
import type { KeeperState } from '../shared/keeper';
import { badge, html, timeOf, type Html } from './html';
import { consolePaths } from './paths';

const short = (image?: string) => image?.replace(/^sha256:/, '').slice(0, 12);

/** The keepers a pipeline has, for its page: the environment, the keeper's status and how many nodes are healthy. */
export function keepersSection(pipelineId: string, keepers: KeeperState[]): Html | '' {
  if (!keepers.length) return '';
  return html`<h2>Keepers</h2>
<ul class="keepers">${keepers.map((k) => html`<li data-keeper="${k.environmentType}"><a href="${consolePaths.keeper(pipelineId, k.environmentType)}">${k.environment ?? k.environmentType}</a>
${badge(k.status)} ${k.nodes.filter((n) => n.condition === 'healthy').length} of ${k.nodes.length} nodes healthy${k.lastHeal ? html` · last heal ${k.lastHeal.node} ${k.lastHeal.outcome}` : ''}</li>`)}</ul>`;
}

export function keeperBody(k: KeeperState, options: { canScale: boolean }): Html {
  const pairs = k.nodes.filter((n) => n.name.startsWith('pair-')).length;
  const heal = k.lastHeal;
  return html`<h1>Keeper of ${k.environment ?? k.environmentType}</h1>
<p>${badge(k.status)}${k.pausedBy ? html` for <a href="${consolePaths.execution(k.pipelineId, k.pausedBy)}">execution ${k.pausedBy}</a>` : ''} ·
${k.checks} checks every ${String(k.interval ?? '-')}${k.lastCheckAt ? html`, last ${timeOf(k.lastCheckAt)}` : ''} ·
heal budget ${k.budget.left} of ${k.budget.perHour} left this hour</p>
${k.release ? html`<p>Release of <a href="${consolePaths.execution(k.pipelineId, k.release.executionId)}">execution ${k.release.executionId}</a>:
app <code>${short(k.release.images.app) ?? '-'}</code>, dispatcher <code>${short(k.release.images.dispatcher) ?? '-'}</code>, finished ${timeOf(k.release.finishedAt)}</p>` : html`<p>No release yet: a deployment of this environment must finish first.</p>`}
<h2>Nodes</h2>
<div class="table-wrap"><table>
<thead><tr><th scope="col">Node</th><th scope="col">Condition</th><th scope="col">Seen</th><th scope="col">Checked</th></tr></thead>
<tbody>${k.nodes.map((n) => html`<tr data-node="${n.name}"><td>${n.name}</td><td>${badge(n.condition)}</td><td>${n.detail ?? ''}</td><td>${timeOf(n.checkedAt)}</td></tr>`)}</tbody>
</table></div>
<h2>Last heal</h2>
${heal ? html`<p data-heal="${heal.id}">${heal.node}: ${badge(heal.outcome)} (${heal.reason}), from execution ${heal.executionId}'s images, started ${timeOf(heal.startedAt)}${heal.endedAt ? html`, ended ${timeOf(heal.endedAt)}` : ''}${heal.detail ? html`<br><small>${heal.detail}</small>` : ''}</p>` : html`<p>None yet.</p>`}
${options.canScale ? html`<h2>Scale</h2>
<form method="post" action="${consolePaths.keeperScale(k.pipelineId, k.environmentType)}" class="filters">
<label>Pairs<input type="number" name="pairs" min="1" max="64" value="${String(pairs)}" required></label>
<button type="submit" class="primary">Scale</button>
</form>` : ''}
<h2>Log</h2>
${k.audit.length ? html`<ol class="log-entries" reversed>${[...k.audit].reverse().map((a) => html`<li data-what="${a.what}">${timeOf(a.at)} <strong>${a.what}</strong>${a.node ? ` ${a.node}` : ''}: ${a.detail}</li>`)}</ol>` : html`<p>Nothing yet.</p>`}`;
}
