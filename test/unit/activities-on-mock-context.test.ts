/**
 * Activities on a mock activity context (MockActivityEnvironment, no Temporal server, no Docker): what they report
 * while they run (heartbeats), how they end (results, non-retryable failures) and that they stop when cancelled. The
 * HTTP side is a local server the test controls, so each run is deterministic and takes at most a few seconds.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type Activities } from '../../src/activities';
import { defaultActivityDeps } from '../../src/worker';
import { createDirectoryArtifactStore } from '../../src/activities/artifacts';
import { NonRetryable } from '../../src/shared/errors';
import { eventually } from '../helpers/wait';

/** A local HTTP server answering what `status()` says for each request, counting them. */
let server: http.Server;
let baseUrl: string;
let requests = 0;
let status: (request: number) => number = () => 200;
let activities: Activities;
let tmp: string;

beforeAll(async () => {
  server = http.createServer((_req, res) => {
    requests += 1;
    res.writeHead(status(requests), { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stagecoach-mock-activities-'));
  activities = createActivities(defaultActivityDeps({ stateDir: tmp, pipelinesDir: tmp, secret: 'test', artifacts: createDirectoryArtifactStore(tmp) }));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A fresh mock context, the heartbeats it receives, and the request count from now on. */
function mockContext() {
  // Failures are what several tests expect: the mock context's logger keeps quiet about them.
  const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  requests = 0;
  return { env, heartbeats };
}

describe('checkHealth', () => {
  it('polls until the node answers 2xx, heartbeating the number of each failed attempt', async () => {
    const { env, heartbeats } = mockContext();
    status = (n) => (n <= 2 ? 503 : 200);
    const result = await env.run(activities.checkHealth, { url: `${baseUrl}/health`, intervalMs: 10, what: 'publish of pair-1' });
    expect(result).toMatchObject({ attempts: 3, status: 200 });
    expect(heartbeats).toEqual([{ attempt: 1 }, { attempt: 2 }]);
  });

  it('gives up after its attempts with a non-retryable HealthCheckFailed naming the node and the last answer', async () => {
    const { env } = mockContext();
    status = () => 500;
    const failure = await env.run(activities.checkHealth, { url: `${baseUrl}/health`, attempts: 3, intervalMs: 10, what: 'publish of pair-2' })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: NonRetryable.HealthCheckFailed, nonRetryable: true, message: expect.stringMatching(/^publish of pair-2 failed its health check .* 3 times: HTTP 500/) });
    expect(requests).toBe(3);
  });

  // A rollout cancelled while a node is unhealthy must not wait out every remaining attempt before it rolls back.
  it('stops polling once cancelled', async () => {
    const { env, heartbeats } = mockContext();
    status = () => 503;
    const running = env.run(activities.checkHealth, { url: `${baseUrl}/health`, attempts: 50, intervalMs: 10, what: 'publish of pair-1' });
    await eventually('two failed attempts', () => (heartbeats.length >= 2 ? true : undefined));
    env.cancel();
    const cancelledAt = requests;
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(requests - cancelledAt).toBeLessThanOrEqual(1);
  });
});

describe('a long activity (performanceTest)', () => {
  it('heartbeats while it runs and ends CANCELLED within a second of its cancellation', async () => {
    const { env, heartbeats } = mockContext();
    status = () => 200;
    const running = env.run(activities.performanceTest, {
      baseUrl, pipelineId: 'mock', executionId: '1', pages: ['/'], requestsPerSecond: 20, durationMs: 60_000, concurrency: 2,
    });
    // createActivities keeps every activity alive with a heartbeat every 2 s, whatever it does.
    await eventually('a keep-alive heartbeat', () => (heartbeats.length > 0 ? true : undefined), 5000);
    expect(requests).toBeGreaterThan(10);
    env.cancel();
    const cancelledAt = Date.now();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
    expect(Date.now() - cancelledAt).toBeLessThan(1000);
  });
});
