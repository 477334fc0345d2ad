/**
 * The `stagecoach` command: `./bin/stagecoach <command>` or `npm run stagecoach -- <command>`.
 *
 * Exit codes: 0 success; 1 anything else (including an execution followed to a failure); 2 usage error; 3 refused
 * (or the pipeline is busy); 4 not found; 5 Temporal unreachable (or no worker polls the task queue).
 *
 * `dev` and `worker` load the worker side (native SDK, activities) only when they run, so client commands start fast.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { artifactRefs } from '../client/artifact-refs';
import { StagecoachError } from '../client/errors';
import { Stagecoach, configuredPipeline, preflight } from '../client/operations';
import { artifactFile, artifactsDir } from '../config/paths';
import { ClientFailure, isRefusal } from '../shared/errors';
import { executionWorkflowId } from '../shared/ids';
import type { ExecutionAction, StartRequest } from '../shared/messages';
import { MODES, TRIGGERS, type ExecutionMode, type Trigger } from '../shared/types';
import { EXIT, UsageError, exitCodeFor, messageFor } from './errors';
import { followExecution } from './follow';
import {
  DEFAULT_WEB_UI, executionStateLines, formatDateTime, pipelineStateLines, table, webUiWorkflowUrl,
} from './format';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | undefined>;

interface Command {
  usage: string;
  summary: string;
  options: Options;
  /** Names of required positionals, in order; optional ones end with `?`. */
  positionals: string[];
  run(values: Values, positionals: string[]): Promise<number>;
}

const out = (line = '') => process.stdout.write(`${line}\n`);

/** Base URL of the Temporal Web UI for links (STAGECOACH_WEB_UI overrides it, e.g. for `dev --ui-port`). */
export function webUiBase(): string {
  return process.env.STAGECOACH_WEB_UI ?? DEFAULT_WEB_UI;
}

function formatOptions() {
  return { webUi: webUiBase(), namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' };
}

/** Connects, runs `fn`, and always closes the connection. */
async function withStagecoach<T>(fn: (sc: Stagecoach) => Promise<T>): Promise<T> {
  const sc = await Stagecoach.connect();
  try {
    return await fn(sc);
  } finally {
    await sc.close().catch(() => undefined);
  }
}

function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

function required(values: Values, name: string, command: string, what: string): string {
  const v = str(values, name);
  if (v === undefined || !v.trim()) throw new UsageError(`${command}: --${name} ${what} is required`, command);
  return v;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], option: string, command: string): T | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase() as T;
  if (!allowed.includes(upper)) throw new UsageError(`${command}: --${option} must be one of ${allowed.join(', ')} (got ${value})`, command);
  return upper;
}

/** `start --by` default: $USER, else the OS account name, else `unknown`. */
function defaultUser(): string {
  if (process.env.USER) return process.env.USER;
  try {
    return os.userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

const jsonOption: Options = { json: { type: 'boolean' } };

// ---------------------------------------------------------------------------------------------------------------
// Commands

async function start(values: Values, [pipelineId]: string[]): Promise<number> {
  const mode = oneOf<ExecutionMode>(str(values, 'mode'), MODES, 'mode', 'start');
  const trigger = oneOf<Trigger>(str(values, 'trigger'), TRIGGERS.filter((t) => t !== 'RE_EXECUTE'), 'trigger', 'start');
  const by = str(values, 'by') ?? defaultUser();
  const json = values.json === true;
  // Before connecting: a typo starts nothing and needs no server.
  const checked = await preflight(pipelineId);
  return withStagecoach(async (sc) => {
    await sc.requireWorker('nothing was started');
    const request: StartRequest = { by, ...(mode ? { mode } : {}), ...(trigger ? { trigger } : {}) };
    const result = await sc.startExecution(pipelineId, request, { preflight: checked });
    const webUi = webUiWorkflowUrl(result.workflowId, formatOptions());
    if (json) {
      out(JSON.stringify({ ...result, webUi }));
    } else {
      out(`Started execution ${result.executionId} of pipeline ${pipelineId} (by ${by}, ${trigger ?? 'MANUAL'}, ${mode ?? 'NORMAL'})`);
      out(`  workflow  ${result.workflowId}`);
      out(`  Web UI    ${webUi}`);
      if (values.follow !== true) out(`  status    ./bin/stagecoach status ${pipelineId} ${result.executionId}`);
    }
    if (values.follow !== true) return EXIT.ok;
    const outcome = await followWithInterrupt(sc, pipelineId, result.executionId, json);
    if (outcome.kind === 'waiting') return EXIT.ok;
    return outcome.state.status === 'FINISHED' ? EXIT.ok : EXIT.failure;
  });
}

async function followWithInterrupt(sc: Stagecoach, pipelineId: string, executionId: string, json: boolean) {
  const onInterrupt = () => {
    process.stderr.write(`\nstopped following; execution ${executionId} goes on (\`./bin/stagecoach status ${pipelineId} ${executionId}\`)\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await followExecution(sc, pipelineId, executionId, { print: out, json });
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

async function status(values: Values, [pipelineId, executionId]: string[]): Promise<number> {
  const json = values.json === true;
  return withStagecoach(async (sc) => {
    await sc.requireWorker('executions cannot be queried');
    if (executionId === undefined) {
      const state = await sc.pipelineState(pipelineId);
      if (json) out(JSON.stringify(state, null, 2));
      else pipelineStateLines(state, formatOptions()).forEach((l) => out(l));
      return EXIT.ok;
    }
    const state = await sc.executionState(pipelineId, executionId);
    if (json) out(JSON.stringify(state, null, 2));
    else executionStateLines(state, executionWorkflowId(pipelineId, executionId), Date.now(), formatOptions()).forEach((l) => out(l));
    return EXIT.ok;
  });
}

function messageCommand(action: ExecutionAction) {
  return async (values: Values, [pipelineId, executionId]: string[]): Promise<number> => {
    const by = required(values, 'by', action, 'NAME');
    const request: Record<string, unknown> = { by };
    switch (action) {
      case 'approve':
        if (str(values, 'comment') !== undefined) request.comment = str(values, 'comment');
        break;
      case 'reject':
      case 'cancel':
        if (str(values, 'reason') !== undefined) request.reason = str(values, 'reason');
        break;
      case 'schedule': {
        const at = str(values, 'at');
        const now = values.now === true;
        if ((at === undefined) === !now) throw new UsageError('schedule: give exactly one of --at ISO-TIME or --now', action);
        if (at !== undefined) {
          const ms = Date.parse(at);
          if (Number.isNaN(ms)) throw new UsageError(`schedule: --at must be an ISO 8601 time such as 2030-01-31T22:00:00Z (got ${at})`, action);
          request.at = new Date(ms).toISOString();
        } else {
          request.now = true;
        }
        break;
      }
      case 'override': {
        const metrics = required(values, 'metrics', action, 'a,b').split(',').map((m) => m.trim()).filter(Boolean);
        if (!metrics.length) throw new UsageError('override: --metrics needs at least one metric id', action);
        request.metrics = metrics;
        break;
      }
    }
    const json = values.json === true;
    return withStagecoach(async (sc) => {
      await sc.requireWorker(`the ${action} was not sent`);
      try {
        const ack = await sc.send(pipelineId, executionId, action, request);
        out(json ? JSON.stringify({ accepted: ack.accepted, message: ack.message }) : ack.message);
        return EXIT.ok;
      } catch (err) {
        if (json && err instanceof StagecoachError && isRefusal(err.type)) {
          out(JSON.stringify({ accepted: false, message: err.message }));
        }
        throw err;
      }
    });
  };
}

async function logs(values: Values, [pipelineId, executionId]: string[]): Promise<number> {
  const stepAction = str(values, 'step');
  return withStagecoach(async (sc) => {
    await sc.requireWorker('executions cannot be queried');
    const state = await sc.executionState(pipelineId, executionId);
    if (stepAction !== undefined && !state.steps.some((s) => s.action === stepAction || s.stepId === stepAction)) {
      const actions = [...new Set(state.steps.map((s) => s.action))];
      throw new UsageError(`logs: execution ${executionId} has no step "${stepAction}" (steps: ${actions.join(', ')})`, 'logs');
    }
    const refs = artifactRefs(state, stepAction);
    if (!refs.length) {
      out(`no logs or reports recorded for execution ${executionId}${stepAction ? ` at step ${stepAction}` : ''} yet`);
      return EXIT.ok;
    }
    const root = artifactsDir();
    for (const a of refs) {
      const file = artifactFile(root, a.ref);
      out(`==> ${a.name}${a.step ? ` (step ${a.step})` : ''}: ${file ?? a.ref} <==`);
      if (!file) {
        out('(reference outside the artifact store; not shown)');
        continue;
      }
      try {
        const text = await fs.readFile(file, 'utf8');
        process.stdout.write(text.endsWith('\n') || !text ? text : `${text}\n`);
      } catch (err) {
        out(`(not readable here: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; ` +
          'the artifact store is STAGECOACH_ARTIFACTS_DIR or <state dir>/artifacts of the worker)');
      }
      out();
    }
    return EXIT.ok;
  });
}

async function dev(values: Values): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand (see the module comment)
  const { DevError, runDev } = require('./dev') as typeof import('./dev');
  const port = portOption(values, 'port', 7233);
  const uiPort = portOption(values, 'ui-port', port + 1000);
  const apiPort = values['api-port'] === '0' ? 0 : portOption(values, 'api-port', 8080);
  try {
    return await runDev({ port, uiPort, apiPort });
  } catch (err) {
    if (err instanceof DevError) {
      process.stderr.write(`stagecoach: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}

function portOption(values: Values, name: string, fallback: number): number {
  const raw = str(values, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`dev: --${name} must be a port number (got ${raw})`, 'dev');
  return n;
}

/** The worker process (src/worker.ts), loaded on demand so client commands start fast. */
async function worker(): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand (see above)
  const { runWorker } = require('../worker') as typeof import('../worker');
  await runWorker();
  return EXIT.ok;
}

/** `stagecoach api`: the HTTP API (src/api), loaded on demand like the worker. */
async function api(values: Values): Promise<number> {
  const port = apiPort(str(values, 'port'));
  const host = str(values, 'host') ?? '127.0.0.1';
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand (see the module comment)
  const { runApi } = require('../api/server') as typeof import('../api/server');
  return runApi({ host, port, tokensFile: str(values, 'tokens') });
}

function apiPort(raw: string | undefined): number {
  if (raw === undefined) return 8080;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`api: --port must be a port number (got ${raw})`, 'api');
  return n;
}

/** Re-executes the production deployment of the pipeline's last execution; exit 3 with the reason when refused. */
async function reExecute(values: Values, [pipelineId]: string[]): Promise<number> {
  const by = required(values, 'by', 're-execute', 'NAME');
  const executionId = str(values, 'execution');
  if (executionId !== undefined && !/^\d+$/.test(executionId)) throw new UsageError(`re-execute: --execution must be an execution number (got ${executionId})`, 're-execute');
  const json = values.json === true;
  return withStagecoach(async (sc) => {
    await sc.requireWorker('nothing was re-executed');
    try {
      const result = await sc.reExecute(pipelineId, { by, ...(executionId ? { executionId } : {}) });
      const webUi = webUiWorkflowUrl(result.workflowId, formatOptions());
      if (json) {
        out(JSON.stringify({ accepted: true, ...result, webUi }));
      } else {
        out(`Re-executing the production deployment of pipeline ${pipelineId}: execution ${result.executionId} (RE_EXECUTE, by ${by})`);
        out(`  workflow  ${result.workflowId}`);
        out(`  Web UI    ${webUi}`);
        out(`  status    ./bin/stagecoach status ${pipelineId} ${result.executionId}`);
      }
      return EXIT.ok;
    } catch (err) {
      if (json && err instanceof StagecoachError && isRefusal(err.type)) {
        out(JSON.stringify({ accepted: false, message: err.message }));
      }
      throw err;
    }
  });
}

/** A new commit on the branch (a git hook or CI calls this): an ON_COMMIT execution when idle, else nothing. */
async function notifyCommit(values: Values, [pipelineId]: string[]): Promise<number> {
  const json = values.json === true;
  return withStagecoach(async (sc) => {
    await sc.requireWorker('nothing was started');
    const result = await sc.notifyCommit(pipelineId, str(values, 'by') ?? 'on-commit');
    if ('started' in result) {
      out(json ? JSON.stringify({ accepted: false, message: result.reason }) : `Nothing started: ${result.reason}. The next execution builds the commit.`);
      return EXIT.ok;
    }
    out(json ? JSON.stringify({ accepted: true, ...result }) : `Started execution ${result.executionId} of ${pipelineId} (ON_COMMIT)`);
    return EXIT.ok;
  });
}

/** A platform update: the commit in Production rebuilt on the updated base image and rolled out (PUSH_UPGRADES). */
async function pushUpgrade(values: Values, [pipelineId]: string[]): Promise<number> {
  const by = required(values, 'by', 'push-upgrade', 'NAME');
  const json = values.json === true;
  return withStagecoach(async (sc) => {
    await sc.requireWorker('nothing was started');
    const result = await sc.startExecution(pipelineId, { by, trigger: 'PUSH_UPGRADES' });
    out(json ? JSON.stringify({ accepted: true, ...result })
      : `Started push update ${result.executionId} of ${pipelineId}: the last execution's commit, rebuilt on the current base image`);
    return EXIT.ok;
  });
}

/** The executions of a pipeline, newest first: the running one, then the recent ones the pipeline keeps. */
async function list(values: Values, [pipelineId]: string[]): Promise<number> {
  const json = values.json === true;
  return withStagecoach(async (sc) => {
    await sc.requireWorker('executions cannot be queried');
    let state;
    try {
      state = await sc.pipelineState(pipelineId);
    } catch (err) {
      // A configured pipeline without executions has an empty list; an unknown one is not found.
      if (!(err instanceof StagecoachError && err.type === ClientFailure.NotFound)) throw err;
      await configuredPipeline(pipelineId);
      state = undefined;
    }
    const executions = [...(state?.executions ?? [])].reverse();
    if (state?.running && !executions.some((e) => e.id === state.running!.id)) {
      const running = await sc.executionState(pipelineId, state.running.id).catch(() => undefined);
      executions.unshift(running ? { ...state.running, status: running.status, commitId: running.commitId, artifacts: running.artifacts } : state.running);
    }
    if (json) {
      out(JSON.stringify(executions, null, 2));
      return EXIT.ok;
    }
    if (!executions.length) {
      out(`pipeline ${pipelineId} has no executions yet`);
      return EXIT.ok;
    }
    table(['id', 'status', 'trigger', 'by', 'created', 'finished', 'prod deploy', 'version', 'commit'], executions.map((e) => [
      e.id, e.status, e.trigger, e.user, formatDateTime(e.createdAt), formatDateTime(e.finishedAt), e.prodDeployStatus ?? '',
      e.artifacts?.version ?? '', e.commitId ? e.commitId.slice(0, 12) : '',
    ])).forEach((l) => out(l));
    return EXIT.ok;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Command table and usage

const byOpt: Options = { by: { type: 'string' } };

export const COMMANDS: Record<string, Command> = {
  dev: {
    usage: 'stagecoach dev [--port 7233] [--ui-port 8233] [--api-port 8080 (0: no API)]',
    summary: 'run a Temporal dev server (Web UI on :8233), the Stagecoach worker and the HTTP API (:8080); Ctrl-C stops all',
    options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, 'api-port': { type: 'string' } },
    positionals: [],
    run: dev,
  },
  worker: {
    usage: 'stagecoach worker',
    summary: 'run the Stagecoach worker against TEMPORAL_ADDRESS (default localhost:7233)',
    options: {},
    positionals: [],
    run: worker,
  },
  api: {
    usage: 'stagecoach api [--port 8080] [--host 127.0.0.1] [--tokens FILE]',
    summary: 'run the HTTP API (Cloud Manager-like; OpenAPI at /api/openapi.json) against TEMPORAL_ADDRESS',
    options: { port: { type: 'string' }, host: { type: 'string' }, tokens: { type: 'string' } },
    positionals: [],
    run: api,
  },
  start: {
    usage: 'stagecoach start <pipeline> [--by NAME] [--mode NORMAL|EMERGENCY] [--trigger MANUAL|ON_COMMIT|PUSH_UPGRADES] [--json] [--follow]',
    summary: 'start an execution of a pipeline (--follow: print step changes until it ends or waits)',
    options: { ...byOpt, mode: { type: 'string' }, trigger: { type: 'string' }, follow: { type: 'boolean' }, ...jsonOption },
    positionals: ['pipeline'],
    run: start,
  },
  status: {
    usage: 'stagecoach status <pipeline> [<execution>] [--json]',
    summary: "a pipeline's running and recent executions, or one execution's steps, waits and audit log",
    options: { ...jsonOption },
    positionals: ['pipeline', 'execution?'],
    run: status,
  },
  list: {
    usage: 'stagecoach list <pipeline> [--json]',
    summary: "a pipeline's executions, newest first (id, status, trigger, who, times, production deploy, version)",
    options: { ...jsonOption },
    positionals: ['pipeline'],
    run: list,
  },
  approve: {
    usage: 'stagecoach approve <pipeline> <execution> --by NAME [--comment TEXT] [--json]',
    summary: 'approve the production deployment of a waiting execution',
    options: { ...byOpt, comment: { type: 'string' }, ...jsonOption },
    positionals: ['pipeline', 'execution'],
    run: messageCommand('approve'),
  },
  reject: {
    usage: 'stagecoach reject <pipeline> <execution> --by NAME [--reason TEXT] [--json]',
    summary: 'reject it (the execution is cancelled)',
    options: { ...byOpt, reason: { type: 'string' }, ...jsonOption },
    positionals: ['pipeline', 'execution'],
    run: messageCommand('reject'),
  },
  schedule: {
    usage: 'stagecoach schedule <pipeline> <execution> (--at ISO-TIME | --now) --by NAME [--json]',
    summary: 'schedule the approved production deployment, at a time or now',
    options: { ...byOpt, at: { type: 'string' }, now: { type: 'boolean' }, ...jsonOption },
    positionals: ['pipeline', 'execution'],
    run: messageCommand('schedule'),
  },
  override: {
    usage: 'stagecoach override <pipeline> <execution> --by NAME --metrics a,b [--json]',
    summary: 'override the failed important checks of a waiting gate (code quality, security or performance test) so the execution goes on',
    options: { ...byOpt, metrics: { type: 'string' }, ...jsonOption },
    positionals: ['pipeline', 'execution'],
    run: messageCommand('override'),
  },
  cancel: {
    usage: 'stagecoach cancel <pipeline> <execution> --by NAME [--reason TEXT] [--json]',
    summary: 'cancel a running execution (a rollout in progress is rolled back)',
    options: { ...byOpt, reason: { type: 'string' }, ...jsonOption },
    positionals: ['pipeline', 'execution'],
    run: messageCommand('cancel'),
  },
  're-execute': {
    usage: 'stagecoach re-execute <pipeline> --by NAME [--execution N] [--json]',
    summary: "deploy the last execution's images to Production again (same images and configuration, no rebuild)",
    options: { ...byOpt, execution: { type: 'string' }, ...jsonOption },
    positionals: ['pipeline'],
    run: reExecute,
  },
  'notify-commit': {
    usage: 'stagecoach notify-commit <pipeline> [--by NAME] [--json]',
    summary: 'a new commit on the branch: start an ON_COMMIT execution if the pipeline is idle',
    options: { ...byOpt, ...jsonOption },
    positionals: ['pipeline'],
    run: notifyCommit,
  },
  'push-upgrade': {
    usage: 'stagecoach push-upgrade <pipeline> --by NAME [--json]',
    summary: "rebuild the last execution's commit on the updated base image and roll it out (PUSH_UPGRADES)",
    options: { ...byOpt, ...jsonOption },
    positionals: ['pipeline'],
    run: pushUpgrade,
  },
  logs: {
    usage: 'stagecoach logs <pipeline> <execution> [--step ACTION]',
    summary: "print an execution's build logs and reports from the artifact store",
    options: { step: { type: 'string' } },
    positionals: ['pipeline', 'execution'],
    run: logs,
  },
  help: {
    usage: 'stagecoach help [<command>]',
    summary: 'this text, or one command\'s usage',
    options: {},
    positionals: ['command?'],
    run: async (_values, [name]) => {
      if (name && COMMANDS[name]) out(`usage: ${COMMANDS[name].usage}`);
      else out(usageText());
      return name && !COMMANDS[name] ? EXIT.usage : EXIT.ok;
    },
  },
};

export function usageText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'usage: stagecoach <command> [arguments]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `stagecoach help <command>` for a command\'s arguments. Add --json to start, status and the messages for',
    'machine-readable output. Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (default localhost:7233, default).',
    'Exit codes: 0 ok, 1 error, 2 usage, 3 refused, 4 not found, 5 Temporal unreachable.',
  ].join('\n');
}

/** Parses `argv` (without node and the script) and runs the command; answers the exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    out(usageText());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`stagecoach: unknown command "${name}"\n\n${usageText()}\n`);
    return EXIT.usage;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    } catch (err) {
      // parseArgs explains '--' for positionals starting with a dash: noise here.
      throw new UsageError(`${name}: ${(err as Error).message.replace(/\. To specify a positional argument[\s\S]*$/, '')}`, name);
    }
    const values = parsed.values as Values;
    if (values.help === true) {
      out(`usage: ${command.usage}`);
      return EXIT.ok;
    }
    const requiredNames = command.positionals.filter((p) => !p.endsWith('?'));
    if (parsed.positionals.length < requiredNames.length) {
      const missing = requiredNames.slice(parsed.positionals.length).map((p) => `<${p}>`).join(' ');
      throw new UsageError(`${name}: missing ${missing}`, name);
    }
    if (parsed.positionals.length > command.positionals.length) {
      throw new UsageError(`${name}: unexpected argument "${parsed.positionals[command.positionals.length]}"`, name);
    }
    return await command.run(values, parsed.positionals);
  } catch (err) {
    if (process.env.STAGECOACH_DEBUG === '1') process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.stderr.write(`stagecoach: ${messageFor(err)}\n`);
    if (err instanceof UsageError && err.command && COMMANDS[err.command]) {
      process.stderr.write(`usage: ${COMMANDS[err.command].usage}\n`);
    }
    return exitCodeFor(err);
  }
}

/** Entry point of bin/stagecoach and `tsx src/cli/main.ts`. */
export function run(argv = process.argv.slice(2)): void {
  // `stagecoach logs ... | head`: a closed pipe ends the command quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
  main(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`stagecoach: ${(err as Error)?.message ?? String(err)}\n`);
      process.exit(EXIT.failure);
    },
  );
}

if (require.main === module) run();
