/**
 * The load balancer's containers, changed without dropping a request.
 *
 * A holder (the `lb` node's container, only `sleep`) owns the network namespace: the address and name on the
 * environment's network and the published ports. HAProxy runs in a container that joins it, one per configuration and
 * image. A change of either (a new image, servers added or removed when `pairs` changes) is a hand-over: the new
 * HAProxy starts in the same namespace, takes the running one's listening sockets through the unix socket in the run
 * volume both mount (`haproxy -x`) and starts from its server states; only once it has loaded is the old one told to
 * stop softly (SIGUSR1), finishing what it serves, and removed once it has exited. The sockets never close, so no
 * connection is refused. Only what the holder owns (the published port, the network) needs a new holder: that one
 * change takes the site down for a moment.
 *
 * Idempotent, and safe against a worker lost at any point: each pass looks at what runs and finishes the half-done
 * change (the HAProxy container of the wanted configuration is started if missing, every other one retired after it
 * has loaded), so there is never no HAProxy running, and never two once a pass completes.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import tarStream from 'tar-stream';
import { ActivityFailure } from '../shared/errors';
import type { EnvironmentConfig } from '../shared/types';
import { HAPROXY_BACKEND, HAPROXY_HANDOVER_SOCKET, HAPROXY_RUN_DIR, HAPROXY_SERVER_STATE_FILE } from '../topology/haproxy-config';
import {
  LABEL, LOAD_BALANCER_NODE, LOAD_BALANCER_PROCESS, containerName, labelFilter, loadBalancerProcessNode, loadBalancerRunVolume, networkName, pairNumber,
} from '../topology/names';
import { publishAddress } from '../topology/placement';
import { NODE_RESTART_POLICY, endpoint, inspectOrUndefined } from './containers';
import type { DockerProvider } from './docker-hosts';
import { RUNTIME_API_PORT, createLoadBalancerActivities, haproxyCommand, runtimeEndpointOf } from './load-balancer';

/** The port HAProxy's frontend binds inside the namespace. */
export const LB_PORT = 80;
/** How long a new HAProxy may take to load before the hand-over is given up (the old one keeps serving). */
const LOAD_TIMEOUT_MS = 30_000;
/** Beyond the configuration's hard-stop-after, how long a retired HAProxy may take to exit before it is removed. */
const RETIRE_SLACK_MS = 15_000;

export interface LoadBalancerTarget { pipelineId: string; environment: EnvironmentConfig }

/** What a pass did: which HAProxy container serves now, and what changed on the way. */
export interface LoadBalancerChange {
  /** The HAProxy container serving now. */
  process: string;
  /** A new HAProxy took over from a running one (no request dropped). */
  handedOver: boolean;
  /** A new holder was made (first start, or its published port or network changed): the site was down meanwhile. */
  newHolder: boolean;
  /** Servers drained and taken out of the load balancer, and the pair containers removed after them. */
  removedServers: string[];
  removedContainers: string[];
}

export function createLoadBalancerContainers(deps: { docker: DockerProvider; secret: string }) {
  const runtime = createLoadBalancerActivities(deps);

  /**
   * Brings the environment's load balancer to `config` on `image`: its holder, one HAProxy container of that
   * configuration, and no server or pair container beyond `environment.pairs` (each drained first).
   */
  async function apply(target: LoadBalancerTarget, wanted: { image: string; config: string; configHash: string; env: string[] }): Promise<LoadBalancerChange> {
    const { pipelineId, environment } = target;
    const docker = deps.docker(environment.docker);
    const labels = { [LABEL.pipeline]: pipelineId, [LABEL.environment]: environment.name };
    const holder = await ensureHolder(docker, target, wanted.image, labels);
    const name = containerName(pipelineId, environment.name, loadBalancerProcessNode(wanted.configHash));
    const others = (await processes(docker, target)).filter((c) => c.Name !== `/${name}`);
    // HAProxy containers that stopped, or that run in a namespace the holder no longer has, serve nothing.
    const serving = others.filter((c) => c.State.Running && !startedBefore(c, holder.started));
    for (const c of others.filter((o) => !serving.includes(o))) await docker.getContainer(c.Id).remove({ force: true });

    const info = await inspectOrUndefined(docker.getContainer(name));
    const wantedServes = !!info?.State.Running && !startedBefore(info, holder.started);
    let removedServers: string[] = [];
    if (!wantedServes) {
      if (info) await docker.getContainer(name).remove({ force: true });
      // Servers the new one will not have leave while the running one still serves, drained first.
      if (serving.length > 0) removedServers = await drainSurplusServers(target);
      await startProcess(docker, target, { ...wanted, name, labels, serverState: serving.length > 0 ? await serverState(target) : '' });
    }
    // The new one has loaded (or ran already): the old ones stop taking connections and finish what they serve.
    await Promise.all(serving.map((c) => retire(docker.getContainer(c.Id))));
    return { process: name, handedOver: !wantedServes && serving.length > 0, newHolder: holder.created, removedServers, removedContainers: await removeSurplusPairs(target) };
  }

  /** The holder, made anew when what it owns changed (its published ports, its network) or when it is not running. */
  async function ensureHolder(docker: Docker, target: LoadBalancerTarget, image: string, labels: Record<string, string>) {
    const { pipelineId, environment } = target;
    const name = containerName(pipelineId, environment.name, LOAD_BALANCER_NODE);
    const holderHash = holderIdentity(target);
    const found = await inspectOrUndefined(docker.getContainer(name));
    if (found?.State.Running && found.Config.Labels?.[LABEL.configHash] === holderHash) return { started: found.State.StartedAt, created: false };
    // A new namespace: the HAProxy containers in the old one go with it (a load balancer made before holders existed
    // is the `lb` container itself, and goes the same way, once).
    for (const c of await processes(docker, target)) await docker.getContainer(c.Id).remove({ force: true });
    if (found) await docker.getContainer(name).remove({ force: true });
    const holder = await docker.createContainer(holderContainerSpec(target, image, labels, holderHash));
    try {
      await holder.start();
    } catch (err) {
      await holder.remove({ force: true }).catch(() => undefined);
      throw ApplicationFailure.create({
        type: ActivityFailure.PortInUse,
        message: `The ${environment.name} load balancer cannot start: ${(err as Error).message}. ` +
          `Free ${publishAddress(environment.docker)}:${environment.loadBalancerPort} or change environments.${environment.type}.loadBalancerPort.`,
      });
    }
    return { started: (await holder.inspect()).State.StartedAt, created: true };
  }

  /** Every HAProxy container of the environment, running or not. */
  async function processes(docker: Docker, { pipelineId, environment }: LoadBalancerTarget): Promise<Docker.ContainerInspectInfo[]> {
    const list = await docker.listContainers({
      all: true,
      filters: { label: [labelFilter(LABEL.pipeline, pipelineId), labelFilter(LABEL.environment, environment.name), labelFilter(LABEL.node, LOAD_BALANCER_PROCESS)] },
    });
    const found = await Promise.all(list.map((c) => inspectOrUndefined(docker.getContainer(c.Id))));
    return found.filter((c): c is Docker.ContainerInspectInfo => c !== undefined);
  }

  /**
   * Starts the HAProxy container of the wanted configuration in the holder's namespace, from `serverState` (what the
   * running one says now, so drained and maintenance servers stay so), and waits until it has loaded. One that fails
   * to load is removed, and the running one keeps serving.
   */
  async function startProcess(docker: Docker, target: LoadBalancerTarget, spec: {
    image: string; config: string; configHash: string; env: string[]; name: string; labels: Record<string, string>; serverState: string;
  }): Promise<void> {
    const { pipelineId, environment } = target;
    await docker.createVolume({ Name: loadBalancerRunVolume(pipelineId, environment.name), Labels: spec.labels });
    const container = await docker.createContainer(haproxyContainerSpec(target, spec));
    if (spec.serverState) await putFile(container, HAPROXY_SERVER_STATE_FILE, spec.serverState);
    await container.start();
    const started = Date.now();
    for (;;) {
      const [state, logs] = await Promise.all([container.inspect(), container.logs({ stdout: true, stderr: true, follow: false })]);
      const output = logs.toString('utf8');
      if (/Loading success/.test(output)) break;
      if (!state.State.Running || Date.now() - started > LOAD_TIMEOUT_MS) {
        await container.remove({ force: true }).catch(() => undefined);
        throw new Error(`the new ${environment.name} load balancer did not load (the running one keeps serving):\n${output.slice(-2000)}`);
      }
      heartbeat({ loading: spec.name });
      await sleep(200);
    }
    // Loaded: a later restart of this container (the Docker Engine's) must not bring back today's server states.
    if (spec.serverState) await removeFile(container, HAPROXY_SERVER_STATE_FILE);
  }

  /** What the running HAProxy says of its servers, in the form a new one loads (`show servers state`). */
  async function serverState(target: LoadBalancerTarget): Promise<string> {
    const api = await runtimeEndpointOf(deps, target.pipelineId, target.environment);
    return haproxyCommand(api, `show servers state ${HAPROXY_BACKEND}`);
  }

  /**
   * Servers of pairs beyond `environment.pairs`: each drained (no new requests, bounded wait for its sessions), then
   * put in maintenance, before a new HAProxy without it takes over.
   */
  async function drainSurplusServers(target: LoadBalancerTarget): Promise<string[]> {
    const { environment } = target;
    const servers = await runtime.readServers(target);
    const surplus = servers.filter((s) => (pairNumber(s.server) ?? 0) > environment.pairs);
    // As a rollout's capacity guard: never take out what carries the traffic while the pairs that stay are not UP.
    const stayingUp = servers.filter((s) => (pairNumber(s.server) ?? 0) <= environment.pairs && /^UP\b/.test(s.status)).length;
    const required = Math.min(environment.minInService ?? 1, environment.pairs);
    if (surplus.some((s) => /^UP\b/.test(s.status)) && stayingUp < required) {
      throw ApplicationFailure.create({
        type: ActivityFailure.InsufficientCapacity, nonRetryable: true,
        message: `not removing ${surplus.map((s) => s.server).join(', ')} from the ${environment.name} load balancer: ` +
          `${stayingUp} of the ${environment.pairs} pair(s) that stay are UP, ${required} must be`,
      });
    }
    for (const { server } of surplus) {
      await runtime.setServerState({ ...target, server, state: 'drain' });
      await runtime.waitForSessionsDrained({ ...target, server, timeoutMs: msToNumber(environment.drainTimeout as never) });
      await runtime.setServerState({ ...target, server, state: 'maint' });
    }
    return surplus.map((s) => s.server);
  }

  /** The containers of pairs beyond `environment.pairs`, on every engine the environment names (their mount volumes stay). */
  async function removeSurplusPairs({ pipelineId, environment }: LoadBalancerTarget): Promise<string[]> {
    const engines = [environment.docker, ...Object.values(environment.engines ?? {}).map((e) => e.docker)];
    const removed: string[] = [];
    for (const engine of engines) {
      const docker = deps.docker(engine);
      const list = await docker.listContainers({ all: true, filters: { label: [labelFilter(LABEL.pipeline, pipelineId), labelFilter(LABEL.environment, environment.name)] } });
      for (const c of list.filter((x) => (pairNumber(x.Labels[LABEL.node] ?? '') ?? 0) > environment.pairs)) {
        await docker.getContainer(c.Id).remove({ force: true });
        removed.push(c.Labels[LABEL.node]);
      }
    }
    return removed;
  }

  /** Soft stop: the retired HAProxy stops taking connections, finishes its requests and exits; then it is removed. */
  async function retire(container: Docker.Container): Promise<void> {
    const info = await inspectOrUndefined(container);
    if (info?.State.Running) {
      await container.kill({ signal: 'SIGUSR1' });
      // The configuration's hard-stop-after bounds it; past that (and some slack), it is removed anyway.
      const bound = Date.now() + hardStopAfterMs(info) + RETIRE_SLACK_MS;
      while (Date.now() < bound && (await inspectOrUndefined(container))?.State.Running) {
        heartbeat({ retiring: info.Name });
        await sleep(250);
      }
    }
    await container.remove({ force: true }).catch((err: { statusCode?: number }) => { if (err.statusCode !== 404) throw err; });
  }

  return { apply };
}

/** What the holder owns: a holder made for other values is replaced (the one change that is not seamless). */
export function holderIdentity({ pipelineId, environment }: LoadBalancerTarget): string {
  const published = `${publishAddress(environment.docker)}:${environment.loadBalancerPort || 'any'}`;
  return `holder ${networkName(pipelineId, environment.name)} ${environment.subnet ?? 'no-subnet'} ${published}`;
}

/** The holder: `sleep` in the load balancer image, with the `lb` node's address, name and published ports. */
export function holderContainerSpec(
  { pipelineId, environment }: LoadBalancerTarget, image: string, labels: Record<string, string>, holderHash: string,
): Docker.ContainerCreateOptions {
  const network = networkName(pipelineId, environment.name);
  const host = publishAddress(environment.docker);
  return {
    name: containerName(pipelineId, environment.name, LOAD_BALANCER_NODE),
    Image: image,
    Entrypoint: ['sleep', 'infinity'],
    Cmd: [],
    Labels: { ...labels, [LABEL.node]: LOAD_BALANCER_NODE, [LABEL.configHash]: holderHash },
    ExposedPorts: { [`${LB_PORT}/tcp`]: {}, [`${RUNTIME_API_PORT}/tcp`]: {} },
    HostConfig: {
      PortBindings: {
        [`${LB_PORT}/tcp`]: [{ HostIp: host, HostPort: environment.loadBalancerPort ? String(environment.loadBalancerPort) : '' }],
        [`${RUNTIME_API_PORT}/tcp`]: [{ HostIp: host, HostPort: '' }],
      },
      NetworkMode: network,
      RestartPolicy: NODE_RESTART_POLICY,
    },
    NetworkingConfig: { EndpointsConfig: { [network]: endpoint(environment.subnet, LOAD_BALANCER_NODE) } },
  };
}

/**
 * One HAProxy container: the configuration in HAPROXY_CFG (examples/loadbalancer's entrypoint writes it), in the
 * holder's network namespace, the run volume mounted, told to take over the listening sockets of whichever HAProxy
 * runs there (`-x`; when none does, HAProxy warns and binds them itself, as on a first start or a restart).
 */
export function haproxyContainerSpec(
  { pipelineId, environment }: LoadBalancerTarget, spec: { name: string; image: string; config: string; configHash: string; env: string[]; labels: Record<string, string> },
): Docker.ContainerCreateOptions {
  return {
    name: spec.name,
    Image: spec.image,
    // The runtime API's TLS credentials go to this container only (the holder runs no HAProxy).
    Env: [`HAPROXY_CFG=${spec.config}`, ...spec.env],
    Cmd: ['-x', HAPROXY_HANDOVER_SOCKET],
    Labels: { ...spec.labels, [LABEL.node]: LOAD_BALANCER_PROCESS, [LABEL.configHash]: spec.configHash },
    HostConfig: {
      NetworkMode: `container:${containerName(pipelineId, environment.name, LOAD_BALANCER_NODE)}`,
      Mounts: [{ Type: 'volume', Source: loadBalancerRunVolume(pipelineId, environment.name), Target: HAPROXY_RUN_DIR }],
      RestartPolicy: NODE_RESTART_POLICY,
    },
  };
}

/** Heartbeats in an activity; tests and benchmarks also call these functions directly, outside one. */
function heartbeat(details: unknown): void {
  let context: Context | undefined;
  try {
    context = Context.current();
  } catch {
    return;
  }
  context.heartbeat(details);
}

function startedBefore(info: Docker.ContainerInspectInfo, holderStarted: string): boolean {
  return Date.parse(info.State.StartedAt) < Date.parse(holderStarted);
}

/** The hard-stop-after of the configuration a HAProxy container runs (its HAPROXY_CFG). */
function hardStopAfterMs(info: Docker.ContainerInspectInfo): number {
  const config = (info.Config.Env ?? []).find((e) => e.startsWith('HAPROXY_CFG=')) ?? '';
  const seconds = /hard-stop-after (\d+)s/.exec(config)?.[1];
  return seconds ? Number(seconds) * 1000 : 60_000;
}

async function putFile(container: Docker.Container, file: string, content: string): Promise<void> {
  const slash = file.lastIndexOf('/');
  const pack = tarStream.pack();
  pack.entry({ name: file.slice(slash + 1) }, content);
  pack.finalize();
  await container.putArchive(pack as unknown as Readable, { path: file.slice(0, slash) });
}

async function removeFile(container: Docker.Container, file: string): Promise<void> {
  const exec = await container.exec({ Cmd: ['rm', '-f', file], AttachStdout: false, AttachStderr: false });
  await exec.start({ Detach: true });
  for (let i = 0; i < 50 && (await exec.inspect()).Running; i++) await sleep(100);
}
