/**
 * docker-compose.yml for real, with the very commands docs/operations.md gives ("docker compose"): the images compose cannot
 * pull here are built locally under their official names (src/provision/compose.ts), `docker-compose up` brings up
 * Temporal (healthy) → the sample repository → the worker and the API, and the CLI inside the worker container takes
 * a pipeline through the approval and the schedule to Production. The docs' `sample` pipeline becomes `t-compose`
 * (one Production pair, ports chosen by Docker) and the compose project, ports and directories are the docs'
 * knobs, so nothing here touches a developer's own compose stack, dev server or demo.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { removePipelineTopology } from '../../src/activities/topology';
import { Stagecoach } from '../../src/client/operations';
import { FOLLOW_EXIT } from '../../src/cli/follow';
import { PROJECT_ROOT, STATE_DIR } from '../../src/config/paths';
import { provision, type ComposeCommand } from '../../src/provision';
import type { ExecutionState } from '../../src/shared/types';
import { freePort } from '../helpers/free-port';

const ID = 't-compose';
const PROJECT = 'sc-compose-test';
const LOG = path.join(STATE_DIR, 'logs', 'compose-test.log');

/** docs/operations.md's compose commands, verbatim; the test runs them with `sample` → `t-compose`. */
const README = {
  up: 'docker-compose up -d --build',
  logs: 'docker-compose logs worker',
  start: 'docker-compose exec -T worker stagecoach start sample --by carol --follow',
  // Signed with the key the compose `sample` service made (the test's pipeline is declared: the name counts).
  approve: 'docker-compose exec -T worker stagecoach approve sample 1 --by alice --key .stagecoach/keys/alice',
  schedule: 'docker-compose exec -T worker stagecoach schedule sample 1 --now --by alice --key .stagecoach/keys/alice',
  status: 'docker-compose exec -T worker stagecoach status sample 1',
  down: 'docker-compose down -v',
};
const KNOBS = ['COMPOSE_PROJECT_NAME', 'STAGECOACH_TEMPORAL_PORT', 'STAGECOACH_UI_PORT', 'STAGECOACH_API_PORT', 'STAGECOACH_STATE_DIR', 'STAGECOACH_PIPELINES_DIR'];

let compose: ComposeCommand;
let tmp: string;
let env: NodeJS.ProcessEnv;
let ports: { temporal: number; ui: number; api: number };
let connection: Connection | undefined;
const docker = new Docker();

async function logLine(text: string): Promise<void> {
  await fs.appendFile(LOG, `${text.endsWith('\n') ? text : `${text}\n`}`);
}

/** Runs one README command (`docker-compose …`, pipeline `sample` → ID) with the test's knobs; answers stdout. */
async function readme(command: string, opts: { timeoutMs?: number; allowFailure?: boolean; exitCode?: number } = {}): Promise<string> {
  const [, ...words] = command.split(' ');
  const args = [...compose.args, ...words.map((w) => (w === 'sample' ? ID : w))];
  await logLine(`\n$ ${command}   # as: ${[compose.file, ...args].join(' ')}   ${new Date().toISOString()}`);
  try {
    const { stdout, stderr } = await promisify(execFile)(compose.file, args, {
      cwd: PROJECT_ROOT, env, timeout: opts.timeoutMs ?? 5 * 60_000, maxBuffer: 64 * 1024 * 1024,
    });
    await logLine(stdout + stderr);
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string; code?: unknown };
    if (opts.exitCode !== undefined && e.code === opts.exitCode) {
      await logLine(`${e.stdout ?? ''}${e.stderr ?? ''}\n(exit code ${e.code}, as expected)`);
      return e.stdout ?? '';
    }
    await logLine(`${e.stdout ?? ''}${e.stderr ?? ''}\n(failed: ${e.message.split('\n')[0]})`);
    if (opts.allowFailure) return e.stdout ?? '';
    throw new Error(`\`${command}\` failed: ${e.message.split('\n')[0]}\n${(e.stdout ?? '').slice(-3000)}\n${(e.stderr ?? '').slice(-3000)}\n(full log: ${LOG})`, { cause: err });
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what} (log: ${LOG})`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** The state of the project's container for `service` (compose v1 and v2 label their containers the same way). */
async function containerState(service: string) {
  const [c] = await docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${PROJECT}`, `com.docker.compose.service=${service}`] } });
  return c ? (await docker.getContainer(c.Id).inspect()).State : undefined;
}

async function cleanUp(): Promise<void> {
  await readme(README.down, { allowFailure: true, timeoutMs: 2 * 60_000 });
  if (!process.env.KEEP_TOPOLOGY) await removePipelineTopology(docker, ID);
}

beforeAll(async () => {
  await fs.mkdir(path.dirname(LOG), { recursive: true });
  await fs.writeFile(LOG, `# test/e2e/compose.test.ts ${new Date().toISOString()}\n`);
  const res = await provision({ compose: true, log: (l) => console.log(l) });
  compose = { file: res.compose!.split(' ')[0], args: res.compose!.split(' ').slice(1), version: res.composeVersion ?? '' };

  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stagecoach-compose-'));
  const pipelinesDir = path.join(tmp, 'pipelines');
  await fs.mkdir(pipelinesDir, { recursive: true });
  // The sample pipeline's shape, on the repository the compose `sample` service creates, sized for a test.
  await fs.writeFile(path.join(pipelinesDir, `${ID}.yaml`), YAML.stringify({
    id: ID,
    repository: '.stagecoach/repos/sample-app',
    branch: 'main',
    environments: {
      stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
      prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' },
    },
    // Names as given: the docs' compose commands approve with --by (signed decisions have tests of their own).
    identity: 'declared',
    approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }] },
    productTest: { pages: [{ path: '/', expect: 'version {version}' }] },
    cache: { warmPages: ['/'] },
  }));
  ports = { temporal: await freePort(), ui: await freePort(), api: await freePort() };
  env = {
    ...process.env,
    COMPOSE_PROJECT_NAME: PROJECT,
    STAGECOACH_TEMPORAL_PORT: String(ports.temporal),
    STAGECOACH_UI_PORT: String(ports.ui),
    STAGECOACH_API_PORT: String(ports.api),
    STAGECOACH_STATE_DIR: path.join(tmp, 'state'),
    STAGECOACH_PIPELINES_DIR: pipelinesDir,
  };
  await cleanUp(); // leftovers of an interrupted run
});

afterAll(async () => {
  await connection?.close();
  if (compose) await cleanUp();
  if (tmp && !process.env.KEEP_TMP) await fs.rm(tmp, { recursive: true, force: true });
});

describe('docker compose', () => {
  it('docs/operations.md gives the commands this test runs, and the knobs it sets', async () => {
    const text = await fs.readFile(path.join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
    for (const command of Object.values(README)) expect(text).toContain(command);
    for (const knob of KNOBS) expect(text).toContain(knob);
  });

  it('comes up in order and takes a pipeline to Production with the CLI in the worker container', async () => {
    const started = Date.now();
    await readme(README.up, { timeoutMs: 8 * 60_000 });
    // `up` returned: Temporal is healthy and the one-shot that creates the sample repository has succeeded.
    expect((await containerState('temporal'))?.Health?.Status).toBe('healthy');
    expect(await containerState('sample')).toMatchObject({ Status: 'exited', ExitCode: 0 });
    await until('the worker to poll its task queue', 120_000, async () =>
      (await readme(README.logs)).includes('polling task queue "stagecoach"') || undefined);
    await until('the API to be healthy', 120_000, async () => ((await containerState('api'))?.Health?.Status === 'healthy' || undefined));
    console.log(`[compose] up and ready in ${Math.round((Date.now() - started) / 1000)}s`);

    // Temporal, the Web UI and the API answer on the host's 127.0.0.1 at the ports the knobs chose.
    expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.api}/api/openapi.json`)).status).toBe(200);
    connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    const client = new Client({ connection });
    const stagecoach = new Stagecoach(client);

    // `--follow` stops at the approval: exit code 6, waiting for a person (FOLLOW_EXIT).
    const startOut = await readme(README.start, { timeoutMs: 6 * 60_000, exitCode: FOLLOW_EXIT.waiting });
    expect(startOut).toMatch(/Started execution 1 of pipeline t-compose/);
    expect(startOut).toMatch(/waiting at approval/);
    expect(startOut).toContain(`http://127.0.0.1:${ports.ui}/namespaces/default/workflows/stagecoach-${ID}-execution-1`);
    // The search attributes were registered at start: the execution is found by PipelineId.
    const found: string[] = [];
    for await (const wf of client.workflow.list({ query: `PipelineId = "${ID}" AND WorkflowType = "pipelineExecution"` })) found.push(wf.workflowId);
    expect(found).toEqual([`stagecoach-${ID}-execution-1`]);

    expect(await readme(README.approve)).toMatch(/approved by alice/);
    expect(await readme(README.schedule)).toMatch(/deploys to production now/);
    const state = await until<ExecutionState>('the execution to end', 4 * 60_000, async () => {
      const s = await stagecoach.executionState(ID, '1');
      return ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'].includes(s.status) ? s : undefined;
    });
    expect(state.status, state.reason).toBe('FINISHED');
    // The image carries what the activities need: git, and Chromium for the content audit's Lighthouse.
    expect(String(state.steps.find((s) => s.action === 'contentAudit')!.details.summary)).toMatch(/^Lighthouse on 1 page/);
    const statusOut = await readme(README.status);
    expect(statusOut).toMatch(/Execution 1 of pipeline t-compose: FINISHED/);
    expect(statusOut).toContain(state.urls.prod!);

    // Production serves the version from the repository the `sample` service created (VERSION 1.0.0).
    const body = await (await fetch(state.urls.prod!)).text();
    expect(body).toContain('data-version="1.0.0"');
    // The API sees the same execution (examples/api-tokens.yaml's reader token).
    const api = await fetch(`http://127.0.0.1:${ports.api}/api/program/1/pipeline/${ID}/execution/1`, {
      headers: { authorization: 'Bearer sample-token-dave-reader' },
    });
    expect(api.status).toBe(200);
    expect(await api.json()).toMatchObject({ status: 'FINISHED' });
    console.log(`[compose] ${README.up} … Production in ${Math.round((Date.now() - started) / 1000)}s`);
  });
});
