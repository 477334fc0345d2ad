/* global document, window, EventSource, fetch, TextEncoder */
// The console's only script: live sections from the server's events, countdowns, and a log that follows its step.
// Every page works without it (plain links and forms); it only saves reloading.
'use strict';

function formatLeft(ms) {
  if (ms <= 0) return 'now';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return 'in ' + [d ? d + ' d' : '', h ? h + ' h' : '', m ? m + ' min' : '', (s % 60) + ' s'].filter(Boolean).join(' ');
}

function formatSince(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 10) return (Math.max(0, ms) / 1000).toFixed(1) + ' s';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [h ? h + ' h' : '', m ? m + ' min' : '', (s % 60) + ' s'].filter(Boolean).join(' ');
}

function tickCountdowns() {
  for (const el of document.querySelectorAll('[data-since]')) {
    el.textContent = formatSince(Date.now() - Date.parse(el.getAttribute('data-since')));
  }
  for (const el of document.querySelectorAll('[data-countdown]')) {
    el.textContent = formatLeft(Date.parse(el.getAttribute('data-countdown')) - Date.now());
  }
}

// A section is replaced when the server sends a new rendering of it, except while the user is typing in it: then
// once they leave it.
const pending = new Map();
function replaceSection(id, markup) {
  const el = document.getElementById(id);
  if (!el || el.innerHTML === markup) return;
  const active = document.activeElement;
  if (active && el.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) {
    pending.set(id, markup);
    return;
  }
  // Step details the user opened stay open when their section is rendered again.
  const opened = [...el.querySelectorAll('details[open][id]')].map((d) => d.id);
  el.innerHTML = markup;
  for (const id of opened) document.getElementById(id)?.setAttribute('open', '');
  tickCountdowns();
}
document.addEventListener('focusout', () => {
  window.setTimeout(() => {
    for (const [id, markup] of [...pending]) {
      pending.delete(id);
      replaceSection(id, markup);
    }
  }, 0);
});

function follow(source) {
  const events = new EventSource(source);
  events.addEventListener('update', (e) => {
    const sections = JSON.parse(e.data);
    for (const id of Object.keys(sections)) replaceSection(id, sections[id]);
  });
  // The execution has ended: nothing more will change.
  events.addEventListener('end', () => events.close());
}

// A running step's log: the bytes written since the last read, every 2 s (the download answers byte ranges).
function tail(pre) {
  let offset = Number(pre.getAttribute('data-offset')) || 0;
  const url = pre.getAttribute('data-follow');
  const until = Date.now() + 30 * 60 * 1000;
  const read = () => {
    if (Date.now() > until) return;
    fetch(url, { headers: { Range: 'bytes=' + offset + '-' } }).then((res) => {
      if (res.status !== 206) return res.status === 416 ? undefined : Promise.reject(new Error(String(res.status)));
      return res.text().then((text) => {
        offset += new TextEncoder().encode(text).length;
        pre.append(text);
      });
    }).then(() => window.setTimeout(read, 2000), () => undefined);
  };
  window.setTimeout(read, 2000);
}

// A link to a step's details opens them.
function openTarget() {
  const target = window.location.hash && document.getElementById(window.location.hash.slice(1));
  if (target && target.tagName === 'DETAILS') target.open = true;
}
window.addEventListener('hashchange', openTarget);

document.addEventListener('DOMContentLoaded', () => {
  openTarget();
  const live = document.querySelector('[data-events]');
  if (live) follow(live.getAttribute('data-events'));
  const log = document.querySelector('pre[data-follow]');
  if (log) tail(log);
  tickCountdowns();
  window.setInterval(tickCountdowns, 1000);
});
