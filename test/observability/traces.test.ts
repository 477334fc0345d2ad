/**
 * Traces of one execution, without Docker: the API (with tracing on) starts an execution of a pipeline on fake
 * activities; its spans reach a local OTLP/HTTP receiver (a node http server decoding the JSON bodies), and one
 * trace runs from the API request through the pipeline and execution workflows to each activity, whose spans say
 * which pipeline, execution, step and environment they belong to.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { buildApi } from '../../src/api/server';
import { Stagecoach } from '../../src/client/operations';
import { logContextPlugin } from '../../src/observability/activity-context';
import { startTracing, tracingClientInterceptors, tracingPlugins, type Tracing } from '../../src/observability/tracing';
import { startFakeWorker, type FakeWorkerHarness } from '../helpers/fake-worker';
import { hasEnded, isWaitingAt } from '../helpers/harness';
import { eventually } from '../helpers/wait';

interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number;
  attributes?: Array<{ key: string; value: { stringValue?: string; intValue?: string } }>;
}
interface ReceivedSpan { service: string; span: OtlpSpan }

const PIPELINE = 'trace-app';
const TOKEN = 'traces-test-token-000000';

let receiver: http.Server;
const received: ReceivedSpan[] = [];
let tracing: Tracing;
let h: FakeWorkerHarness;
let api: ReturnType<typeof buildApi>;
let connection: Connection;
let workDir: string;

/** An OTLP/HTTP receiver: every span of every JSON export request, with its resource's service.name. */
function startReceiver(): Promise<string> {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      expect(req.url).toBe('/v1/traces');
      expect(req.headers['content-type']).toMatch(/application\/json/);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: Array<{ resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ service, span });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => receiver.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(receiver.address() as { port: number }).port}`)));
}

const attr = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value.stringValue;

beforeAll(async () => {
  const url = await startReceiver();
  tracing = startTracing('stagecoach-test', { url: `${url}/v1/traces` })!;
  h = await startFakeWorker('traces', { plugins: [...tracingPlugins(), logContextPlugin] });

  // The API's preflight reads the pipeline's file and its branch: a pipeline directory and a repository of one commit.
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-traces-'));
  const repo = path.join(workDir, 'repo');
  fs.mkdirSync(repo);
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args]);
  git('init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README'), 'traced\n');
  git('add', '.');
  git('commit', '-q', '-m', 'one');
  fs.mkdirSync(path.join(workDir, 'pipelines'));
  fs.writeFileSync(path.join(workDir, 'pipelines', `${PIPELINE}.yaml`), `id: ${PIPELINE}\nrepository: ${repo}\nbranch: main\n`);
  process.env.STAGECOACH_PIPELINES_DIR = path.join(workDir, 'pipelines');
  h.definePipeline(PIPELINE, { repository: repo });

  connection = await Connection.connect({ address: inject('temporalAddress') });
  const client = new Client({ connection, interceptors: { workflow: tracingClientInterceptors() } });
  api = buildApi({ stagecoach: new Stagecoach(client), tokens: { users: [{ name: 'dana', token: TOKEN, roles: ['DEVELOPER'] }] }, logger: false });
  await api.ready();
});

afterAll(async () => {
  delete process.env.STAGECOACH_PIPELINES_DIR;
  await api?.close();
  await h?.close();
  await connection?.close();
  receiver?.close();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

describe('OpenTelemetry traces', () => {
  it('one trace: the API request → the pipeline and execution workflows → each activity, with where each ran', async () => {
    const res = await api.inject({ method: 'PUT', url: `/api/program/1/pipeline/${PIPELINE}/execution`, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode, res.body).toBe(201);
    const executionId = String((res.json() as { id: string }).id);
    await h.waitForExecution(PIPELINE, executionId, isWaitingAt('approval'));
    await h.approveAndSchedule(PIPELINE, executionId);
    await h.waitForExecution(PIPELINE, executionId, hasEnded);
    await tracing.flush();

    const request = await eventually('the request span', () =>
      received.find((r) => r.span.name === `PUT /api/program/:programId/pipeline/:pipelineId/execution`)?.span);
    expect(request.kind).toBe(2); // SERVER
    expect(attr(request, 'http.route')).toBe('/api/program/:programId/pipeline/:pipelineId/execution');

    // The execution has ended, so its run span is out too (the pipeline workflow's own run never ends: its update
    // handler's span links the child to the request).
    const trace = await eventually('the activities of the execution in the request\'s trace', async () => {
      await tracing.flush();
      const spans = received.filter((r) => r.span.traceId === request.traceId).map((r) => r.span);
      return spans.filter((s) => s.name.startsWith('RunActivity:')).length >= 5 ? spans : undefined;
    });
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const ancestors = (span: OtlpSpan): string[] => {
      const names: string[] = [];
      for (let p = span.parentSpanId ? byId.get(span.parentSpanId) : undefined; p; p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined) names.push(p.name);
      return names;
    };

    // A build activity: under its StartActivity, under the pipelineExecution workflow's task, under the pipeline
    // workflow that started it as a child, under the update-with-start the API's client sent, under the request.
    const build = trace.find((s) => s.name === 'RunActivity:buildAndTest')!;
    expect(build, trace.map((s) => s.name).join(', ')).toBeDefined();
    const chain = ancestors(build);
    expect(chain[0]).toBe('StartActivity:buildAndTest');
    expect(chain).toContain('StartChildWorkflow:pipelineExecution');
    expect(chain).toContain('UpdateWithStartWorkflow:start');
    expect(chain[chain.length - 1]).toBe(request.name);
    expect(chain.indexOf('StartChildWorkflow:pipelineExecution')).toBeLessThan(chain.indexOf('UpdateWithStartWorkflow:start'));

    // Where each activity ran, from its workflow id, its step header and its input.
    expect(attr(build, 'stagecoach.pipeline')).toBe(PIPELINE);
    expect(attr(build, 'stagecoach.execution')).toBe(executionId);
    expect(attr(build, 'stagecoach.step')).toBe('build');
    const deployed = trace.find((s) => s.name === 'RunActivity:deployNode' && attr(s, 'stagecoach.node') === 'author');
    expect(deployed).toBeDefined();
    expect(attr(deployed!, 'stagecoach.step')).toBe('deploy');
    expect(attr(deployed!, 'stagecoach.environment')).toBe(h.definePipeline(PIPELINE, {}).environments.stage.name);
    expect(ancestors(deployed!)).toContain('StartChildWorkflow:rollingDeployment');
    // Every span came from this process's one service.
    expect(new Set(received.filter((r) => r.span.traceId === request.traceId).map((r) => r.service))).toEqual(new Set(['stagecoach-test']));
  });
});
