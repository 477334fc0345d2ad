/**
 * A bounded load generator for zero-downtime tests: a few workers send GETs to one 127.0.0.1 URL, a few dozen per
 * second, until stopped or until their time bound; every answer is recorded (status, version, time).
 */
import { eventually } from './wait';

export interface LoadSample { at: number; status?: number; version?: string | null; error?: string }

export interface LoadRun {
  stop(): Promise<LoadSample[]>;
  /** How many answers came back so far: a test waits for some before and after the change it measures. */
  answered(): number;
}

export function startLoad(url: string, options: { workers?: number; pauseMs?: number; maxSeconds?: number } = {}): LoadRun {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`load tests target 127.0.0.1 only, not ${url}`);
  const samples: LoadSample[] = [];
  const deadline = Date.now() + (options.maxSeconds ?? 180) * 1000;
  let running = true;
  const worker = async () => {
    while (running && Date.now() < deadline) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        samples.push({ at: Date.now(), status: res.status, version: res.headers.get('x-app-version') });
      } catch (err) {
        samples.push({ at: Date.now(), error: (err as Error).message });
      }
      await new Promise((r) => setTimeout(r, options.pauseMs ?? 40));
    }
  };
  const workers = Array.from({ length: options.workers ?? 2 }, worker);
  return {
    answered: () => samples.filter((x) => x.status !== undefined).length,
    async stop() {
      running = false;
      await Promise.all(workers);
      return samples;
    },
  };
}

/**
 * Waits until the load has `count` more answers than now: a change is measured with answers on both sides of it, so a
 * gap at its start or at its end is seen (a condition, never a fixed sleep).
 */
export async function moreAnswers(load: Pick<LoadRun, 'answered'>, count = 20, timeoutMs = 30_000): Promise<void> {
  const from = load.answered();
  await eventually(`${count} more answers under load`, () => (load.answered() >= from + count ? true : undefined), timeoutMs);
}

export function summarize(samples: LoadSample[]) {
  const ok = samples.filter((s) => s.status !== undefined && s.status >= 200 && s.status < 300);
  let maxGapMs = 0;
  for (let i = 1; i < ok.length; i++) maxGapMs = Math.max(maxGapMs, ok[i].at - ok[i - 1].at);
  return {
    total: samples.length,
    non2xx: samples.filter((s) => s.status !== undefined && (s.status < 200 || s.status >= 300)).length,
    errors: samples.filter((s) => s.error).length,
    maxGapMs,
    versions: [...new Set(ok.map((s) => s.version))],
  };
}

/** One simulated visitor's answers, in order: the version each came from, and the status. */
export interface VisitorTrace { answers: Array<{ status: number; version: string | null }>; errors: string[] }

export interface VisitorRun {
  stop(): Promise<VisitorTrace[]>;
  /** How many answers every visitor together has had so far. */
  answered(): number;
}

/**
 * Simulated visitors on one 127.0.0.1 URL, each sending one GET after another (bounded by `maxSeconds`). With
 * `cookies`, each keeps a cookie jar of its own (what the answers set is sent back, as a browser does); without, it
 * forgets every cookie, as a client that does not keep them.
 */
export function startVisitors(url: string, options: { visitors: number; cookies: boolean; pauseMs?: number; maxSeconds?: number }): VisitorRun {
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) throw new Error(`load tests target 127.0.0.1 only, not ${url}`);
  const deadline = Date.now() + (options.maxSeconds ?? 180) * 1000;
  const traces: VisitorTrace[] = Array.from({ length: options.visitors }, () => ({ answers: [], errors: [] }));
  let running = true;
  const visit = async (trace: VisitorTrace) => {
    const jar = new Map<string, string>();
    while (running && Date.now() < deadline) {
      try {
        const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
        const res = await fetch(url, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(5000) });
        await res.arrayBuffer();
        if (options.cookies) {
          for (const set of res.headers.getSetCookie()) {
            const [pair] = set.split(';');
            const eq = pair.indexOf('=');
            if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
          }
        }
        trace.answers.push({ status: res.status, version: res.headers.get('x-app-version') });
      } catch (err) {
        trace.errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, options.pauseMs ?? 400));
    }
  };
  const visitors = traces.map(visit);
  return {
    answered: () => traces.reduce((n, t) => n + t.answers.length, 0),
    async stop() {
      running = false;
      await Promise.all(visitors);
      return traces;
    },
  };
}

/** The versions one visitor saw, each run of equal answers once: `['1', '2']` is one change, `['1', '2', '1']` a flip back. */
export function versionChanges(trace: VisitorTrace): Array<string | null> {
  const seen: Array<string | null> = [];
  for (const a of trace.answers) if (seen.at(-1) !== a.version) seen.push(a.version);
  return seen;
}
