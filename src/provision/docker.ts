// Docker Engine and the base image. No container registry is reachable here, so the base image is normally built
// with debootstrap from this machine's Debian mirror and imported (DESIGN.md, "Environment for development and CI").
import { spawn } from 'node:child_process';
import { openSync, closeSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import Docker from 'dockerode';
import { STATE_DIR } from '../config/paths';
import { DEBIAN_SUITE, debianMirror } from './apt-sources';
import { LOG_DIR, type Log, heartbeat, isDebian, isExecutableFile, isRoot, pidAlive, run, shellQuote, sleep, tailFile, which, withLock } from './util';

export const DEFAULT_BASE_IMAGE = 'debian:bookworm-slim';
export const DOCKERD_LOG = path.join(STATE_DIR, 'dockerd.log');
export const DOCKERD_PIDFILE = path.join(STATE_DIR, 'dockerd.pid');
/** Our own record "Stagecoach started this dockerd": line 1 the pid, line 2 when. CI stops that pid at exit. */
export const DOCKERD_STARTED_RECORD = path.join(STATE_DIR, 'dockerd.started-by-stagecoach');
const APT_LOG = path.join(LOG_DIR, 'apt.log');
const DEBOOTSTRAP_LOG = path.join(LOG_DIR, 'debootstrap.log');
const DOCKERD_START_TIMEOUT_MS = 60_000;

/** Honours DOCKER_HOST (and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) like the docker CLI. */
function dockerClient(): Docker {
  return new Docker();
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

let lastPingError = '';

async function pingEngine(docker: Docker, ms = 5_000): Promise<boolean> {
  try {
    await withTimeout(docker.ping(), ms, 'docker ping');
    return true;
  } catch (err) {
    lastPingError = (err as Error).message;
    return false;
  }
}

/** `apt-get install -y <pkgs>`; on failure runs `apt-get update` (lists may be missing on a fresh machine) and retries. */
export async function aptInstall(pkgs: string[], log: Log): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['-y', '-o', 'DPkg::Lock::Timeout=300', 'install', '--no-install-recommends', ...pkgs];
  log(`apt-get install ${pkgs.join(' ')} (output in ${APT_LOG})`);
  const stop = heartbeat(log, `installing ${pkgs.join(' ')}`);
  try {
    let res = await run('apt-get', install, { env, logFile: APT_LOG });
    if (res.code !== 0) {
      log(`apt-get install failed (exit ${res.code}); running apt-get update and retrying`);
      const upd = await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { env, logFile: APT_LOG });
      if (upd.code !== 0) log(`apt-get update exited ${upd.code}; retrying the install anyway`);
      res = await run('apt-get', install, { env, logFile: APT_LOG });
    }
    if (res.code !== 0) {
      throw new Error(
        `apt-get install ${pkgs.join(' ')} failed (exit ${res.code}).\ncommand: ${shellQuote(['apt-get', ...install])}\n` +
          `last lines of ${APT_LOG}:\n${await tailFile(APT_LOG, 20)}`,
      );
    }
  } finally {
    stop();
  }
}

/** The pid in a pid file, if that process is alive. */
async function livePidFrom(file: string): Promise<number | undefined> {
  const pid = Number((await fsp.readFile(file, 'utf8').catch(() => '')).split('\n')[0]?.trim());
  return pidAlive(pid) ? pid : undefined;
}

/** Polls the engine until it answers, `deadline` passes or `alive()` turns false. */
async function waitForEngine(docker: Docker, log: Log, alive: () => boolean, timeoutMs: number): Promise<boolean> {
  const started = Date.now();
  let lastNote = 0;
  while (Date.now() - started < timeoutMs) {
    if (await pingEngine(docker, 2_000)) return true;
    if (!alive()) return false;
    const secs = Math.round((Date.now() - started) / 1000);
    if (secs - lastNote >= 5) {
      lastNote = secs;
      log(`waiting for dockerd to answer… ${secs}s`);
    }
    await sleep(500);
  }
  return false;
}

/**
 * Makes sure a Docker Engine answers. When none does and this is Debian as root, installs docker.io if dockerd is
 * missing and starts dockerd detached (log STATE_DIR/dockerd.log, pid file STATE_DIR/dockerd.pid) and records its pid
 * in STATE_DIR/dockerd.started-by-stagecoach so CI knows it may stop it. Returns the pid when this call started it.
 */
export async function ensureDockerEngine(log: Log): Promise<{ startedPid?: number }> {
  const docker = dockerClient();
  if (await pingEngine(docker)) return {};
  if (process.env.DOCKER_HOST) {
    throw new Error(
      `no Docker Engine answers at DOCKER_HOST=${process.env.DOCKER_HOST} (${lastPingError}). Start that engine, or unset DOCKER_HOST to use the local one.`,
    );
  }
  if (!isDebian() || !isRoot()) {
    throw new Error(
      `no Docker Engine answers on /var/run/docker.sock (${lastPingError}). Start a Docker Engine (e.g. \`sudo dockerd &\` or ` +
        '`systemctl start docker`), or set DOCKER_HOST to one that is running.',
    );
  }
  return withLock('dockerd', log, async () => {
    if (await pingEngine(docker)) return {}; // another run started it meanwhile
    // A dockerd we started earlier that is still coming up: wait for it rather than start a second one.
    const previous = await livePidFrom(DOCKERD_STARTED_RECORD);
    if (previous !== undefined) {
      log(`dockerd pid ${previous} (started by an earlier run) is alive; waiting for it`);
      if (await waitForEngine(docker, log, () => pidAlive(previous), DOCKERD_START_TIMEOUT_MS)) return {};
      throw new Error(
        `dockerd pid ${previous} is running but does not answer. Last lines of ${DOCKERD_LOG}:\n${await tailFile(DOCKERD_LOG, 25)}`,
      );
    }

    let dockerd = await which('dockerd', { systemDirs: true });
    if (!dockerd) {
      await aptInstall(['docker.io'], log);
      dockerd = await which('dockerd', { systemDirs: true });
      if (!dockerd) throw new Error('apt-get installed docker.io but no dockerd binary was found');
    }

    await fsp.mkdir(STATE_DIR, { recursive: true });
    log(`starting ${dockerd} in the background (log ${DOCKERD_LOG})`);
    const out = openSync(DOCKERD_LOG, 'a');
    let exited = false;
    let pid: number | undefined;
    try {
      // Detached with its output in a file: it outlives this process, and CI stops it by pid at exit.
      const child = spawn(dockerd, ['--pidfile', DOCKERD_PIDFILE], {
        detached: true,
        stdio: ['ignore', out, out],
        env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin` },
      });
      child.on('exit', () => (exited = true));
      child.on('error', () => (exited = true));
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(out);
    }
    if (pid === undefined) throw new Error(`could not start ${dockerd}: see ${DOCKERD_LOG}`);
    await fsp.writeFile(DOCKERD_STARTED_RECORD, `${pid}\n${new Date().toISOString()}\n`);

    if (await waitForEngine(docker, log, () => !exited && pidAlive(pid), DOCKERD_START_TIMEOUT_MS)) {
      log(`dockerd is up (pid ${pid})`);
      return { startedPid: pid };
    }
    // It never answered: stop what we started so it does not linger, and show why.
    if (!exited && pidAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 40 && pidAlive(pid); i++) await sleep(250);
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    await fsp.rm(DOCKERD_STARTED_RECORD, { force: true });
    throw new Error(
      `dockerd ${exited ? 'exited' : 'did not answer within 60 s'}. Last lines of ${DOCKERD_LOG}:\n${await tailFile(DOCKERD_LOG, 25)}`,
    );
  });
}

/** 'registry:5000/a/b:tag' → { repo: 'registry:5000/a/b', tag: 'tag' }. */
function splitImageName(image: string): { repo: string; tag: string } {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? { repo: image.slice(0, colon), tag: image.slice(colon + 1) } : { repo: image, tag: 'latest' };
}

export async function imagePresent(docker: Docker, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch {
    return false;
  }
}

async function pullImage(docker: Docker, image: string, log: Log): Promise<void> {
  log(`pulling ${image}`);
  const stream = await docker.pull(image);
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/** debootstrap --variant=minbase bookworm from the host's mirror (apt-sources.ts), then import the rootfs as `image`. */
async function debootstrapImage(docker: Docker, image: string, log: Log): Promise<void> {
  if (!isRoot()) {
    throw new Error(`${image} is missing and debootstrap needs root. Run provisioning as root, or load ${image} into the engine yourself.`);
  }
  const mirror = await debianMirror(); // first: a machine without one learns it before anything is installed
  let debootstrap = await which('debootstrap', { systemDirs: true });
  if (!debootstrap) {
    if (!isDebian()) throw new Error(`${image} is missing and debootstrap is not installed; load ${image} into the engine yourself.`);
    await aptInstall(['debootstrap'], log);
    debootstrap = await which('debootstrap', { systemDirs: true });
    if (!debootstrap || !(await isExecutableFile(debootstrap))) throw new Error('apt-get installed debootstrap but it was not found');
  }
  const rootfs = path.join(STATE_DIR, 'rootfs-tmp');
  await fsp.rm(rootfs, { recursive: true, force: true }); // leftovers of an interrupted run
  await fsp.mkdir(rootfs, { recursive: true });
  const args = ['--variant=minbase', DEBIAN_SUITE, rootfs, mirror];
  log(`building ${image}: debootstrap ${args.join(' ')} (a minute or two; output in ${DEBOOTSTRAP_LOG})`);
  const started = Date.now();
  try {
    const stop = heartbeat(log, 'running debootstrap');
    let res;
    try {
      res = await run(debootstrap, args, {
        logFile: DEBOOTSTRAP_LOG,
        env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin` },
      });
    } finally {
      stop();
    }
    if (res.code !== 0) {
      throw new Error(
        `debootstrap failed (exit ${res.code ?? res.signal}).\ncommand: ${shellQuote([debootstrap, ...args])}\n` +
          `last lines of ${DEBOOTSTRAP_LOG}:\n${await tailFile(DEBOOTSTRAP_LOG, 20)}`,
      );
    }
    log(`debootstrap done in ${Math.round((Date.now() - started) / 1000)}s; importing into the engine as ${image}`);

    // Stream the rootfs as a tar into the engine (POST /images/create?fromSrc=-), like `docker import -`.
    const tar = spawn('tar', ['-C', rootfs, '--numeric-owner', '-cf', '-', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tarErr = '';
    tar.stderr.on('data', (c: Buffer) => (tarErr += c.toString('utf8')));
    const tarDone = new Promise<number | null>((resolve) => tar.on('close', resolve));
    const { repo, tag } = splitImageName(image);
    const response = await docker.importImage(tar.stdout, { repo, tag, changes: ['CMD ["bash"]'] });
    const output = await new Promise<string>((resolve, reject) => {
      let text = '';
      response.on('data', (c: Buffer) => (text += c.toString('utf8')));
      response.on('end', () => resolve(text));
      response.on('error', reject);
    });
    const tarCode = await tarDone;
    if (tarCode !== 0) throw new Error(`tar of ${rootfs} failed (exit ${tarCode}): ${tarErr.trim()}`);
    if (/"error"/.test(output)) throw new Error(`importing ${image} failed: ${output.trim()}`);
    if (!(await imagePresent(docker, image))) throw new Error(`importing ${image} finished but the engine does not list it: ${output.trim()}`);
  } finally {
    await fsp.rm(rootfs, { recursive: true, force: true });
  }
  log(`${image} created in ${Math.round((Date.now() - started) / 1000)}s`);
}

/**
 * Makes sure `image` exists in the engine. Pulls only when the engine has registry mirrors configured or
 * STAGECOACH_PULL_BASE_IMAGE=1 (otherwise a pull would contact a public registry); else builds it with debootstrap.
 */
export async function ensureBaseImage(log: Log, image: string = DEFAULT_BASE_IMAGE): Promise<void> {
  const docker = dockerClient();
  if (await imagePresent(docker, image)) return;
  await withLock(`image-${image.replace(/[^\w.-]+/g, '_')}`, log, async () => {
    if (await imagePresent(docker, image)) return;
    const info = (await docker.info()) as { RegistryConfig?: { Mirrors?: string[] | null } };
    const mirrors = info.RegistryConfig?.Mirrors ?? [];
    if (mirrors.length > 0 || process.env.STAGECOACH_PULL_BASE_IMAGE === '1') {
      try {
        await pullImage(docker, image, log);
        if (await imagePresent(docker, image)) {
          log(`pulled ${image}`);
          return;
        }
      } catch (err) {
        log(`warning: pulling ${image} failed (${(err as Error).message}); building it with debootstrap instead`);
      }
    }
    await debootstrapImage(docker, image, log);
  });
}

/** The engine's version string, e.g. "20.10.24+dfsg1". */
export async function dockerEngineVersion(): Promise<string | undefined> {
  try {
    return (await withTimeout(dockerClient().version(), 5_000, 'docker version')).Version;
  } catch {
    return undefined;
  }
}
