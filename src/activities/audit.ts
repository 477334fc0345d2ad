/**
 * The content audit (Cloud Manager's Experience Audit): Lighthouse, driving Debian's Chromium headless on the worker,
 * scores the configured pages of Stage (performance, accessibility, best practices, SEO; 0-100), compares them with
 * the previous audit of the pipeline, and names the slowest pages. Full reports (JSON and HTML) go to the artifact
 * store; the execution keeps the scores and references. Never fails the step: when Lighthouse cannot run, the
 * result says why.
 */
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import type { ArtifactStore } from './artifacts';
import { executionRef } from '../config/paths';
import { httpGet, sitePage } from './health';
import type { PageResult } from './tests';

export const AUDIT_CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'] as const;
export type AuditCategory = (typeof AUDIT_CATEGORIES)[number];
export type AuditScores = Partial<Record<AuditCategory, number>>;
export type AuditChange = 'positive' | 'negative' | 'no change' | 'n/a';

/** Chromium's flags: headless, no sandbox (containers, root), nothing fetched in the background. */
export const CHROME_FLAGS = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps', '--mute-audio',
];

export interface AuditedPage {
  path: string;
  scores: AuditScores;
  /** Against the same page in the previous audit. */
  changes: Record<AuditCategory, AuditChange>;
  /** Lab metrics, milliseconds (cls: unitless). */
  timings?: { firstContentfulPaintMs?: number; largestContentfulPaintMs?: number; totalBlockingTimeMs?: number; cumulativeLayoutShift?: number; serverResponseMs?: number };
  reportRefs?: { json: string; html: string };
  error?: string;
}

export interface LighthouseAuditResult {
  ran: boolean;
  /** Why Lighthouse did not run (ran false). */
  reason?: string;
  lighthouseVersion?: string;
  pages: AuditedPage[];
  /** Averages over the pages that were scored, and their change against the previous audit's averages. */
  average: { scores: AuditScores; changes: Record<AuditCategory, AuditChange> };
  previousExecutionId?: string;
  /** Pages by performance score, worst first (at most 5). */
  slowest: Array<{ path: string; performance?: number; largestContentfulPaintMs?: number }>;
  summaryRef?: string;
  logRef?: string;
}

/** What executions started before Lighthouse was used ask for (no pipeline id): response time and size only. */
export interface LegacyAuditResult { pages: Array<PageResult & { bytes: number }> }

/** The pipeline's last audit: what the next one compares with. */
interface AuditRecord {
  executionId: string;
  at: string;
  pages: Record<string, AuditScores>;
  average: AuditScores;
  previous?: Omit<AuditRecord, 'previous'>;
}

export function changeOf(current: number | undefined, previous: number | undefined): AuditChange {
  if (current === undefined || previous === undefined) return 'n/a';
  return current > previous ? 'positive' : current < previous ? 'negative' : 'no change';
}

export function changesOf(current: AuditScores, previous: AuditScores | undefined): Record<AuditCategory, AuditChange> {
  return Object.fromEntries(AUDIT_CATEGORIES.map((c) => [c, changeOf(current[c], previous?.[c])])) as Record<AuditCategory, AuditChange>;
}

export function averageOf(pages: AuditScores[]): AuditScores {
  const average: AuditScores = {};
  for (const c of AUDIT_CATEGORIES) {
    const values = pages.map((p) => p[c]).filter((v): v is number => v !== undefined);
    if (values.length) average[c] = Math.round(values.reduce((a, b) => a + b, 0) / values.length);
  }
  return average;
}

export function slowestOf(pages: AuditedPage[], count = 5): LighthouseAuditResult['slowest'] {
  return pages
    .filter((p) => p.scores.performance !== undefined)
    .sort((a, b) => (a.scores.performance! - b.scores.performance!) || ((b.timings?.largestContentfulPaintMs ?? 0) - (a.timings?.largestContentfulPaintMs ?? 0)))
    .slice(0, count)
    .map((p) => ({ path: p.path, performance: p.scores.performance, largestContentfulPaintMs: p.timings?.largestContentfulPaintMs }));
}

/** Lighthouse's result, as far as the audit reads it. */
interface LighthouseResult {
  lhr: {
    lighthouseVersion: string;
    runtimeError?: { code: string; message: string };
    categories: Record<string, { score: number | null }>;
    audits: Record<string, { numericValue?: number }>;
  };
  report: string | string[];
}

type RunLighthouse = (url: string, flags: Record<string, unknown>) => Promise<LighthouseResult | undefined>;

export interface AuditDeps {
  artifacts: ArtifactStore;
  /** Finds the Chromium binary Lighthouse drives (asked at each audit: it may be installed while the worker runs). */
  chromium: () => Promise<string | undefined>;
}

export function createAuditActivities(deps: AuditDeps) {
  const latestRef = (pipelineId: string) => `${pipelineId}/audit-latest.json`;

  async function readLatest(pipelineId: string, executionId: string): Promise<Omit<AuditRecord, 'previous'> | undefined> {
    const text = await deps.artifacts.get(latestRef(pipelineId)).then((b) => b.toString('utf8'), () => undefined);
    if (!text) return undefined;
    try {
      const latest = JSON.parse(text) as AuditRecord;
      // A retried activity finds its own execution's record: compare with what that record compared with.
      if (latest.executionId === executionId) return latest.previous;
      const { previous: _previous, ...rest } = latest;
      return rest;
    } catch {
      return undefined;
    }
  }

  /**
   * Lighthouse on each configured page of Stage (the home page when none; at most 25). Executions started before
   * Lighthouse was used (no pipeline id in the input) get their earlier measurement: response time and size.
   */
  async function contentAudit(input: {
    baseUrl: string; pages: string[]; pipelineId?: string; executionId?: string;
  }): Promise<LighthouseAuditResult | LegacyAuditResult> {
    if (!input.pipelineId || !input.executionId) return measurePages(input);
    const { pipelineId, executionId } = input;
    const ctx = Context.current();
    const base = input.baseUrl.replace(/\/$/, '');
    const paths = (input.pages.length ? input.pages : ['/']).slice(0, 25);
    const previous = await readLatest(pipelineId, executionId);
    const ref = (name: string) => executionRef(pipelineId, executionId, `contentAudit/${name}`);
    const log = await deps.artifacts.openLog(ref('audit.log'));
    const notRun = (reason: string): LighthouseAuditResult => {
      log.write(`# Lighthouse did not run: ${reason}`);
      return {
        ran: false, reason, pages: paths.map((path) => ({ path, scores: {}, changes: changesOf({}, undefined) })),
        average: { scores: {}, changes: changesOf({}, undefined) }, previousExecutionId: previous?.executionId, slowest: [], logRef: log.ref,
      };
    };
    try {
      log.write(`# content audit of ${paths.length} page(s) of ${base}; previous audit: ${previous ? `execution ${previous.executionId}` : 'none'}`);
      const chromePath = await deps.chromium();
      if (!chromePath) return notRun('Chromium was not found (install Debian\'s chromium, or set STAGECOACH_CHROMIUM)');
      let lighthouse: RunLighthouse;
      let launch: (options: Record<string, unknown>) => Promise<{ port: number; kill(): unknown }>;
      try {
        lighthouse = (await import('lighthouse')).default as unknown as RunLighthouse;
        launch = (await import('chrome-launcher')).launch as unknown as typeof launch;
      } catch (err) {
        return notRun(`the lighthouse package cannot be loaded: ${(err as Error).message}`);
      }
      let chrome: { port: number; kill(): unknown };
      try {
        chrome = await launch({ chromePath, chromeFlags: CHROME_FLAGS, logLevel: 'silent' });
      } catch (err) {
        return notRun(`Chromium (${chromePath}) did not start: ${(err as Error).message}`);
      }
      const pages: AuditedPage[] = [];
      const slugs = new Set<string>();
      let version: string | undefined;
      try {
        for (const [index, path] of paths.entries()) {
          let name = slug(path);
          if (slugs.has(name)) name = `${name}-${index + 1}`;
          slugs.add(name);
          if (ctx.cancellationSignal.aborted) throw new CancelledFailure('content audit cancelled');
          ctx.heartbeat({ page: path });
          const beat = setInterval(() => ctx.heartbeat({ page: path }), 2000);
          const started = Date.now();
          try {
            const result = await lighthouse(sitePage(base, path).href, {
              port: chrome.port, output: ['json', 'html'], logLevel: 'error', onlyCategories: [...AUDIT_CATEGORIES],
            });
            if (!result) throw new Error('Lighthouse answered nothing');
            version = result.lhr.lighthouseVersion;
            const [json, html] = Array.isArray(result.report) ? result.report : [result.report, ''];
            const reportRefs = { json: await deps.artifacts.put(ref(`${name}.report.json`), json), html: await deps.artifacts.put(ref(`${name}.report.html`), html) };
            if (result.lhr.runtimeError) {
              pages.push({ path, scores: {}, changes: changesOf({}, undefined), reportRefs, error: `${result.lhr.runtimeError.code}: ${result.lhr.runtimeError.message}` });
              log.write(`${path}: Lighthouse error ${result.lhr.runtimeError.code}`);
              continue;
            }
            const scores: AuditScores = {};
            for (const c of AUDIT_CATEGORIES) {
              const score = result.lhr.categories[c]?.score;
              if (typeof score === 'number') scores[c] = Math.round(score * 100);
            }
            const audit = (id: string) => {
              const v = result.lhr.audits[id]?.numericValue;
              return typeof v === 'number' ? Math.round(v * (id === 'cumulative-layout-shift' ? 1000 : 1)) / (id === 'cumulative-layout-shift' ? 1000 : 1) : undefined;
            };
            const timings = {
              firstContentfulPaintMs: audit('first-contentful-paint'), largestContentfulPaintMs: audit('largest-contentful-paint'),
              totalBlockingTimeMs: audit('total-blocking-time'), cumulativeLayoutShift: audit('cumulative-layout-shift'),
              serverResponseMs: audit('server-response-time'),
            };
            pages.push({ path, scores, changes: changesOf(scores, previous?.pages[path]), timings, reportRefs });
            log.write(`${path}: ${AUDIT_CATEGORIES.map((c) => `${c} ${scores[c] ?? '-'}`).join(', ')} (${Math.round((Date.now() - started) / 1000)} s)`);
          } catch (err) {
            if (ctx.cancellationSignal.aborted) throw new CancelledFailure('content audit cancelled');
            pages.push({ path, scores: {}, changes: changesOf({}, undefined), error: (err as Error).message });
            log.write(`${path}: Lighthouse failed: ${(err as Error).message}`);
          } finally {
            clearInterval(beat);
          }
        }
      } finally {
        await Promise.resolve(chrome.kill()).catch(() => undefined);
      }
      const scored = pages.filter((p) => Object.keys(p.scores).length);
      const average = averageOf(scored.map((p) => p.scores));
      const result: LighthouseAuditResult = {
        ran: scored.length > 0,
        ...(scored.length ? {} : { reason: `Lighthouse scored no page: ${pages.map((p) => `${p.path} ${p.error}`).join('; ')}` }),
        lighthouseVersion: version, pages,
        average: { scores: average, changes: changesOf(average, previous?.average) },
        previousExecutionId: previous?.executionId,
        slowest: slowestOf(pages),
        logRef: log.ref,
      };
      result.summaryRef = await deps.artifacts.put(ref('summary.json'), JSON.stringify(result, null, 1));
      if (scored.length) {
        const record: AuditRecord = {
          executionId, at: new Date().toISOString(),
          pages: Object.fromEntries(scored.map((p) => [p.path, p.scores])), average, ...(previous ? { previous } : {}),
        };
        await deps.artifacts.put(latestRef(pipelineId), JSON.stringify(record, null, 1));
      }
      return result;
    } finally {
      await log.close();
    }
  }

  return { contentAudit };
}

/** `/` → `home`, `/about/team` → `about-team`. */
export function slug(path: string): string {
  return path.replace(/^\/+|\/+$/g, '').replace(/[^A-Za-z0-9._-]+/g, '-') || 'home';
}

/** Response time and size of each page: what the audit measured before Lighthouse. */
async function measurePages(input: { baseUrl: string; pages: string[] }): Promise<LegacyAuditResult> {
  const base = input.baseUrl.replace(/\/$/, '');
  const pages = [];
  for (const path of input.pages.slice(0, 25)) {
    const res = await httpGet(sitePage(base, path).href);
    pages.push({ path, status: res.status, ok: res.ok, ms: res.ms, bytes: res.body?.length ?? 0, problem: res.error });
  }
  return { pages };
}
