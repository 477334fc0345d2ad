/**
 * A test's view of Stagecoach: a worker on the shared dev server, a client, a pipeline configuration of its own
 * (its own id, so containers and workflow ids never collide with another test's) and a real git repository.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import Docker from 'dockerode';
import { inject } from 'vitest';
import YAML from 'yaml';
import { Stagecoach } from '../../src/client/operations';
import { removePipelineTopology } from '../../src/activities/topology';
import { syncSampleRepo } from '../../src/dev/sample-repo';
import type { ExecutionState } from '../../src/shared/types';
import { createWorker } from '../../src/worker';

export const FIXTURES_DIR = path.join(__dirname, '..', 'fixtures', 'histories');

export interface Harness {
  stagecoach: Stagecoach;
  client: Client;
  worker: Worker;
  pipelinesDir: string;
  repo: string;
  tmp: string;
  docker: Docker;
  /** The worker's secret: a test reaching the runtime API or a dispatcher's BAN as Stagecoach does needs it. */
  secret: string;
  /**
   * With RECORD_FIXTURES=1, saves a workflow's history as a replay fixture (test/fixtures/histories/<name>.json).
   * Re-record after a deliberate, patched() workflow change; see test/replay.test.ts.
   */
  recordHistory(name: string, workflowId: string, runId?: string): Promise<void>;
  /** Writes `<id>.yaml` into the pipelines directory. */
  writePipeline(config: Record<string, unknown>): Promise<void>;
  /** Polls the execution's state until `until` holds; fails with the last state after `timeoutMs`. */
  waitFor(pipelineId: string, executionId: string, until: (s: ExecutionState) => boolean, timeoutMs?: number): Promise<ExecutionState>;
  close(): Promise<void>;
}

/** A pipeline configuration for tests: ports chosen by Docker, short drain timeouts, alice and bob as approvers. */
export function testPipeline(id: string, repo: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    repository: repo,
    branch: 'main',
    environments: {
      stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
      prod: { pairs: 2, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
    },
    // Names as given: these tests are about what a decision does; signed decisions have tests of their own.
    identity: 'declared',
    approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }] },
    productTest: { pages: [{ path: '/', expect: 'version {version}' }, { path: '/about' }] },
    cache: { warmPages: ['/', '/about'] },
    // The UI test image (Chromium in Docker) is exercised by the happy path and the stage-test suite; other suites
    // skip it to keep CI short.
    tests: { ui: { enabled: false } },
    ...overrides,
  };
}

export async function startHarness(name: string, pipelineIds: string[]): Promise<Harness> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), `stagecoach-${name}-`));
  const pipelinesDir = path.join(tmp, 'pipelines');
  await fs.mkdir(pipelinesDir, { recursive: true });
  process.env.STAGECOACH_PIPELINES_DIR = pipelinesDir;
  const repo = path.join(tmp, 'repo');
  await syncSampleRepo(repo, '2.0.0');
  const address = inject('temporalAddress');
  const nativeConnection = await NativeConnection.connect({ address });
  const secret = randomBytes(16).toString('hex');
  const worker = await createWorker({
    connection: nativeConnection,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    deps: { pipelinesDir, stateDir: path.join(tmp, 'state'), secret },
    identity: `test-${name}`,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const stagecoach = new Stagecoach(client);
  const docker = new Docker();
  for (const id of pipelineIds) await removePipelineTopology(docker, id);

  return {
    stagecoach, client, worker, pipelinesDir, repo, tmp, docker, secret,
    async recordHistory(fixture, workflowId, runId) {
      if (!process.env.RECORD_FIXTURES) return;
      const { stdout } = await promisify(execFile)(inject('temporalCli'), [
        'workflow', 'show', '--address', address, '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []), '--output', 'json',
      ], { maxBuffer: 64 * 1024 * 1024 });
      await fs.writeFile(path.join(FIXTURES_DIR, `${fixture}.json`), stdout);
    },
    async writePipeline(config) {
      await fs.writeFile(path.join(pipelinesDir, `${String(config.id)}.yaml`), YAML.stringify(config));
    },
    async waitFor(pipelineId, executionId, until, timeoutMs = 5 * 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last: ExecutionState | undefined;
      while (Date.now() < deadline) {
        last = await stagecoach.executionState(pipelineId, executionId).catch(() => last);
        if (last && until(last)) return last;
        await new Promise((r) => setTimeout(r, 300));
      }
      throw new Error(`timed out; last state: ${JSON.stringify(last && { status: last.status, reason: last.reason, steps: last.steps.map((s) => [s.action, s.status, s.details.summary]) }, null, 1)}`);
    },
    async close() {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      if (!process.env.KEEP_TOPOLOGY) for (const id of pipelineIds) await removePipelineTopology(docker, id);
      if (!process.env.KEEP_TMP) await fs.rm(tmp, { recursive: true, force: true });
    },
  };
}

export const isWaitingAt = (action: string) => (s: ExecutionState) =>
  s.waiting?.action === action || ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'].includes(s.status);
export const hasEnded = (s: ExecutionState) => ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'].includes(s.status);
