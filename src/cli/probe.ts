/** Small checks the `dev` command and the demo make: is a port taken, does Temporal answer, does a worker poll. */
import net from 'node:net';
import fs from 'node:fs';
import { Connection, type Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** True when something accepts TCP connections on host:port. */
export function tcpAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when a Temporal frontend answers a client connection at `address` (host:port). */
export async function temporalAnswers(address: string, timeout: Duration = '3s'): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeout });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/** Identities of the workers polling a task queue for workflow tasks (recently seen by the server). */
export async function workflowPollers(client: Client, taskQueue: string): Promise<string[]> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    // TASK_QUEUE_KIND_NORMAL = 1, TASK_QUEUE_TYPE_WORKFLOW = 1 (temporal.api.enums.v1; @temporalio/proto is not a
    // direct dependency, so the values are spelled out).
    taskQueue: { name: taskQueue, kind: 1 },
    taskQueueType: 1,
  });
  return (response.pollers ?? []).map((p) => p.identity ?? '(unknown)');
}

/** True when `pid` names a live process. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a process (Linux /proc), or undefined. */
export function processCommandLine(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** The last `n` lines of a text file ('' when missing). */
export function tailLines(file: string, n = 20): string {
  try {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n).join('\n');
  } catch {
    return '';
  }
}
