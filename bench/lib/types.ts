/** What each benchmark receives and answers. */
import type { Client } from '@temporalio/client';
import type { DevServerKind } from './dev-server';
import type { WorkerChild } from './worker-child';
import type { WorkerProcessConfig } from './worker-process';

export type BenchSize = 'small' | 'full';

export interface Target {
  op: '<=' | '>=' | '<';
  value: number;
  /** How the issue words it, e.g. "p50 ≤ 30 ms per activity". */
  text: string;
}

export interface Metric {
  name: string;
  value: number;
  unit: string;
  target?: Target;
  /** Filled in by the runner from `target`. */
  met?: boolean;
  note?: string;
}

export interface BenchResult {
  id: number;
  name: string;
  /** What was measured, at this size (e.g. "N = 100 activities"). */
  scale: string;
  metrics: Metric[];
  details: Record<string, unknown>;
  durationMs?: number;
  error?: string;
}

export interface BenchContext {
  size: BenchSize;
  /** How the dev server the benchmarks run on is configured (bench/lib/dev-server.ts). */
  devServer: DevServerKind;
  client: Client;
  address: string;
  namespace: string;
  tmpDir: string;
  /** Paths of the prebuilt workflow bundles (benchmark 7 builds them). */
  bundlePath: string;
  noopBundlePath: string;
  /** Names of the real activities (createActivities), for the fake worker. */
  realActivityNames: string[];
  /** The fake worker shared by benchmarks 1, 2, 5 and 6 (benchmark 4 starts its own, one per K). */
  sharedWorker(): Promise<WorkerChild>;
  workerConfig(extra?: Partial<WorkerProcessConfig>): WorkerProcessConfig;
  log(message: string): void;
}

export const NOOP_TASK_QUEUE = 'bench-noop';

export function met(target: Target, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  switch (target.op) {
    case '<=': return value <= target.value;
    case '>=': return value >= target.value;
    case '<': return value < target.value;
  }
}
