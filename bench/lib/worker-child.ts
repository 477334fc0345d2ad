/** The parent's handle on a bench worker process (worker-process.ts): start, ask, stop. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { WORKER_NODE_OPTIONS } from '../../src/config/worker-memory';
import type { ActivityStart } from './fake-activities';
import type { WorkerProcessConfig, WorkerRequest, WorkerStats } from './worker-process';

/** The worker process's Node/V8 flags: BENCH_WORKER_NODE_ARGS if set (even empty), else WORKER_NODE_OPTIONS. */
export function workerNodeArgs(): string[] {
  return (process.env.BENCH_WORKER_NODE_ARGS ?? WORKER_NODE_OPTIONS).split(/\s+/).filter(Boolean);
}

type Pending = { resolve(value: unknown): void; reject(err: Error): void };
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export class WorkerChild {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private exited?: string;
  /** Activity names that had no fake and were registered as generic no-ops. */
  missing: string[] = [];

  private constructor(private readonly child: ChildProcess) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(config: WorkerProcessConfig, timeoutMs = 60_000): Promise<WorkerChild> {
    const child = fork(path.join(__dirname, 'worker-process.ts'), [], {
      // The worker's V8 flags as docker-compose.yml sets them (WORKER_NODE_OPTIONS in src/config/worker-memory.ts);
      // BENCH_WORKER_NODE_ARGS replaces them (empty: Node's defaults).
      execArgv: ['--import', 'tsx', ...workerNodeArgs()],
      env: { ...process.env, BENCH_WORKER_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const handle = new WorkerChild(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench worker did not start within ${timeoutMs / 1000} s`)), timeoutMs);
      child.on('message', (message: { type: string; id?: number; data?: unknown; error?: string; message?: string; missing?: string[] }) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          handle.missing = message.missing ?? [];
          resolve();
        } else if (message.type === 'error') {
          clearTimeout(timer);
          handle.exited = message.message;
          reject(new Error(`bench worker failed: ${message.message}`));
        } else if (message.type === 'reply' && message.id !== undefined) {
          const pending = handle.pending.get(message.id);
          handle.pending.delete(message.id);
          if (message.error) pending?.reject(new Error(message.error));
          else pending?.resolve(message.data);
        }
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        handle.exited ??= `exited with ${signal ?? code}`;
        for (const p of handle.pending.values()) p.reject(new Error(`bench worker ${handle.exited}`));
        handle.pending.clear();
        reject(new Error(`bench worker ${handle.exited} before it was ready`));
      });
    });
    return handle;
  }

  private request<T>(request: DistributiveOmit<WorkerRequest, 'id'>, timeoutMs = 60_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`bench worker ${this.exited}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`bench worker did not answer ${request.type} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.child.send({ ...request, id });
    });
  }

  stats(resetPeak = false): Promise<WorkerStats> {
    return this.request({ type: 'stats', resetPeak });
  }

  firstStarts(workflowIds: string[]): Promise<Array<ActivityStart | null>> {
    return this.request({ type: 'firstStarts', workflowIds });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    try {
      await this.request({ type: 'stop' }, 30_000);
    } catch {
      this.child.kill('SIGKILL');
    }
  }
}
