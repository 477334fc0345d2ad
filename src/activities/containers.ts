/**
 * A node's container on its Docker Engine: replaced by name with a new image (its named volumes kept), on the
 * environment's network, and commands run inside it (the app's hooks). The small Docker helpers the other
 * activities share (inspect, published port, a directory's files) are here too.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import tarStream from 'tar-stream';
import { ActivityFailure, NonRetryable } from '../shared/errors';
import type { EnvironmentConfig } from '../shared/types';
import { LABEL, containerName, networkName, volumeName } from '../topology/names';
import { dynamicRange, engineOf, fixedAddress, gatewayAddress, publishAddress } from '../topology/placement';
import { ensureImageOn, type DockerProvider } from './docker-hosts';

export interface ReplaceContainerInput {
  pipelineId: string;
  environment: EnvironmentConfig;
  /** Node name inside the environment: author, publish-1, dispatcher-1, lb. Also its DNS alias on the network. */
  node: string;
  image: string;
  env: Record<string, string>;
  containerPort: number;
  /** Host port on the engine's publish address (127.0.0.1 by default); 0 or undefined lets Docker choose. */
  hostPort?: number;
  /** Idempotency key (execution and node): a container already created under this key is kept, never redone. */
  deployKey: string;
  /**
   * A read-only root filesystem and the paths that stay writable: each a named volume of this node (created on first
   * use, owned by the image's user, kept when the container is replaced).
   */
  filesystem?: { readOnlyRootFilesystem: boolean; mounts: string[] };
}

export interface ReplaceContainerResult {
  container: string;
  image: string;
  /** The image the node ran before this replacement (what a rollback restores); undefined on a first deploy. */
  previousImage?: string;
  hostPort: number;
  /** True when the container already existed under this deploy key (a retry after a crash): nothing was redone. */
  reused: boolean;
}

/** The host port a container publishes for a container port (on its engine's publish address). */
export async function publishedPort(container: Docker.Container, containerPort: number): Promise<number> {
  const info = await container.inspect();
  const binding = info.NetworkSettings.Ports?.[`${containerPort}/tcp`]?.[0];
  if (!binding) throw new Error(`container ${info.Name} publishes no port for ${containerPort}/tcp`);
  return Number(binding.HostPort);
}

export async function inspectOrUndefined(container: Docker.Container) {
  return container.inspect().catch((err: { statusCode?: number }) => {
    if (err.statusCode === 404) return undefined;
    throw err;
  });
}

/**
 * Makes sure the environment's network exists on an engine. With a declared subnet, nodes get fixed addresses in it
 * and Docker hands out only the top quarter to anything else. A network that exists with another subnet is refused,
 * not recreated: that would mean removing every container on it.
 */
export async function ensureNetwork(docker: Docker, name: string, labels: Record<string, string>, subnet?: string): Promise<void> {
  const existing = (await docker.listNetworks({ filters: { name: [name] } })).find((n) => n.Name === name);
  if (existing) {
    const current = existing.IPAM?.Config?.map((c) => c.Subnet).filter(Boolean) ?? [];
    if (subnet && !current.includes(subnet)) {
      throw ApplicationFailure.create({
        type: NonRetryable.InvalidConfig, nonRetryable: true,
        message: `Network ${name} exists with subnet ${current.join(', ') || '(none)'}, not ${subnet} as configured. ` +
          `Stagecoach does not recreate a network under running containers: keep its subnet in the configuration, or remove the environment's containers and network first.`,
      });
    }
    return;
  }
  // The gateway is named: Docker would otherwise take the first address of IPRange for it.
  const ipam = subnet ? { IPAM: { Driver: 'default', Config: [{ Subnet: subnet, IPRange: dynamicRange(subnet)!, Gateway: gatewayAddress(subnet)! }] } } : {};
  await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, ...ipam }).catch((err: { statusCode?: number; message?: string }) => {
    if (err.statusCode === 409) return;
    if (subnet && /overlap/i.test(err.message ?? '')) {
      throw ApplicationFailure.create({
        type: NonRetryable.InvalidConfig, nonRetryable: true,
        message: `Network ${name} cannot have subnet ${subnet}: ${err.message}. Choose a subnet no other network on that engine uses.`,
      });
    }
    throw err;
  });
}

/** The regular files of a tar stream (as `getArchive` answers a directory), by path below that directory. */
export async function extractTar(archive: Readable, limit?: { maxBytes: number; what: string }): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tarStream.extract();
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => {
        total += (c as Buffer).length;
        if (limit && total > limit.maxBytes) {
          archive.destroy();
          reject(ApplicationFailure.create({
            type: NonRetryable.InvalidImage, nonRetryable: true,
            message: `${limit.what} exceed ${limit.maxBytes} bytes: keep only the report files there`,
          }));
          return;
        }
        chunks.push(c as Buffer);
      });
      body.on('end', () => {
        if (header.type === 'file') files.set(header.name.split('/').slice(1).join('/'), Buffer.concat(chunks));
        next();
      });
      body.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    archive.on('error', reject);
    archive.pipe(extract);
  });
  return files;
}

/** A node's place on the environment's network: its name, and its fixed address when the subnet is declared. */
export function endpoint(subnet: string | undefined, node: string): { Aliases: string[]; IPAMConfig?: { IPv4Address: string } } {
  const address = subnet ? fixedAddress(subnet, node) : undefined;
  return { Aliases: [node], ...(address ? { IPAMConfig: { IPv4Address: address } } : {}) };
}

/**
 * Every container Stagecoach runs for a node comes back with the engine. `always`, not `unless-stopped`: an engine that
 * is stopped while it still accepts requests lets a rollout start containers it then does not stop; the engine that
 * comes next kills those on start-up and counts that as a manual stop, so `unless-stopped` leaves them down after a
 * release that finished. Stagecoach never leaves a stopped container of a node behind (it removes the one it
 * replaces), so `always` restarts nothing an operator meant to keep down.
 */
export const NODE_RESTART_POLICY = { Name: 'always' } as const;

export function createContainerActivities(deps: { docker: DockerProvider }) {
  async function replaceContainer(input: ReplaceContainerInput): Promise<ReplaceContainerResult> {
    const engine = engineOf(input.environment, input.node);
    const docker = deps.docker(engine.docker);
    const name = containerName(input.pipelineId, input.environment.name, input.node);
    const network = networkName(input.pipelineId, input.environment.name);
    const current = docker.getContainer(name);
    const info = await inspectOrUndefined(current);
    // A remote engine gets the image built locally, the same ID, before its first container of it.
    await ensureImageOn(docker, deps.docker(), input.image);
    const wanted = await docker.getImage(input.image).inspect().then((i) => i.Id, () => undefined);
    const filesystem = input.filesystem && (input.filesystem.readOnlyRootFilesystem || input.filesystem.mounts.length)
      ? JSON.stringify(input.filesystem) : '';
    // Already running this image with these filesystem settings (a retry, a resumed rollout, or a restore of a node
    // that was never replaced): nothing to redo, so no node is ever deployed twice. A matching key alone is never
    // enough: a container left by another execution of the same number (numbering started again) runs another image.
    if (info && info.State.Running && info.Image === wanted && (info.Config.Labels?.[LABEL.filesystem] ?? '') === filesystem) {
      return {
        container: name, image: info.Image, previousImage: info.Config.Labels[LABEL.previousImage] || undefined,
        hostPort: await publishedPort(current, input.containerPort), reused: true,
      };
    }
    // A container made under this key (this very effect, retried) on the wanted image that is not running: keep the
    // image it replaced. Anything else is what the node runs now.
    const ownAttempt = info?.Config.Labels?.[LABEL.deployKey] === input.deployKey && info?.Image === wanted;
    const previousImage = info ? (ownAttempt ? info.Config.Labels[LABEL.previousImage] : info.Image) : undefined;
    // Created by an attempt whose worker was lost before it started it: start that one rather than make a second.
    if (ownAttempt && info.State.Status === 'created' && (info.Config.Labels[LABEL.filesystem] ?? '') === filesystem) {
      await startNode(current, input, engine.docker);
      return { container: name, image: info.Image, previousImage, hostPort: await publishedPort(current, input.containerPort), reused: true };
    }
    const image = await docker.getImage(input.image).inspect().catch(() => {
      throw ApplicationFailure.create({
        type: NonRetryable.InvalidImage, nonRetryable: true,
        message: `Image ${input.image} is not on the Docker Engine of environment ${input.environment.name}`,
      });
    });
    if (info) {
      await current.stop({ t: 5 }).catch(() => undefined);
      await current.remove({ force: true }).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404) throw err;
      });
    }
    const portKey = `${input.containerPort}/tcp`;
    const mounts = await ensureMountVolumes(docker, input, image);
    const created = await docker.createContainer({
      name,
      Image: image.Id,
      Env: Object.entries(input.env).map(([k, v]) => `${k}=${v}`),
      Labels: {
        [LABEL.pipeline]: input.pipelineId,
        [LABEL.environment]: input.environment.name,
        [LABEL.node]: input.node,
        [LABEL.deployKey]: input.deployKey,
        [LABEL.previousImage]: previousImage ?? '',
        ...(filesystem ? { [LABEL.filesystem]: filesystem } : {}),
      },
      ExposedPorts: { [portKey]: {} },
      HostConfig: {
        ...(input.filesystem?.readOnlyRootFilesystem ? { ReadonlyRootfs: true } : {}),
        ...(mounts.length ? { Mounts: mounts } : {}),
        PortBindings: { [portKey]: [{ HostIp: publishAddress(engine.docker), HostPort: input.hostPort ? String(input.hostPort) : '' }] },
        NetworkMode: network,
        RestartPolicy: NODE_RESTART_POLICY,
      },
      NetworkingConfig: { EndpointsConfig: { [network]: endpoint(engine.subnet, input.node) } },
    });
    await startNode(created, input, engine.docker);
    return { container: name, image: image.Id, previousImage, hostPort: await publishedPort(created, input.containerPort), reused: false };
  }

  return { replaceContainer };
}

/** Starts a node's new container; a host port another process holds is said as such, with the setting to change. */
async function startNode(container: Docker.Container, input: ReplaceContainerInput, engine: EnvironmentConfig['docker']): Promise<void> {
  try {
    await container.start();
  } catch (err) {
    const message = (err as Error).message;
    if (/port is already allocated|address already in use/i.test(message)) {
      throw ApplicationFailure.create({
        type: ActivityFailure.PortInUse,
        message: `${publishAddress(engine)}:${input.hostPort} is taken by another process: free it or change the port of ${input.node} in environments.${input.environment.type}`,
      });
    }
    throw err;
  }
}

/**
 * The named volumes of a node's declared mounts. A volume made here for the first time is handed to the image's user
 * (a one-shot root container of the image chowns it; Docker first copies in what the image has at that path), so the
 * app can write to its mounts whatever user it runs as.
 */
async function ensureMountVolumes(docker: Docker, input: ReplaceContainerInput, image: Docker.ImageInspectInfo): Promise<Docker.MountSettings[]> {
  const mounts: Docker.MountSettings[] = [];
  for (const target of input.filesystem?.mounts ?? []) {
    const name = volumeName(input.pipelineId, input.environment.name, input.node, target);
    const exists = await docker.getVolume(name).inspect().then(() => true, () => false);
    if (!exists) {
      await docker.createVolume({
        Name: name,
        Labels: { [LABEL.pipeline]: input.pipelineId, [LABEL.environment]: input.environment.name, [LABEL.node]: input.node, [LABEL.mount]: target },
      });
      const user = image.Config.User;
      if (user && user !== 'root' && user !== '0') {
        const helper = await docker.createContainer({
          Image: image.Id, User: '0', Entrypoint: ['chown', user.split(':')[0], target], Cmd: [],
          Labels: { [LABEL.pipeline]: input.pipelineId },
          HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: name, Target: target }] },
        });
        try {
          await helper.start();
          const { StatusCode } = (await helper.wait()) as { StatusCode: number };
          if (StatusCode !== 0) {
            await docker.getVolume(name).remove().catch(() => undefined);
            throw new Error(`could not hand the mount ${target} to user ${user} (chown exited ${StatusCode})`);
          }
        } finally {
          await helper.remove({ force: true }).catch(() => undefined);
        }
      }
    }
    mounts.push({ Type: 'volume', Source: name, Target: target });
  }
  return mounts;
}

/** What one hook command did. */
export interface HookResult { exitCode: number; output: string; durationMs: number }

/** The `$0` of a keyed command's shell: how a later attempt finds the exec an earlier one started. */
const execMarker = (key: string) => `stagecoach-exec:${key}`;

/**
 * Where a keyed command leaves its exit code once it ends: Docker forgets an exec when it exits, and /dev/shm is a
 * tmpfs that stays writable under a read-only root filesystem. Kept for the container's life.
 */
const EXEC_RECORDS = '/dev/shm/.stagecoach-exec';
const execRecord = (key: string) => `${EXEC_RECORDS}/${createHash('sha256').update(key).digest('hex').slice(0, 24)}`;

/** The keyed command, wrapped so that its exit code is recorded (the command runs in a subshell, as given). */
function recordedCommand(command: string, key: string): string {
  return `( ${command}
); rc=$?; mkdir -p ${EXEC_RECORDS} 2>/dev/null; echo "$rc" > ${execRecord(key)} 2>/dev/null; exit "$rc"`;
}

/** The exit code a finished run of `key` recorded in this container, if one did. */
async function recordedExitCode(docker: Docker, container: Docker.Container, key: string): Promise<number | undefined> {
  const read = await execInContainer(docker, container, `cat ${execRecord(key)} 2>/dev/null`, {}, { tailLines: 1 });
  const code = read.exitCode === 0 ? Number(read.output.trim()) : NaN;
  return Number.isInteger(code) ? code : undefined;
}

/**
 * An exec of `key` this container already has, started by an earlier attempt of the same activity (a worker that
 * crashed or lost its connection while the command ran): Docker keeps each exec with its arguments and exit code.
 */
async function earlierExec(docker: Docker, container: Docker.Container, key: string): Promise<Docker.Exec | undefined> {
  const info = await inspectOrUndefined(container);
  for (const id of info?.ExecIDs ?? []) {
    const candidate = docker.getExec(id);
    const details = await candidate.inspect().catch(() => undefined);
    if (details?.ProcessConfig?.arguments?.includes(execMarker(key))) return candidate;
  }
  return undefined;
}

/**
 * Runs one shell command inside a running container (`sh -c`, as the container's user, under its filesystem rules),
 * streaming nothing but keeping the tail of its output; heartbeats while it runs. With `key` it runs at most once per
 * container: a retried attempt that finds the exec an earlier attempt started waits for it (if it still runs) and
 * takes its exit code, instead of starting a second copy. That earlier attempt's output went to its own worker.
 */
export async function execInContainer(
  docker: Docker, container: Docker.Container, command: string, env: Record<string, string>, options: { key?: string; tailLines?: number } = {},
): Promise<HookResult> {
  const ctx = Context.current();
  const started = Date.now();
  const tailLines = options.tailLines ?? 40;
  if (options.key) {
    const earlier = await earlierExec(docker, container, options.key);
    if (earlier) return awaitEarlierExec(earlier, started);
    const exitCode = await recordedExitCode(docker, container, options.key);
    if (exitCode !== undefined) return { exitCode, output: EARLIER_RUN_OUTPUT, durationMs: Date.now() - started };
  }
  const exec = await container.exec({
    Cmd: options.key ? ['sh', '-c', recordedCommand(command, options.key), execMarker(options.key)] : ['sh', '-c', command],
    AttachStdout: true, AttachStderr: true, Tty: false,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Readable;
  const chunks: string[] = [];
  const sink = { write: (chunk: Buffer) => { chunks.push(chunk.toString('utf8')); return true; } };
  container.modem.demuxStream(stream, sink as never, sink as never);
  const beat = setInterval(() => ctx.heartbeat({ seconds: Math.round((Date.now() - started) / 1000) }), 2000);
  const onCancel = () => stream.destroy();
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  try {
    await new Promise<void>((resolve) => { stream.on('end', resolve); stream.on('close', resolve); stream.on('error', () => resolve()); });
  } finally {
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
  }
  if (ctx.cancellationSignal.aborted) throw new CancelledFailure('hook stopped: the rollout was cancelled');
  // The exec may report its exit code a moment after its output ends.
  let info = await exec.inspect();
  for (let i = 0; info.Running && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    info = await exec.inspect();
  }
  const output = chunks.join('').split('\n').filter((l) => l.trim()).slice(-tailLines).join('\n');
  return { exitCode: info.ExitCode ?? -1, output, durationMs: Date.now() - started };
}

/** Waits (heartbeating) for an exec an earlier attempt started, and answers its exit code. */
async function awaitEarlierExec(exec: Docker.Exec, started: number): Promise<HookResult> {
  const ctx = Context.current();
  let info = await exec.inspect();
  while (info.Running) {
    ctx.heartbeat({ waitingForEarlierAttempt: true, seconds: Math.round((Date.now() - started) / 1000) });
    await ctx.sleep(250);
    info = await exec.inspect();
  }
  return { exitCode: info.ExitCode ?? -1, durationMs: Date.now() - started, output: EARLIER_RUN_OUTPUT };
}

const EARLIER_RUN_OUTPUT = '(run once, by an earlier attempt of this activity whose worker stopped; its output went to that worker\'s log)';
