// Finding (or building) the pinned `temporal` CLI whose dev server the tests and the demo run.
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOG_DIR, type Log, findProcesses, heartbeat, isExecutableFile, run, shellQuote, sleep, tailFile, which, withLock } from './util';

export const TEMPORAL_CLI_VERSION = '1.5.1';
/**
 * Dynamic configuration for every dev server Stagecoach starts (`stagecoach dev`, the test and fault suites, the
 * benchmarks, docker-compose.yml repeats it). The dev server runs ONE history shard, whose transfer, timer and
 * visibility queue readers load new tasks at most 20 times per second by default: past a short burst every activity
 * and workflow task then waits ~40 ms to be loaded, and a sequence of activities runs at ~100 ms per activity
 * whatever the workflow does. 1,000 per second lifts that bound (docs/benchmarks.md, "The dev server"). A Temporal
 * cluster spreads workflows over many shards, each with its own readers; its operator sets these rates.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number>> = {
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
  'history.visibilityProcessorMaxPollRPS': 1000,
};

/** DEV_SERVER_DYNAMIC_CONFIG as `temporal server start-dev` arguments (`KEY=VALUE`, the value as JSON). */
export function devServerDynamicConfigArgs(config: Readonly<Record<string, unknown>> = DEV_SERVER_DYNAMIC_CONFIG): string[] {
  return Object.entries(config).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** Later tags carry a `replace` directive and cannot be `go install`ed (DESIGN.md). */
export const TEMPORAL_GO_INSTALL = ['install', `${TEMPORAL_CLI_MODULE}@v${TEMPORAL_CLI_VERSION}`];
const GO_INSTALL_LOG = path.join(LOG_DIR, 'go-install-temporal.log');

/** `go` on PATH, else the standard tarball location. */
export async function findGo(): Promise<string | undefined> {
  const onPath = await which('go');
  if (onPath) return onPath;
  return (await isExecutableFile('/usr/local/go/bin/go')) ? '/usr/local/go/bin/go' : undefined;
}

/** Where `go install` puts binaries: GOBIN if set, else each GOPATH entry's bin (GOPATH defaults to ~/go). */
async function goBinDirs(go: string | undefined): Promise<string[]> {
  const dirs: string[] = [];
  if (go) {
    const res = await run(go, ['env', 'GOBIN', 'GOPATH'], { cwd: os.tmpdir(), timeoutMs: 15_000 }).catch(() => undefined);
    if (res?.code === 0) {
      const [gobin = '', gopath = ''] = res.stdout.split('\n').map((l) => l.trim());
      if (gobin) dirs.push(gobin);
      for (const p of gopath.split(path.delimiter).filter(Boolean)) dirs.push(path.join(p, 'bin'));
    }
  }
  dirs.push(path.join(os.homedir(), 'go', 'bin'));
  return [...new Set(dirs)];
}

/**
 * The TS SDK's cached dev-server download, if one is already on disk. sdk-core's EphemeralExe::CachedDownload saves
 * the CLI as `<tmpdir>/temporal-sdk-typescript-<sdk version>` (or `<tmpdir>/temporal-<version>` for a fixed version);
 * see core-bridge/sdk-core/crates/sdk-core/src/ephemeral_server/mod.rs. We never trigger that download ourselves.
 */
async function sdkCachedCli(): Promise<string | undefined> {
  const dir = os.tmpdir();
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return undefined;
  }
  let sdkVersion = '';
  try {
    const pkg = await fsp.readFile(require.resolve('@temporalio/testing/package.json'), 'utf8');
    sdkVersion = (JSON.parse(pkg) as { version: string }).version;
  } catch {
    // not installed: any cached copy will do
  }
  const preferred = [`temporal-sdk-typescript-${sdkVersion}`, `temporal-${TEMPORAL_CLI_VERSION}`, `temporal-v${TEMPORAL_CLI_VERSION}`];
  const candidates = names
    .filter((n) => /^temporal-(sdk-typescript-)?v?\d+\.\d+\.\d+/.test(n))
    .sort((a, b) => {
      const pa = preferred.indexOf(a);
      const pb = preferred.indexOf(b);
      return (pa === -1 ? 99 : pa) - (pb === -1 ? 99 : pb) || b.localeCompare(a, undefined, { numeric: true });
    });
  for (const name of candidates) {
    const file = path.join(dir, name);
    if (await isExecutableFile(file)) return file;
  }
  return undefined;
}

/**
 * Looks for an existing `temporal` CLI, in order: env TEMPORAL_CLI (if it names an executable file); `temporal` on
 * PATH; `go install`'s output dir (GOBIN, $(go env GOPATH)/bin, ~/go/bin); the TS SDK's cached dev-server download in
 * os.tmpdir(). Never downloads anything.
 */
export async function findTemporalCli(): Promise<string | undefined> {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv && (await isExecutableFile(fromEnv))) return path.resolve(fromEnv);
  const onPath = await which('temporal');
  if (onPath) return onPath;
  for (const dir of await goBinDirs(await findGo())) {
    const candidate = path.join(dir, 'temporal');
    if (await isExecutableFile(candidate)) return candidate;
  }
  return sdkCachedCli();
}

/**
 * The CLI's version. `go install`ed builds report `0.0.0-DEV` from `--version`, so we then read the module version
 * that Go embeds in the binary (`go version -m`).
 */
export async function temporalCliVersion(cli: string): Promise<string | undefined> {
  const res = await run(cli, ['--version'], { timeoutMs: 15_000 }).catch(() => undefined);
  const reported = res?.code === 0 ? /version\s+v?(\S+)/.exec(res.stdout)?.[1] : undefined;
  if (reported?.includes(TEMPORAL_CLI_VERSION)) return TEMPORAL_CLI_VERSION;
  const go = await findGo();
  if (go) {
    const info = await run(go, ['version', '-m', cli], { cwd: os.tmpdir(), timeoutMs: 15_000 }).catch(() => undefined);
    const mod = info?.code === 0 ? /^\s*mod\s+github\.com\/temporalio\/cli\s+v?(\S+)/m.exec(info.stdout)?.[1] : undefined;
    if (mod && mod !== '(devel)') return mod;
  }
  return reported;
}

/** Waits for `go install` runs of the CLI that we did not start (e.g. one begun by hand), so we never build twice. */
async function waitForForeignGoInstall(log: Log): Promise<void> {
  const started = Date.now();
  let lastNote = -1;
  for (;;) {
    const pids = await findProcesses(`${TEMPORAL_CLI_MODULE}@`);
    const others = pids.filter((pid) => pid !== process.pid);
    if (others.length === 0) return;
    const secs = Math.round((Date.now() - started) / 1000);
    if (lastNote < 0 || secs - lastNote >= 30) {
      lastNote = secs;
      log(`another go install of the temporal CLI is running (pid ${others.join(', ')}); waiting for it… ${secs}s`);
    }
    await sleep(2_000);
  }
}

async function goInstallTemporal(go: string, log: Log): Promise<void> {
  const command = shellQuote([go, ...TEMPORAL_GO_INSTALL]);
  log(`temporal CLI not found; building it: ${command} (takes several minutes; output in ${GO_INSTALL_LOG})`);
  const stop = heartbeat(log, 'building the temporal CLI');
  const started = Date.now();
  let res;
  try {
    res = await run(go, TEMPORAL_GO_INSTALL, { cwd: os.tmpdir(), logFile: GO_INSTALL_LOG });
  } finally {
    stop();
  }
  if (res.code !== 0) {
    const tail = await tailFile(GO_INSTALL_LOG, 25);
    throw new Error(
      `building the temporal CLI failed (exit ${res.code ?? res.signal}).\n` +
        `command: ${command}\nlast lines of ${GO_INSTALL_LOG}:\n${tail}\n` +
        `Fix the error above, or install temporal v${TEMPORAL_CLI_VERSION} yourself and set TEMPORAL_CLI=/path/to/temporal.`,
    );
  }
  log(`built the temporal CLI in ${Math.round((Date.now() - started) / 1000)}s`);
}

/**
 * Returns the path of a `temporal` CLI, building v1.5.1 with `go install` when none is found and Go is available.
 * A version other than 1.5.1 only produces a warning.
 */
export async function ensureTemporalCli(log: Log): Promise<string> {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv && !(await isExecutableFile(fromEnv))) {
    throw new Error(`TEMPORAL_CLI=${fromEnv} is not an executable file. Point it at a temporal v${TEMPORAL_CLI_VERSION} binary or unset it.`);
  }
  let cli = await findTemporalCli();
  if (!cli) {
    const go = await findGo();
    if (!go) {
      throw new Error(
        `the temporal CLI (v${TEMPORAL_CLI_VERSION}) was not found and Go is not installed to build it. Either install Go and run\n` +
          `  go install ${TEMPORAL_CLI_MODULE}@v${TEMPORAL_CLI_VERSION}\n` +
          `(the binary lands in $(go env GOPATH)/bin/temporal), or set TEMPORAL_CLI=/path/to/temporal.`,
      );
    }
    cli = await withLock('go-install-temporal', log, async () => {
      await waitForForeignGoInstall(log);
      const again = await findTemporalCli(); // another run may have built it meanwhile
      if (again) return again;
      await goInstallTemporal(go, log);
      const built = await findTemporalCli();
      if (!built) {
        throw new Error(`go install succeeded but no temporal binary was found in GOBIN/GOPATH/bin; set TEMPORAL_CLI=/path/to/temporal.`);
      }
      return built;
    });
  }
  const version = await temporalCliVersion(cli);
  if (version !== TEMPORAL_CLI_VERSION) {
    log(`warning: ${cli} is temporal ${version ?? 'of unknown version'}, expected v${TEMPORAL_CLI_VERSION}; continuing with it`);
  }
  return cli;
}
