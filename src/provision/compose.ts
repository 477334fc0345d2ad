// docker-compose.yml's needs: a compose command, and the images compose cannot pull where no container registry is
// reachable. Those are built locally under the official names from this repository's Dockerfiles (deploy/*), so the
// compose file is the same everywhere: temporalio/temporal:<CLI version> from the pinned CLI binary provisioning
// found, and node:20-bookworm-slim (./Dockerfile's base) from the host's Node 20. The Stagecoach worker image itself
// is built by compose from ./Dockerfile (`docker-compose up --build`). Installed/built only when asked
// (`provision({ compose: true })`, `npm run provision -- --compose`, test/e2e/compose.test.ts).
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import tarFs from 'tar-fs';
import { PROJECT_ROOT } from '../config/paths';
import { aptInstall, imagePresent } from './docker';
import { TEMPORAL_CLI_VERSION } from './temporal';
import { type Log, isDebian, isRoot, run, which, withLock } from './util';

/** Image names docker-compose.yml and ./Dockerfile use. */
export const TEMPORAL_IMAGE = `temporalio/temporal:${TEMPORAL_CLI_VERSION}`;
export const NODE_MAJOR = 20;
export const NODE_IMAGE = `node:${NODE_MAJOR}-bookworm-slim`;
export const WORKER_IMAGE = 'stagecoach-worker';
export const COMPOSE_FILE = path.join(PROJECT_ROOT, 'docker-compose.yml');
const DEPLOY_DIR = path.join(PROJECT_ROOT, 'deploy');

/** How to run compose here: `docker-compose …` (Debian's v1, or a standalone v2) or `docker compose …` (v2 plugin). */
export interface ComposeCommand {
  file: string;
  /** Arguments before compose's own (['compose'] for the plugin). */
  args: string[];
  version: string;
}

async function composeVersion(file: string, args: string[]): Promise<string | undefined> {
  const res = await run(file, [...args, 'version', '--short'], { timeoutMs: 30_000 }).catch(() => undefined);
  return res?.code === 0 ? res.stdout.trim() || 'unknown' : undefined;
}

/** `docker-compose` on PATH (or in the system directories), else the `docker compose` plugin. */
export async function findCompose(): Promise<ComposeCommand | undefined> {
  const standalone = await which('docker-compose', { systemDirs: true });
  if (standalone) {
    const version = await composeVersion(standalone, []);
    if (version) return { file: standalone, args: [], version };
  }
  const docker = await which('docker', { systemDirs: true });
  if (docker) {
    const version = await composeVersion(docker, ['compose']);
    if (version) return { file: docker, args: ['compose'], version };
  }
  return undefined;
}

/** Finds compose, or installs Debian's `docker-compose` package (compose v1) on Debian as root. */
export async function ensureCompose(log: Log): Promise<ComposeCommand> {
  const found = await findCompose();
  if (found) return found;
  if (!isDebian() || !isRoot()) {
    throw new Error(
      'neither `docker-compose` nor `docker compose` was found. Install Docker Compose (Debian: `sudo apt-get install ' +
        'docker-compose`; elsewhere the compose plugin from Docker) and try again.',
    );
  }
  return withLock('apt-docker-compose', log, async () => {
    const again = await findCompose();
    if (again) return again;
    log('docker compose not found; installing Debian\'s docker-compose');
    await aptInstall(['docker-compose'], log);
    const installed = await findCompose();
    if (!installed) throw new Error('apt-get installed docker-compose but `docker-compose version` does not answer');
    log(`installed docker-compose ${installed.version}`);
    return installed;
  });
}

/** Builds `tag` from the directory `context` (its Dockerfile), failing with the build's last lines. */
async function buildFromDirectory(docker: Docker, context: string, tag: string, opts: { labels: Record<string, string>; buildargs: Record<string, string> }): Promise<void> {
  const stream = (await docker.buildImage(tarFs.pack(context) as unknown as Readable, { t: tag, rm: true, forcerm: true, ...opts })) as Readable;
  const tail: string[] = [];
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), (event: { stream?: string; error?: string }) => {
      for (const line of (event.error ?? event.stream ?? '').split('\n').filter((l) => l.trim())) {
        tail.push(line);
        if (tail.length > 15) tail.shift();
      }
      if (event.error) reject(new Error(event.error));
    });
  }).catch((err: Error) => {
    throw new Error(`building ${tag} failed: ${err.message.trim()}\n${tail.join('\n')}`);
  });
  if (!(await imagePresent(docker, tag))) throw new Error(`building ${tag} finished but the engine does not list it:\n${tail.join('\n')}`);
}

/**
 * Makes `image` exist: present, or pulled where the engine has registry mirrors (or STAGECOACH_PULL_IMAGES=1), else
 * built from deploy/<dir>/Dockerfile in a temporary context that `fill` completes (binaries are copied there, never
 * into the repository).
 */
interface Filled {
  /** What the image was made from, for the log and a label. */
  from: string;
  buildargs?: Record<string, string>;
}

async function ensureStandIn(docker: Docker, log: Log, image: string, dir: string, fill: (context: string) => Promise<Filled>): Promise<boolean> {
  if (await imagePresent(docker, image)) return false;
  return withLock(`image-${image.replace(/[^\w.-]+/g, '_')}`, log, async () => {
    if (await imagePresent(docker, image)) return false;
    const info = (await docker.info()) as { RegistryConfig?: { Mirrors?: string[] | null } };
    if ((info.RegistryConfig?.Mirrors ?? []).length > 0 || process.env.STAGECOACH_PULL_IMAGES === '1') {
      try {
        log(`pulling ${image}`);
        const stream = await docker.pull(image);
        await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
        if (await imagePresent(docker, image)) return true;
      } catch (err) {
        log(`warning: pulling ${image} failed (${(err as Error).message}); building a local stand-in instead`);
      }
    }
    const context = await fsp.mkdtemp(path.join(os.tmpdir(), 'stagecoach-image-'));
    try {
      await fsp.copyFile(path.join(DEPLOY_DIR, dir, 'Dockerfile'), path.join(context, 'Dockerfile'));
      const { from, buildargs = {} } = await fill(context);
      log(`building ${image} locally (no registry): deploy/${dir}/Dockerfile with ${from}`);
      const started = Date.now();
      await buildFromDirectory(docker, context, image, { labels: { 'org.stagecoach.stand-in-from': from }, buildargs });
      log(`built ${image} in ${Math.round((Date.now() - started) / 1000)}s`);
    } finally {
      await fsp.rm(context, { recursive: true, force: true });
    }
    return true;
  });
}

/** The npm that ships with the running Node (NodeSource and nodejs.org layouts: <prefix>/lib/node_modules/npm). */
async function hostNpmDir(): Promise<string> {
  const candidates = [path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm')];
  const onPath = await which('npm');
  if (onPath) candidates.push(path.resolve(path.dirname(await fsp.realpath(onPath)), '..'));
  for (const dir of candidates) {
    const pkg = await fsp.readFile(path.join(dir, 'package.json'), 'utf8').catch(() => '');
    if (pkg && (JSON.parse(pkg) as { name?: string }).name === 'npm') return dir;
  }
  throw new Error(`npm was not found next to ${process.execPath}; ${NODE_IMAGE} cannot be built locally`);
}

/**
 * The CA bundle the host's Node and npm trust beyond Node's own roots: NODE_EXTRA_CA_CERTS, else npm's `cafile`
 * (npm_config_cafile, as npm scripts see it, else the npm installation's global npmrc). Without it, `npm ci` in a
 * build fails where the host reaches the registry through a TLS-inspecting proxy.
 */
async function hostExtraCaFile(npmDir: string): Promise<string | undefined> {
  const readable = async (file: string | undefined) => (file && (await fsp.access(file).then(() => true, () => false)) ? file : undefined);
  const fromEnv = (await readable(process.env.NODE_EXTRA_CA_CERTS)) ?? (await readable(process.env.npm_config_cafile));
  if (fromEnv) return fromEnv;
  // <prefix>/lib/node_modules/npm → <prefix>/etc/npmrc
  const globalRc = await fsp.readFile(path.resolve(npmDir, '..', '..', '..', 'etc', 'npmrc'), 'utf8').catch(() => '');
  return readable(/^\s*cafile\s*=\s*(.+?)\s*$/m.exec(globalRc)?.[1]);
}

/**
 * Makes the images docker-compose.yml needs from elsewhere exist: TEMPORAL_IMAGE (the pinned CLI binary `temporalCli`
 * on debian:bookworm-slim) and NODE_IMAGE (the host's Node 20 and its npm on debian:bookworm-slim). Answers the
 * names it built or pulled (empty when all were present).
 */
export async function ensureComposeImages(log: Log, opts: { temporalCli: string }): Promise<string[]> {
  const docker = new Docker();
  const made: string[] = [];
  if (await ensureStandIn(docker, log, TEMPORAL_IMAGE, 'temporal', async (context) => {
    await fsp.copyFile(opts.temporalCli, path.join(context, 'temporal'));
    return { from: opts.temporalCli };
  })) made.push(TEMPORAL_IMAGE);

  if (await ensureStandIn(docker, log, NODE_IMAGE, 'node', async (context) => {
    const major = Number(process.versions.node.split('.')[0]);
    if (process.platform !== 'linux' || major !== NODE_MAJOR) {
      throw new Error(
        `${NODE_IMAGE} is missing and cannot be pulled; building it locally needs this process to run Node ${NODE_MAJOR} ` +
          `on Linux (it runs Node ${process.versions.node} on ${process.platform}). Load ${NODE_IMAGE} into the engine yourself.`,
      );
    }
    await fsp.copyFile(process.execPath, path.join(context, 'node'));
    const npmDir = await hostNpmDir();
    await fsp.cp(npmDir, path.join(context, 'npm'), { recursive: true, verbatimSymlinks: true });
    const caFile = await hostExtraCaFile(npmDir);
    await fsp.writeFile(path.join(context, 'host-ca-certificates.crt'), caFile ? await fsp.readFile(caFile) : '');
    const buildargs: Record<string, string> = caFile ? { HOST_CA_CERTS: '/usr/local/share/stagecoach/host-ca-certificates.crt' } : {};
    return { from: `${process.execPath} (Node ${process.versions.node})${caFile ? ` trusting ${caFile}` : ''}`, buildargs };
  })) made.push(NODE_IMAGE);
  return made;
}
