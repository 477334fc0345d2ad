/**
 * `npm run demo` (after `tsx src/provision/main.ts`): the newcomer's one command. Makes sure Chromium (for the
 * Experience Audit) is installed and a Temporal dev server and a Stagecoach worker run in the background, commits a
 * new version of the sample app, starts an execution of the `sample` pipeline, follows it until it waits for
 * approval, and prints exactly how to continue.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { StagecoachError } from '../client/errors';
import { ensureKeyPair } from '../client/identity';
import { Stagecoach, configuredPipeline, preflight, workflowPollers } from '../client/operations';
import { KEYS_DIR, PROJECT_ROOT, STATE_DIR } from '../config/paths';
import { WORKER_NODE_OPTIONS } from '../config/worker-memory';
import { syncSampleRepo } from '../dev/sample-repo';
import { findTemporalCli, provisionAuditBrowser } from '../provision';
import { ClientFailure, isRefusal } from '../shared/errors';
import { TASK_QUEUE } from '../shared/ids';
import type { PipelineConfig } from '../shared/types';
import { EXIT, exitCodeFor, messageFor } from './errors';
import { followExecution } from './follow';
import { formatDuration, webUiWorkflowUrl } from './format';
import {
  pidAlive, processCommandLine, sleep, tailLines, temporalAnswers,
} from './probe';

const PIPELINE_ID = 'sample';
const ADDRESS = '127.0.0.1:7233';
const DEV_PID_FILE = path.join(STATE_DIR, 'dev.pid');
const DEV_LOG = path.join(STATE_DIR, 'logs', 'dev.log');
const BIN = path.join(PROJECT_ROOT, 'bin', 'stagecoach');
/** Bundling the workflows, first start of the dev server: generous, with progress every 5 s. */
const STACK_TIMEOUT_MS = 180_000;
const IDLE_TIMEOUT_MS = 300_000;

const out = (line = '') => process.stdout.write(`${line}\n`);
const step = (line: string) => out(`[demo] ${line}`);
const rel = (file: string) => path.relative(process.cwd(), file) || file;

class DemoFailure extends Error {}

function readPidFile(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(DEV_PID_FILE, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid file names a live `stagecoach dev` (or `worker`) we started earlier, not a recycled pid. */
function ourBackgroundProcess(pid: number | undefined): boolean {
  if (pid === undefined || !pidAlive(pid)) return false;
  return (processCommandLine(pid) ?? '').includes('stagecoach');
}

async function pollersNow(): Promise<string[]> {
  const sc = await Stagecoach.connect();
  try {
    return await workflowPollers(sc.client, TASK_QUEUE);
  } finally {
    await sc.close().catch(() => undefined);
  }
}

function spawnBackground(command: 'dev' | 'worker'): number {
  fs.mkdirSync(path.dirname(DEV_LOG), { recursive: true });
  const fd = fs.openSync(DEV_LOG, 'a');
  fs.writeSync(fd, `\n=== ${new Date().toISOString()} demo starts: ${process.execPath} ${BIN} ${command}\n`);
  // The worker's V8 heap flags (README, "Worker memory"), unless the caller chose its own.
  const nodeOptions = /max-old-space-size/.test(process.env.NODE_OPTIONS ?? '')
    ? process.env.NODE_OPTIONS : `${process.env.NODE_OPTIONS ?? ''} ${WORKER_NODE_OPTIONS}`.trim();
  const child = spawn(process.execPath, [BIN, command], {
    cwd: PROJECT_ROOT, detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, NODE_OPTIONS: nodeOptions },
  });
  fs.closeSync(fd);
  child.unref();
  if (!child.pid) throw new DemoFailure(`could not start \`${BIN} ${command}\``);
  fs.writeFileSync(DEV_PID_FILE, `${child.pid}\n`);
  return child.pid;
}

/** Waits (bounded, progress every 5 s) until Temporal answers and a worker polls the task queue. */
async function waitForStack(pid: number | undefined): Promise<void> {
  const started = Date.now();
  let lastNote = started;
  for (;;) {
    if (pid !== undefined && !pidAlive(pid)) {
      fs.rmSync(DEV_PID_FILE, { force: true });
      throw new DemoFailure(`the background stack (pid ${pid}) exited. Last lines of ${rel(DEV_LOG)}:\n${tailLines(DEV_LOG, 15)}`);
    }
    if (await temporalAnswers(ADDRESS, '2s')) {
      const pollers = await pollersNow().catch(() => [] as string[]);
      if (pollers.length) return;
    }
    if (Date.now() - started > STACK_TIMEOUT_MS) {
      throw new DemoFailure(`Temporal and the worker were not ready within ${formatDuration(STACK_TIMEOUT_MS)}. ` +
        `Last lines of ${rel(DEV_LOG)}:\n${tailLines(DEV_LOG, 15)}`);
    }
    if (Date.now() - lastNote >= 5000) {
      lastNote = Date.now();
      step(`  waiting for Temporal on ${ADDRESS} and a worker on task queue "${TASK_QUEUE}"… ${Math.round((Date.now() - started) / 1000)} s`);
    }
    await sleep(1000);
  }
}

/** a. A dev stack in the background that outlives the demo. Answers the pid to stop it (undefined: not ours). */
async function ensureStack(): Promise<number | undefined> {
  const recorded = readPidFile();
  if (ourBackgroundProcess(recorded) && await temporalAnswers(ADDRESS, '2s')) {
    step(`reusing the background dev stack (pid ${recorded}): Temporal on ${ADDRESS}`);
    await waitForStack(recorded);
    return recorded;
  }
  if (ourBackgroundProcess(recorded)) {
    step(`the background dev stack (pid ${recorded}) is still starting`);
    await waitForStack(recorded);
    return recorded;
  }
  if (await temporalAnswers(ADDRESS, '2s')) {
    // Someone else's server (e.g. `./bin/stagecoach dev` in another terminal): use it; add a worker if none polls.
    if ((await pollersNow().catch(() => [] as string[])).length) {
      step(`a Temporal server and a Stagecoach worker already run on ${ADDRESS} (not started by the demo); using them`);
      return undefined;
    }
    const pid = spawnBackground('worker');
    step(`a Temporal server runs on ${ADDRESS} without a worker: started one in the background (pid ${pid}, log ${rel(DEV_LOG)})`);
    await waitForStack(pid);
    return pid;
  }
  const pid = spawnBackground('dev');
  step(`starting a Temporal dev server and worker in the background (pid ${pid}, log ${rel(DEV_LOG)})`);
  await waitForStack(pid);
  step('  dev stack ready: Web UI http://127.0.0.1:8233');
  return pid;
}

/** The sample repository's path (the pipeline's `repository`, relative to the project root). */
function repositoryPath(config: PipelineConfig): string {
  if (/^[a-z][a-z0-9+.-]*:\/\/|^[^/]+@[^/]+:/i.test(config.repository)) {
    throw new DemoFailure(`the sample pipeline's repository is remote (${config.repository}); the demo needs a local path`);
  }
  return path.resolve(PROJECT_ROOT, config.repository);
}

/** `1.0.<N+1>` after the repository's current VERSION `1.0.<N>` (any x.y.z bumps its patch); 1.0.1 the first time. */
export function nextVersion(current: string | undefined): string {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec((current ?? '').trim());
  return m ? `${m[1]}.${m[2]}.${Number(m[3]) + 1}` : '1.0.1';
}

/** b. A new commit of the sample app with a new version. */
async function commitNewVersion(config: PipelineConfig): Promise<string> {
  const repo = repositoryPath(config);
  let current: string | undefined;
  try {
    current = fs.readFileSync(path.join(repo, 'VERSION'), 'utf8');
  } catch {
    current = undefined;
  }
  const version = nextVersion(current);
  const commit = await syncSampleRepo(repo, version);
  step(`committed sample app version ${version} to ${rel(repo)} (${commit.slice(0, 12)})`);
  return version;
}

/** c. Re-running the demo must work: cancel a running execution and wait until the pipeline is idle. */
async function ensureIdle(sc: Stagecoach): Promise<void> {
  const runningNow = async () => {
    try {
      return (await sc.pipelineState(PIPELINE_ID)).running;
    } catch (err) {
      if (err instanceof StagecoachError && err.type === ClientFailure.NotFound) return undefined;
      throw err;
    }
  };
  const running = await runningNow();
  if (!running) return;
  step(`execution ${running.id} of ${PIPELINE_ID} is still ${running.status}: cancelling it (by demo)`);
  try {
    await sc.send(PIPELINE_ID, running.id, 'cancel', { by: 'demo', reason: 'a new demo run' });
  } catch (err) {
    // Already cancelling, or it ended meanwhile: either way, wait for the pipeline to be idle.
    if (!(err instanceof StagecoachError && isRefusal(err.type))) throw err;
  }
  const started = Date.now();
  let lastNote = started;
  while (await runningNow()) {
    if (Date.now() - started > IDLE_TIMEOUT_MS) {
      throw new DemoFailure(`execution ${running.id} did not end within ${formatDuration(IDLE_TIMEOUT_MS)} of being cancelled; ` +
        `see \`./bin/stagecoach status ${PIPELINE_ID} ${running.id}\``);
    }
    if (Date.now() - lastNote >= 5000) {
      lastNote = Date.now();
      step(`  waiting for execution ${running.id} to finish cancelling (a rollout in progress is rolled back)… ${Math.round((Date.now() - started) / 1000)} s`);
    }
    await sleep(1000);
  }
}

/** The sample pipeline's people and the API sign with these keys; made once, kept under the state directory. */
const SAMPLE_SIGNERS = ['alice', 'bob', 'api'];

async function ensureSampleKeys(): Promise<void> {
  for (const name of SAMPLE_SIGNERS) await ensureKeyPair(path.join(KEYS_DIR, name), `${name}@stagecoach-demo`);
}

async function demo(): Promise<number> {
  step('Stagecoach demo: build, deploy to Stage, test, then wait for approval before Production');
  await ensureSampleKeys();
  step(`decisions are signed: the sample users' SSH keys are in ${rel(KEYS_DIR)}/ (alice, bob; api for the HTTP API)`);
  const config = await configuredPipeline(PIPELINE_ID);
  // Before the worker starts, so its first contentAudit finds the browser.
  await provisionAuditBrowser((line) => step(line));
  const stackPid = await ensureStack();
  const version = await commitNewVersion(config);
  const sc = await Stagecoach.connect();
  try {
    await ensureIdle(sc);
    const { executionId, workflowId } = await sc.startExecution(PIPELINE_ID, { by: 'demo' }, { preflight: await preflight(PIPELINE_ID, config) });
    const webUi = webUiWorkflowUrl(workflowId);
    step(`started execution ${executionId} of pipeline ${PIPELINE_ID} (by demo); following it:`);
    const onInterrupt = () => {
      process.stderr.write(`\n[demo] stopped following; execution ${executionId} goes on: ${webUi}\n`);
      process.exit(130);
    };
    process.once('SIGINT', onInterrupt);
    const outcome = await followExecution(sc, PIPELINE_ID, executionId, { print: (l) => out(`  ${l}`) })
      .finally(() => process.off('SIGINT', onInterrupt));
    const state = outcome.state;
    if (outcome.kind === 'ended' || !state.waiting?.accepts.includes('approve')) {
      out();
      out(outcome.kind === 'ended'
        ? `The execution ended before the approval: ${state.status}${state.reason ? ` — ${state.reason}` : ''}`
        : `The execution waits for something else than the approval (see above).`);
      out(`  details  ./bin/stagecoach status ${PIPELINE_ID} ${executionId}`);
      out(`  logs     ./bin/stagecoach logs ${PIPELINE_ID} ${executionId}   (worker log: ${rel(DEV_LOG)})`);
      out(`  Web UI   ${webUi}`);
      return EXIT.failure;
    }

    const approver = config.approval.approvers.map((a) => a.name).find((n) => n !== 'demo') ?? 'alice';
    const temporalCli = (await findTemporalCli()) ?? 'temporal';
    const prodPort = config.environments.prod.loadBalancerPort;
    const prodUrl = prodPort ? `http://127.0.0.1:${prodPort}/` : (state.urls.prod ?? 'the prod load balancer (a port Docker picks)');
    out();
    out(`Version ${version} is on Stage; execution ${executionId} waits for approval (demo started it, so demo may not approve it).`);
    out(`  Web UI      ${webUi}`);
    out(`  Stage       ${state.urls.stage ?? '(not deployed)'}`);
    const key = `--key ${rel(path.join(KEYS_DIR, approver))}`;
    const signed = config.trust?.model === 'signed';
    out(`Approve it as ${approver}${signed ? `, signed with ${approver}'s key` : ''}:`);
    out(`  ./bin/stagecoach approve ${PIPELINE_ID} ${executionId} --by ${approver}${signed ? ` ${key}` : ''}`);
    out('then the schedule step waits for when to deploy:');
    out(`  ./bin/stagecoach schedule ${PIPELINE_ID} ${executionId} --now --by ${approver}${signed ? ` ${key}` : ''}`);
    out('or, with the Temporal CLI (signals)' + (signed ? ', each signed by `stagecoach sign` (an unsigned one is refused):' : ':'));
    if (signed) {
      out(`  ${temporalCli} workflow signal --workflow-id ${workflowId} --name approve --input "$(./bin/stagecoach sign approve ${PIPELINE_ID} ${executionId} --by ${approver} ${key})"`);
      out(`  ${temporalCli} workflow signal --workflow-id ${workflowId} --name schedule --input "$(./bin/stagecoach sign schedule ${PIPELINE_ID} ${executionId} --now --by ${approver} ${key})"`);
    } else {
      out(`  ${temporalCli} workflow signal --workflow-id ${workflowId} --name approve --input '{"by":"${approver}"}'`);
      out(`  ${temporalCli} workflow signal --workflow-id ${workflowId} --name schedule --input '{"by":"${approver}","now":true}'`);
    }
    out(`Production then serves ${version} at ${prodUrl}`);
    out(stackPid !== undefined
      ? `The dev stack keeps running in the background: stop it with \`kill ${stackPid}\` (log: ${rel(DEV_LOG)})`
      : 'The Temporal server and worker were already running before the demo; it left them alone.');
    return EXIT.ok;
  } finally {
    await sc.close().catch(() => undefined);
  }
}

if (require.main === module) {
  demo().then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (process.env.STAGECOACH_DEBUG === '1') process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      process.stderr.write(`[demo] failed: ${messageFor(err)}\n`);
      process.exit(err instanceof DemoFailure ? EXIT.failure : exitCodeFor(err));
    },
  );
}
