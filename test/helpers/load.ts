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
