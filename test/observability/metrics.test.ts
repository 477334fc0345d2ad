/**
 * Prometheus metrics end to end, without Docker: Debian's Prometheus (installed by src/provision/prometheus.ts)
 * scrapes a worker running the real workflows on fake activities and the API, both on 127.0.0.1, and its query API
 * reads back the counters of one finished execution and one rolled back. promtool checks the alert rules.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { ApplicationFailure } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { runtimeOptions } from '../../src/observability/runtime-telemetry';
import { ensurePrometheus, type PrometheusTools } from '../../src/provision/prometheus';
import { NonRetryable } from '../../src/shared/errors';
import { freePort } from '../helpers/free-port';
import { startFakeWorker, type FakeWorkerHarness } from '../helpers/fake-worker';
import { hasEnded } from '../helpers/harness';
import { eventually } from '../helpers/wait';

const RULES = path.join(__dirname, '..', '..', 'deploy', 'prometheus', 'stagecoach-alerts.yml');
const DASHBOARD = path.join(__dirname, '..', '..', 'deploy', 'grafana', 'stagecoach-dashboard.json');

let tools: PrometheusTools;
let h: FakeWorkerHarness;
let api: ReturnType<typeof buildApi>;
let prometheus: ChildProcess | undefined;
let prometheusUrl: string;
let dataDir: string;

beforeAll(async () => {
  tools = await ensurePrometheus((line) => console.log(`[provision] ${line}`));
  // The Runtime is the worker's, as src/observability/runtime-telemetry.ts installs it, before the first connection.
  const workerMetrics = `127.0.0.1:${await freePort()}`;
  Runtime.install(runtimeOptions({ metricsAddress: workerMetrics }));
  h = await startFakeWorker('metrics');
  api = buildApi({ stagecoach: h.stagecoach, tokens: { users: [{ name: 'ops', token: 'metrics-test-token-0000' }] }, logger: false });
  await api.listen({ host: '127.0.0.1', port: 0 });
  const apiPort = (api.server.address() as { port: number }).port;

  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-prometheus-'));
  const config = path.join(dataDir, 'prometheus.yml');
  fs.writeFileSync(config, [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    `rule_files: [${JSON.stringify(RULES)}]`,
    'scrape_configs:',
    `  - { job_name: stagecoach-worker, static_configs: [{ targets: ["${workerMetrics}"] }] }`,
    `  - { job_name: stagecoach-api, static_configs: [{ targets: ["127.0.0.1:${apiPort}"] }] }`,
  ].join('\n'));
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn(tools.prometheus, [
    `--config.file=${config}`, `--storage.tsdb.path=${path.join(dataDir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: ['ignore', 'ignore', fs.openSync(path.join(dataDir, 'prometheus.log'), 'w')] });
});

afterAll(async () => {
  if (prometheus?.pid) process.kill(prometheus.pid, 'SIGTERM');
  await api?.close();
  await h?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

/** One instant query through Prometheus' HTTP API: the series' labels and values. */
async function query(promql: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  if (!res.ok) return [];
  const body = await res.json() as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Waits until Prometheus has scraped `promql` to at least `atLeast`; answers the series. */
function scraped(promql: string, atLeast = 1) {
  return eventually(`Prometheus to read ${promql} >= ${atLeast}`, async () => {
    const series = await query(promql);
    return series.length && series.every((s) => s.value >= atLeast) ? series : undefined;
  }, 30_000);
}

describe('Prometheus scrapes the worker and the API', () => {
  it('promtool accepts the alert rules', async () => {
    const { stdout } = await promisify(execFile)(tools.promtool, ['check', 'rules', RULES]);
    expect(stdout).toMatch(/SUCCESS: 3 rules found/);
  });

  it('counts a finished execution and a rolled back one, their steps, nodes, waits and the API requests', async () => {
    const finished = h.definePipeline('metrics-finished');
    const { executionId } = await h.startToApproval(finished.id);
    await h.approveAndSchedule(finished.id, executionId);
    expect((await h.waitForExecution(finished.id, executionId, hasEnded)).status).toBe('FINISHED');

    const rolledBack = h.definePipeline('metrics-rollback');
    const prod = rolledBack.environments.prod.name;
    h.intercept((call) => {
      if (call.activityType !== 'checkHealth') return;
      const node = h.world.nodeServing(call.input.url);
      if (node?.pipelineId === rolledBack.id && node.environment === prod && node.node === 'publish-2' && node.image !== h.world.previousImage(rolledBack.id, prod, 'publish-2')) {
        throw ApplicationFailure.create({ type: NonRetryable.HealthCheckFailed, nonRetryable: true, message: 'publish-2 answers HTTP 500 (fake)' });
      }
    });
    const second = await h.startToApproval(rolledBack.id);
    await h.approveAndSchedule(rolledBack.id, second.executionId);
    const done = await h.waitForExecution(rolledBack.id, second.executionId, hasEnded);
    expect(done.steps.find((s) => s.action === 'deploy' && s.environmentType === 'prod')?.status).toBe('ROLLED_BACK');

    // Stagecoach's own counts, from the workflows' metricMeter through the worker's Runtime endpoint.
    await scraped('sum(stagecoach_executions_started_total{trigger="MANUAL"})', 2);
    await scraped('sum(stagecoach_executions_ended_total{outcome="FINISHED"})', 1);
    await scraped('sum(stagecoach_executions_ended_total{outcome="FAILED"})', 1);
    await scraped('sum(stagecoach_rollbacks_total{environment_type="prod", strategy="rolling"})', 1);
    await scraped('sum(stagecoach_rollouts_ended_total{environment_type="prod", outcome="FINISHED"})', 1);
    // Stage twice (two executions) and Production once, each 1 author + 1 or 2 pairs.
    await scraped('sum(stagecoach_nodes_deployed_total{environment_type="prod"})', 3);
    await scraped('sum(stagecoach_waits_opened_total{kind="approval"})', 2);
    await scraped('sum(stagecoach_waits_closed_total{kind="schedule", outcome="decided"})', 2);
    await scraped('sum(stagecoach_gate_verdicts_total{gate="codeQuality", verdict="passed"})', 2);
    await scraped('sum(stagecoach_step_duration_seconds_count{action="deploy", status="ROLLED_BACK"})', 1);
    // The SDK's own telemetry on the same endpoint.
    await scraped('sum(temporal_workflow_completed_total{workflow_type="pipelineExecution"})', 2);
    await scraped('sum(temporal_num_pollers{poller_type="workflow_task"})', 1);
    // The API's: its requests by route pattern, and the workers the Temporal server sees polling.
    await scraped('sum(stagecoach_api_requests_total{route="/metrics", status="200"})', 1);
    await scraped('stagecoach_task_queue_pollers', 1);
    const labels = await query('count by (__name__) ({__name__=~"stagecoach_.*", job="stagecoach-worker"})');
    expect(labels.length).toBeGreaterThan(5);
  });

  it('refused decisions are counted by action and how they came', async () => {
    const config = h.definePipeline('metrics-refused');
    const { executionId } = await h.startToApproval(config.id);
    // carol started it: she may not approve it herself.
    await expect(h.stagecoach.send(config.id, executionId, 'approve', { by: 'carol' })).rejects.toThrow();
    await scraped('sum(stagecoach_decisions_refused_total{action="approve", via="update"})', 1);
    // The open wait, as the API reads it from the Temporal server.
    const [left] = await scraped('stagecoach_wait_seconds_left{kind="approval"}', 1);
    expect(left.value).toBeLessThanOrEqual(14 * 24 * 3600);
    await scraped('stagecoach_waits_open{kind="approval"}', 1);
    await h.stagecoach.send(config.id, executionId, 'cancel', { by: 'alice' });
    await h.waitForExecution(config.id, executionId, hasEnded);
  });

  it('every query of the Grafana dashboard parses and names only metrics Prometheus has scraped', async () => {
    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
    const names = new Set((await (await fetch(`${prometheusUrl}/api/v1/label/__name__/values`)).json() as { data: string[] }).data);
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
        expect(res.status, `${panel.title}: ${expr}`).toBe(200);
        for (const [name] of expr.matchAll(/\b(?:stagecoach|temporal)_[a-z_]+\b/g)) expect(names, `${panel.title}: ${name}`).toContain(name);
      }
    }
  });
});
