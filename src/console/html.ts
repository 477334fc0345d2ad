/**
 * HTML for the console, written as tagged templates that escape every value they interpolate: a value is text unless
 * it is already `Html` (another template's result), so a pipeline's or a user's words can never become markup.
 */
import fs from 'node:fs';
import path from 'node:path';

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

type Value = Html | string | number | boolean | undefined | null | Value[];

function render(value: Value): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  values.forEach((v, i) => { out += render(v) + strings[i + 1]; });
  return new Html(out);
}

/** The stylesheet, inlined in every page: one small file, and no request that could delay the first paint. */
const STYLE = fs.readFileSync(path.join(__dirname, 'console.css'), 'utf8');

export const SCRIPT_PATH = '/console/console.js';
export const CLIENT_SCRIPT = fs.readFileSync(path.join(__dirname, 'console.js'), 'utf8');

export interface PageFrame {
  title: string;
  /** The signed-in user, shown with a sign-out button; absent on the sign-in page. */
  user?: { name: string; roles: string[] };
  /** Where the page sits, for the breadcrumb: [label, href] pairs, the last one the page itself. */
  trail?: Array<[string, string]>;
  notice?: { kind: 'accepted' | 'refused'; text: string };
  body: Html;
}

export function page(frame: PageFrame): string {
  const trail = frame.trail ?? [];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<meta name="description" content="Stagecoach console: pipelines, executions, approvals and rollouts">
<title>${frame.title} · Stagecoach</title>
<style>${new Html(STYLE)}</style>
<script src="${SCRIPT_PATH}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">Stagecoach</a>
  ${frame.user ? html`<form method="post" action="/console/sign-out" class="who">
    <span>${frame.user.name}${frame.user.roles.length ? html` <small>(${frame.user.roles.join(', ')})</small>` : ''}</span>
    <button type="submit" class="link">Sign out</button>
  </form>` : ''}
</header>
${trail.length ? html`<nav aria-label="Breadcrumb" class="trail"><ol>${trail.map(([label, href], i) => html`<li>${i === trail.length - 1
    ? html`<a href="${href}" aria-current="page">${label}</a>` : html`<a href="${href}">${label}</a>`}</li>`)}</ol></nav>` : ''}
<main id="main">
${frame.notice ? html`<p class="notice ${frame.notice.kind}" role="${frame.notice.kind === 'refused' ? 'alert' : 'status'}">${frame.notice.kind === 'refused' ? 'Refused: ' : ''}${frame.notice.text}</p>` : ''}
${frame.body}
</main>
</body>
</html>`.text;
}

/** `1 min 5 s`, `3.2 s`: how long from `start` to `end` (now while it runs). */
export function duration(start: string | undefined, end: string | undefined, now = Date.now()): string {
  if (!start) return '';
  const ms = (end ? Date.parse(end) : now) - Date.parse(start);
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [h ? `${h} h` : '', m ? `${m} min` : '', `${s % 60} s`].filter(Boolean).join(' ');
}

/** A duration that the page keeps counting (console.js) while it has no end. */
export function elapsed(start: string | undefined, end: string | undefined, now = Date.now()): Html {
  if (!start) return html``;
  return end ? html`${duration(start, end, now)}` : html`<span data-since="${start}">${duration(start, undefined, now)}</span>`;
}

/** A time as a `<time>` element: UTC text, machine-readable attribute. */
export function timeOf(at: string | undefined): Html {
  if (!at) return html``;
  const d = new Date(at);
  return html`<time datetime="${d.toISOString()}">${d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time>`;
}

/** A status as a badge whose words say it (colour only repeats them). */
export function badge(status: string): Html {
  return html`<span class="badge s-${status.toLowerCase().replace(/[^a-z]+/g, '-')}">${status.replace(/_/g, ' ').toLowerCase()}</span>`;
}
