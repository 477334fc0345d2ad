/**
 * Structured logs, without Docker: the worker's Runtime logger (src/observability/logger.ts) on a worker running the
 * real workflows on fake activities with the log context plugin. Every activity line says its pipeline, execution,
 * step, environment and node, the workflows' lines their pipeline, execution and step, and no secret is written:
 * not under a secret-like key, not the worker's secret inside a message.
 */
import { Context } from '@temporalio/activity';
import { Runtime, type LogEntry } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logContextPlugin } from '../../src/observability/activity-context';
import { REDACTED, createStructuredLogger, formatEntry } from '../../src/observability/logger';
import { startFakeWorker, type FakeWorkerHarness } from '../helpers/fake-worker';

const WORKER_SECRET = 'worker-secret-4f1c9a7d2e';
const lines: string[] = [];
let h: FakeWorkerHarness;

beforeAll(async () => {
  Runtime.install({ logger: createStructuredLogger({ level: 'DEBUG', json: true, write: (line) => lines.push(line), secrets: [WORKER_SECRET] }) });
  h = await startFakeWorker('logs', { plugins: [logContextPlugin] });
});

afterAll(async () => {
  await h?.close();
});

type Line = Record<string, unknown> & { msg: string; level: string; time: string };
const parsed = (): Line[] => lines.map((l) => JSON.parse(l) as Line);

describe('structured logs', () => {
  it('activity and workflow lines carry pipeline, execution, step, environment and node; secrets are redacted', async () => {
    const config = h.definePipeline('logs-app');
    h.intercept((call) => {
      const log = Context.current().log;
      if (call.activityType === 'buildAndTest') log.info('building the test target', { registryToken: 'ghp_abcdefghijklmnop', detail: `secret ${WORKER_SECRET} in a message` });
      if (call.activityType === 'deployNode') log.info('replacing the node');
    });
    const { executionId } = await h.startToApproval(config.id);
    await h.stagecoach.send(config.id, executionId, 'cancel', { by: 'alice' });
    await h.waitForExecution(config.id, executionId, (s) => s.status === 'CANCELLED');

    const all = parsed();
    const build = all.find((l) => l.msg === 'building the test target');
    expect(build).toMatchObject({ level: 'info', pipeline: config.id, execution: executionId, step: 'build', registryToken: REDACTED, detail: `secret ${REDACTED} in a message` });
    const deploys = all.filter((l) => l.msg === 'replacing the node');
    expect(deploys.length).toBeGreaterThan(0);
    for (const line of deploys) {
      expect(line).toMatchObject({ pipeline: config.id, execution: executionId, step: 'deploy', environment: config.environments.stage.name });
      expect(['author', 'publish-1', 'dispatcher-1', 'pair-1']).toContain(line.node);
    }
    // The SDK's own lines of the execution workflow (through the workflow logger) say where they come from too.
    const workflowLines = all.filter((l) => l.workflowType === 'pipelineExecution' && l.workflowId === `stagecoach-${config.id}-execution-${executionId}`);
    expect(workflowLines.length).toBeGreaterThan(0);
    for (const line of workflowLines) expect(line).toMatchObject({ pipeline: config.id, execution: executionId });
    expect(workflowLines.some((l) => typeof l.step === 'string')).toBe(true);
    // Nothing anywhere holds a secret.
    for (const line of lines) {
      expect(line).not.toContain(WORKER_SECRET);
      expect(line).not.toContain('ghp_abcdefghijklmnop');
    }
  });

  it('on a terminal: one readable line, the same fields, the same redaction', () => {
    const entry: LogEntry = {
      level: 'WARN', message: 'fetching https://bob:hunter2222@git.example.com/app.git with Bearer abc.def-ghi', timestampNanos: 1_700_000_000_000_000_000n,
      meta: { workflowId: 'stagecoach-sample-execution-7-deploy-prod', password: 'p4ssw0rd-p4ssw0rd', nested: { apiKey: 'k' } },
    };
    const line = formatEntry(entry, { json: false, secrets: [] });
    expect(line).toBe('2023-11-14T22:13:20.000Z WARN  fetching https://bob:[redacted]@git.example.com/app.git with Bearer [redacted] ' +
      'pipeline=sample execution=7 environment=prod step=deploy workflowId=stagecoach-sample-execution-7-deploy-prod password=[redacted] nested={"apiKey":"[redacted]"}');
  });
});
