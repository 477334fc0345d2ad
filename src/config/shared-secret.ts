/**
 * One secret for all workers of a deployment. Every dispatcher's purge token and every load balancer's runtime API
 * certificates derive from the worker's secret, and a rollout may create a node on one worker and drive it from
 * another: workers with different secrets lock each other out (HTTP 403 on BAN, a refused TLS handshake). So a worker
 * refuses to start when
 * - the deployment declares several workers (STAGECOACH_WORKERS above 1) and STAGECOACH_SECRET is not set (a secret
 *   file in one machine's state directory cannot be shared by workers elsewhere), or
 * - another Stagecoach worker polls the task queue right now with a different secret: each worker names a short
 *   fingerprint of its secret in its identity (Temporal lists the identities of a task queue's pollers), so the
 *   mismatch is caught at start, not at the first flush of a rollout.
 */
import { createHmac } from 'node:crypto';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import type { NativeConnection } from '@temporalio/worker';

export const WORKER_COUNT_VAR = 'STAGECOACH_WORKERS';
export const SECRET_VAR = 'STAGECOACH_SECRET';

/** 32 bits of an HMAC of the secret: tells two secrets apart, tells nothing of either. */
export function secretFingerprint(secret: string): string {
  return `secret ${createHmac('sha256', secret).update('stagecoach worker secret fingerprint').digest('hex').slice(0, 8)}`;
}

/** The identity a worker polls with: where it runs, and which secret it holds. */
export function workerIdentity(secret: string, pid: number, host: string): string {
  return `${pid}@${host} (stagecoach worker, ${secretFingerprint(secret)})`;
}

const FINGERPRINT_IN_IDENTITY = /\(stagecoach worker, (secret [0-9a-f]{8})\)/;

const SET_IT = `set ${SECRET_VAR} to the same value on every worker of this deployment (for example the output of \`openssl rand -hex 24\`)`;

/** Why this worker must not start, or undefined. `pollers`: identities of the other workers polling its task queue. */
export function sharedSecretProblem(input: { env: NodeJS.ProcessEnv; secret: string; pollers: string[]; taskQueue: string }): string | undefined {
  const declared = input.env[WORKER_COUNT_VAR];
  if (declared !== undefined && !/^[1-9][0-9]*$/.test(declared)) {
    return `${WORKER_COUNT_VAR} must be the number of workers this deployment runs (1 or more), got "${declared}"`;
  }
  if (Number(declared ?? 1) > 1 && !input.env[SECRET_VAR]) {
    return `${WORKER_COUNT_VAR}=${declared}, but ${SECRET_VAR} is not set: several workers need one secret (purge tokens and the load ` +
      `balancers' runtime API certificates derive from it); ${SET_IT}.`;
  }
  const mine = secretFingerprint(input.secret);
  const other = input.pollers.find((identity) => { const theirs = FINGERPRINT_IN_IDENTITY.exec(identity)?.[1]; return theirs && theirs !== mine; });
  if (other) {
    const here = input.env[SECRET_VAR] ? `this worker's ${SECRET_VAR}` : `this worker's secret file (${SECRET_VAR} is not set)`;
    return `another Stagecoach worker polls task queue "${input.taskQueue}" with a different secret than ${here}: ${other}. ` +
      `Workers with different secrets refuse each other's cache flushes and load balancer commands; ${SET_IT}. ` +
      '(A worker that just stopped stays listed for about a minute.)';
  }
  return undefined;
}

/** How long after its last poll Temporal still lists a worker that is gone; a live worker polls again well within it. */
const POLLER_FRESH_MS = 90_000;

/** Identities of the workers that polled the task queue for activities within the last minute and a half. */
export async function recentActivityPollers(connection: NativeConnection, namespace: string, taskQueue: string): Promise<string[]> {
  const response = await connection.workflowService.describeTaskQueue({
    namespace,
    // TASK_QUEUE_KIND_NORMAL = 1, TASK_QUEUE_TYPE_ACTIVITY = 2 (temporal.api.enums.v1; @temporalio/proto is not a
    // direct dependency, so the values are spelled out).
    taskQueue: { name: taskQueue, kind: 1 },
    taskQueueType: 2,
  });
  const since = Date.now() - POLLER_FRESH_MS;
  return (response.pollers ?? []).filter((p) => (optionalTsToMs(p.lastAccessTime) ?? 0) >= since).map((p) => p.identity ?? '');
}
