/**
 * The execution page, as sections the server renders whole and sends again over server-sent events whenever the
 * workflow's state changes them (the client swaps a section's content; see console.js). Everything shown comes from
 * the execution workflow's state and the API's representation of it (toPipelineExecution, toMetrics, logFilesOf).
 */
import type { ApiUser } from '../api/auth';
import { logFilesOf, toMetrics, toPipelineExecution } from '../api/representation';
import { executionWorkflowId } from '../shared/ids';
import { isTerminal, type AuditEntry, type ExecutionState, type PipelineState, type RolloutState, type StepState } from '../shared/types';
import { actionsSection } from './actions';
import { badge, elapsed, html, timeOf, type Html } from './html';
import { consolePaths } from './paths';

export interface ExecutionView {
  state: ExecutionState;
  pipeline?: PipelineState;
  user: ApiUser;
  /** Base URL of the Temporal Web UI, for the link to the same execution there. */
  webUi: string;
  now: number;
}

/** Cloud Manager's names of the three phases. */
const PHASE_NAMES: Record<string, string> = { stageDeployment: 'Build and Stage deployment', stageTesting: 'Stage testing', production: 'Production' };
const CATEGORY_NAMES: Record<string, string> = { performance: 'Performance', accessibility: 'Accessibility', 'best-practices': 'Best practices', seo: 'SEO' };

const stepName = (s: Pick<StepState, 'action' | 'environment'>) => (s.environment ? `${s.action} ${s.environment}` : s.action);
const summaryOf = (s: StepState) => (typeof s.details.summary === 'string' ? s.details.summary : '');

/** The sections of the page that change as the execution runs, by element id. */
export function executionSections(v: ExecutionView): Record<string, Html> {
  const representation = toPipelineExecution(v.state, { programId: '1' }, v.pipeline);
  return {
    status: statusSection(v),
    actions: actionsSection(v, representation),
    phases: phasesSection(v, representation.phases),
    rollout: rolloutSection(v.state),
    steps: stepDetailsSection(v),
    audit: auditSection(v.state.audit),
  };
}

export function executionBody(v: ExecutionView): Html {
  const s = v.state;
  const sections = executionSections(v);
  const live = isTerminal(s.status) ? undefined : consolePaths.events(s.pipelineId, s.id);
  const webUiUrl = `${v.webUi.replace(/\/+$/, '')}/namespaces/default/workflows/${encodeURIComponent(executionWorkflowId(s.pipelineId, s.id))}`;
  const section = (id: string, title: string) => html`<section aria-labelledby="h-${id}"><h2 id="h-${id}">${title}</h2><div id="${id}">${sections[id]}</div></section>`;
  return html`<div ${live ? html`data-events="${live}"` : ''}>
<h1>Execution ${s.id} of ${s.pipelineId}</h1>
<div id="status" aria-live="polite">${sections.status}</div>
<p><a href="${webUiUrl}">Open this execution in the Temporal Web UI</a></p>
<div id="actions">${sections.actions}</div>
${section('phases', 'Phases and steps')}
${section('rollout', 'Rollout')}
${section('steps', 'Step details')}
${section('audit', 'Audit log')}
</div>`;
}

function statusSection(v: ExecutionView): Html {
  const s = v.state;
  return html`<dl class="facts">
<dt>Status</dt><dd>${badge(s.status)}${s.waiting ? html` waiting at <strong>${s.waiting.action}</strong>` : ''}${s.reason ? html` — ${s.reason}` : ''}</dd>
<dt>Started</dt><dd>${timeOf(s.createdAt)} by ${s.user} (${s.trigger.toLowerCase().replace(/_/g, ' ')}, ${s.mode.toLowerCase()})</dd>
<dt>Duration</dt><dd>${elapsed(s.createdAt, s.finishedAt ?? (isTerminal(s.status) ? s.updatedAt : undefined), v.now)}</dd>
<dt>Commit</dt><dd>${s.commitId ? html`<code>${s.commitId.slice(0, 12)}</code>` : 'not yet known'} on ${s.branch}${s.artifacts.version ? ` (version ${s.artifacts.version})` : ''}</dd>
${s.reExecutionOf ? html`<dt>Re-executes</dt><dd><a href="${consolePaths.execution(s.pipelineId, s.reExecutionOf)}">execution ${s.reExecutionOf}</a></dd>` : ''}
${Object.entries(s.urls ?? {}).map(([env, url]) => html`<dt>${env === 'prod' ? 'Production' : 'Stage'}</dt><dd><a href="${url}">${url}</a></dd>`)}
</dl>`;
}

function phasesSection(v: ExecutionView, phases: Array<{ phaseId: string; status: string; stepIds: string[] }>): Html {
  return html`<div class="phases">${phases.map((p) => html`<div class="phase">
<h3><span>${PHASE_NAMES[p.phaseId] ?? p.phaseId}</span>${badge(p.status)}</h3>
<ol class="steps">${v.state.steps.filter((s) => s.phaseId === p.phaseId).map((s) => html`<li data-step="${s.stepId}">
<div class="row"><a href="#step-${s.stepId}">${stepName(s)}</a>${badge(s.status)}</div>
<div class="when">${s.startedAt ? html`${timeOf(s.startedAt)} · ${elapsed(s.startedAt, s.finishedAt, v.now)}` : 'not started'}</div>
</li>`)}</ol></div>`)}</div>`;
}

function rolloutSection(s: ExecutionState): Html {
  const rollouts = (['stage', 'prod'] as const).map((t) => s.rollouts?.[t]).filter((r): r is RolloutState => r !== undefined);
  if (!rollouts.length) return html`<p class="muted">No rollout yet.</p>`;
  return html`${rollouts.map((r) => html`<h3>${r.environmentType === 'prod' ? 'Production' : 'Stage'} (${r.environment}) ${badge(r.status)}</h3>
${r.waitingFor ? html`<p>Waiting for ${r.waitingFor}</p>` : ''}${r.reason ? html`<p>${r.reason}</p>` : ''}
<ol class="nodes" aria-label="Nodes of ${r.environment}" data-environment="${r.environmentType}">${r.nodes.map((n) => html`<li class="${n.name === r.currentNode ? 'current' : ''}" data-node="${n.name}">
<strong>${n.name}</strong> ${badge(n.phase)}${n.updatedAt ? html`<br><small>${timeOf(n.updatedAt)}</small>` : ''}${n.error ? html`<br><small>${n.error}</small>` : ''}
</li>`)}</ol>`)}`;
}

function stepDetailsSection(v: ExecutionView): Html {
  const started = v.state.steps.filter((s) => s.status !== 'NOT_STARTED');
  if (!started.length) return html`<p class="muted">No step has started yet.</p>`;
  return html`${started.map((s) => html`<details class="step" id="step-${s.stepId}" ${opensByItself(s) ? 'open' : ''}>
<summary>${stepName(s)} — ${s.status.toLowerCase().replace(/_/g, ' ')}</summary>
${summaryOf(s) ? html`<p>${summaryOf(s)}</p>` : ''}
${stepSpecifics(v.state, s)}
${filesOf(v.state, s)}
</details>`)}`;
}

/** Open at first: the step in progress or waiting, one that failed, and the results a release manager reads first. */
function opensByItself(s: StepState): boolean {
  if (s.status === 'RUNNING' || s.status === 'WAITING' || s.status === 'FAILED') return true;
  return s.action === 'contentAudit' || toMetrics(s).metrics.some((m) => !m.passed);
}

function stepSpecifics(state: ExecutionState, s: StepState): Html {
  const d = s.details;
  const parts: Html[] = [];
  if (s.action === 'build' && state.artifacts.unitTests) {
    const t = state.artifacts.unitTests;
    parts.push(html`<h3>Unit tests</h3><p>${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped${t.coverage ? `; coverage ${t.coverage.percent}%` : ''}</p>`);
  }
  const metrics = toMetrics(s).metrics;
  if (metrics.length && s.action !== 'contentAudit') {
    parts.push(html`<h3>Metrics</h3><div class="table-wrap"><table><caption class="muted">Failing metrics are highlighted</caption>
<thead><tr><th scope="col">Metric</th><th scope="col">Tier</th><th scope="col">Actual</th><th scope="col">Expected</th><th scope="col">Result</th></tr></thead>
<tbody>${metrics.map((m) => html`<tr class="${m.passed ? '' : 'failing'}"><td>${m.kpi}</td><td>${m.severity}</td><td>${m.actualValue ?? ''}</td>
<td>${m.comparator ? `${m.comparator} ` : ''}${m.expectedValue ?? ''}</td><td>${badge(m.passed ? 'passed' : m.override ? 'overridden' : 'failed')}</td></tr>`)}</tbody></table></div>`);
  }
  const tests = d.tests as { total: number; passed: number; failed: number; skipped: number; failures?: string[] } | undefined;
  if (tests && typeof tests.total === 'number') {
    parts.push(html`<h3>Test results</h3><p>${tests.passed} of ${tests.total} passed, ${tests.failed} failed, ${tests.skipped} skipped</p>
${tests.failures?.length ? html`<ul>${tests.failures.map((f) => html`<li>${f}</li>`)}</ul>` : ''}`);
  }
  const scores = d.scores as Record<string, number | undefined> | undefined;
  if (s.action === 'contentAudit' && scores && Object.keys(scores).length) {
    const changes = (d.changes ?? {}) as Record<string, string>;
    const previous = typeof d.previousExecutionId === 'string' ? d.previousExecutionId : undefined;
    parts.push(html`<h3>Lighthouse scores</h3><div class="table-wrap"><table>
<thead><tr><th scope="col">Category</th><th scope="col">Score</th><th scope="col">Change against ${previous ? html`<a href="${consolePaths.execution(state.pipelineId, previous)}">execution ${previous}</a>` : 'the previous execution'}</th></tr></thead>
<tbody>${Object.keys(CATEGORY_NAMES).filter((c) => scores[c] !== undefined).map((c) => html`<tr data-category="${c}"><th scope="row">${CATEGORY_NAMES[c]}</th><td>${scores[c]}</td><td>${badge(changes[c] ?? 'n/a')}</td></tr>`)}</tbody></table></div>`);
  }
  return html`${parts}`;
}

function filesOf(state: ExecutionState, s: StepState): Html {
  const files = logFilesOf(state, s);
  if (!files.length) return html``;
  const screenshots = files.filter((f) => /\.png$/i.test(f.file));
  return html`<h3>Logs and reports</h3><ul>${files.map((f) => html`<li>${f.name}: <a href="${consolePaths.log(state.pipelineId, state.id, s.stepId, f.file)}">view</a>
· <a href="${consolePaths.file(state.pipelineId, state.id, s.stepId, f.file)}" download="${f.file}">download</a></li>`)}</ul>
${screenshots.length ? html`<div class="screens">${screenshots.map((f) => html`<a href="${consolePaths.file(state.pipelineId, state.id, s.stepId, f.file)}"><img src="${consolePaths.file(state.pipelineId, state.id, s.stepId, f.file)}" alt="Screenshot ${f.file}" width="256" height="160" loading="lazy"></a>`)}</div>` : ''}`;
}

function auditSection(audit: AuditEntry[]): Html {
  if (!audit.length) return html`<p class="muted">No decision yet.</p>`;
  return html`<div class="table-wrap"><table>
<thead><tr><th scope="col">Time</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Outcome</th><th scope="col">Reason</th></tr></thead>
<tbody>${[...audit].reverse().map((a) => html`<tr><td>${timeOf(a.at)}</td><td>${a.label ?? a.by}</td><td>${a.action}${a.step ? ` (${a.step})` : ''}</td><td>${badge(a.outcome)}</td><td>${a.reason ?? ''}</td></tr>`)}</tbody></table></div>`;
}
