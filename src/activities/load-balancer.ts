/**
 * The load balancer: HAProxy driven through its runtime API (a TCP socket published on its engine's publish address,
 * 127.0.0.1 by default). Every command is idempotent (setting a state twice is harmless), so a retry after a worker
 * crash never doubles an effect.
 *
 * The runtime API answers only a client certificate of the environment's CA (src/topology/haproxy-config.ts): its
 * port is reachable from every container on the environment's network. A client certificate holds wherever the load
 * balancer runs (a remote engine, a shared network namespace), whatever Docker does with the ports of a container on
 * several networks (docs/operations.md, "The admin plane").
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import tarStream from 'tar-stream';
import { HAPROXY_BACKEND, HAPROXY_MAINTENANCE_MAP, HAPROXY_VERSION_MAP } from '../topology/haproxy-config';
import type { EnvironmentConfig } from '../shared/types';
import { publishedPort } from './containers';
import type { DockerProvider } from './docker-hosts';
import {
  LABEL, LOAD_BALANCER_NODE, LOAD_BALANCER_PROCESS, containerName, labelFilter, pairMemberName, pairNumber, type PairMember,
} from '../topology/names';
import { engineOf, publishAddress } from '../topology/placement';
import { ActivityFailure, NonRetryable } from '../shared/errors';
import { runtimeApiClientCredentials, type RuntimeApiClientCredentials } from './runtime-api-credentials';

export const RUNTIME_API_PORT = 9999;

/**
 * Where the runtime API is published (the load balancer engine's publish address, 127.0.0.1 by default) and the
 * environment's credentials to speak to it with.
 */
export interface RuntimeEndpoint { host: string; port: number; credentials: RuntimeApiClientCredentials }

/** Sends one command to the HAProxy runtime API and answers its whole reply. */
export async function haproxyCommand(api: RuntimeEndpoint, command: string, timeoutMs = 5000): Promise<string> {
  try {
    return await exchange(api, command, timeoutMs, 'tls');
  } catch (err) {
    // Kept for load balancers created before the runtime API required TLS: such a one answers in clear text until
    // the next prepareEnvironment recreates it (its configuration changed), so a rollout under way while the worker
    // was upgraded finishes on it. A load balancer made since never answers in clear text.
    if ((err as { code?: string }).code !== 'ERR_SSL_WRONG_VERSION_NUMBER') throw err;
    return exchange(api, command, timeoutMs, 'plain');
  }
}

function exchange({ host, port, credentials }: RuntimeEndpoint, command: string, timeoutMs: number, transport: 'tls' | 'plain'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = transport === 'plain' ? net.connect({ host, port }) : tls.connect({
      host, port, ca: credentials.ca, cert: credentials.cert, key: credentials.key, minVersion: 'TLSv1.3',
      // The address is a published port, not a name: the certificate is pinned instead (the environment's own).
      checkServerIdentity: (_host, peer) => (peer.fingerprint256 === credentials.serverFingerprint256 ? undefined
        : new Error(`the runtime API at ${host}:${port} is not this environment's load balancer (certificate ${peer.fingerprint256})`)),
    });
    let reply = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`HAProxy runtime API timed out on "${command}"`)));
    socket.on(transport === 'plain' ? 'connect' : 'secureConnect', () => socket.write(`${command}\n`));
    socket.on('data', (d) => { reply += d.toString(); });
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
  });
}

export interface ServerStat {
  backend: string;
  server: string;
  /** UP, DOWN, DRAIN, MAINT, "UP 1/2", "DOWN 1/2", "no check"... as HAProxy reports it. */
  status: string;
  /** Current sessions. */
  sessions: number;
}

/** Parses `show stat` CSV by its header, so column order changes in HAProxy do not matter. */
export function parseShowStat(csv: string): ServerStat[] {
  const lines = csv.split('\n').filter((l) => l.trim());
  const header = lines.shift()?.replace(/^#\s*/, '').split(',') ?? [];
  const col = (name: string) => header.indexOf(name);
  const [px, sv, st, scur] = [col('pxname'), col('svname'), col('status'), col('scur')];
  return lines.map((l) => l.split(',')).filter((f) => f[sv] !== 'FRONTEND' && f[sv] !== 'BACKEND')
    .map((f) => ({ backend: f[px], server: f[sv], status: f[st], sessions: Number(f[scur] || 0) }));
}

export type ServerAdminState = 'ready' | 'drain' | 'maint';

/** `show map <file>` answers `<pointer> <key> <value>` a line: the entries, as key and value. */
export function parseMapEntries(reply: string): Array<[string, string]> {
  return reply.split('\n').map((l) => /^0x[0-9a-f]+ (\S+) (\S+)$/.exec(l.trim())).filter((m): m is RegExpExecArray => m !== null).map((m) => [m[1], m[2]]);
}

/**
 * Where an environment's runtime API is: published by its load balancer's holder (the `lb` node's container), spoken
 * to over TLS with this deployment's client certificate for that environment.
 */
export async function runtimeEndpointOf(
  deps: { docker: DockerProvider; secret: string }, pipelineId: string, environment: EnvironmentConfig,
): Promise<RuntimeEndpoint> {
  const engine = deps.docker(environment.docker);
  const revived = await reviveHaproxy(engine, pipelineId, environment);
  const container = engine.getContainer(containerName(pipelineId, environment.name, LOAD_BALANCER_NODE));
  const endpoint = {
    host: publishAddress(environment.docker),
    port: await publishedPort(container, RUNTIME_API_PORT),
    credentials: runtimeApiClientCredentials(deps.secret, pipelineId, environment.name),
  };
  if (revived) await untilAnswering(endpoint);
  return endpoint;
}

/** How long a HAProxy started again may take before its runtime API answers. */
const REVIVE_TIMEOUT_MS = 15_000;

/**
 * A HAProxy just started again accepts on its listener before its runtime API answers (the TLS listener's backend,
 * the unix socket, is not bound yet, and such a connection closes with no reply): a command sent then would read an
 * empty answer as "no servers". Waits until `show info` answers.
 */
async function untilAnswering(endpoint: RuntimeEndpoint): Promise<void> {
  const deadline = Date.now() + REVIVE_TIMEOUT_MS;
  for (;;) {
    const reply = await haproxyCommand(endpoint, 'show info', 2000).catch(() => '');
    if (/^Name: HAProxy/m.test(reply)) return;
    if (Date.now() > deadline) {
      throw ApplicationFailure.create({ type: ActivityFailure.InvalidTopology, message: `the load balancer was started again, but its runtime API at ${endpoint.host}:${endpoint.port} did not answer within ${REVIVE_TIMEOUT_MS / 1000} s` });
    }
    await sleep(200);
  }
}

/**
 * After a restart of the Docker Engine, Docker may have started the HAProxy container before its holder, failed, and
 * left it stopped (it does not order containers that share a namespace): the newest one is started again, in the
 * holder's namespace as it is now (load-balancer-container.ts makes them).
 */
async function reviveHaproxy(engine: Docker, pipelineId: string, environment: EnvironmentConfig): Promise<boolean> {
  const list = await engine.listContainers({
    all: true,
    filters: { label: [labelFilter(LABEL.pipeline, pipelineId), labelFilter(LABEL.environment, environment.name), labelFilter(LABEL.node, LOAD_BALANCER_PROCESS)] },
  });
  if (list.length === 0 || list.some((c) => c.State === 'running')) return false;
  const newest = list.reduce((a, b) => (b.Created > a.Created ? b : a));
  return engine.getContainer(newest.Id).start().then(() => true, () => false);
}

export function createLoadBalancerActivities(deps: { docker: DockerProvider; secret: string }) {
  const runtimeEndpoint = (pipelineId: string, environment: EnvironmentConfig) => runtimeEndpointOf(deps, pipelineId, environment);

  async function readServers(input: { pipelineId: string; environment: EnvironmentConfig }): Promise<ServerStat[]> {
    const api = await runtimeEndpoint(input.pipelineId, input.environment);
    const reply = await haproxyCommand(api, 'show stat');
    // No header: the connection closed unanswered (a HAProxy starting or stopping), which is not "no servers".
    if (!/^# pxname,/m.test(reply)) throw ApplicationFailure.create({ type: ActivityFailure.InvalidTopology, message: `HAProxy's runtime API gave no statistics (${reply.trim().slice(0, 200) || 'an empty answer'})` });
    return parseShowStat(reply).filter((s) => s.backend === HAPROXY_BACKEND);
  }

  async function serverStat(api: RuntimeEndpoint, server: string): Promise<ServerStat> {
    const stat = parseShowStat(await haproxyCommand(api, 'show stat')).find((s) => s.backend === HAPROXY_BACKEND && s.server === server);
    if (!stat) throw ApplicationFailure.nonRetryable(`HAProxy has no server ${HAPROXY_BACKEND}/${server}`, ActivityFailure.InvalidTopology);
    return stat;
  }

  /**
   * `set server dispatchers/<server> state drain|maint|ready`; answers the status HAProxy reports afterwards. With
   * version-sticky sessions, the server's entry in the version map follows: removed before it leaves service (no
   * cookie sends a request to it), set to the version of the pair it now runs before it comes back.
   */
  async function setServerState(input: {
    pipelineId: string; environment: EnvironmentConfig; server: string; state: ServerAdminState;
  }): Promise<{ status: string; version?: string }> {
    const api = await runtimeEndpoint(input.pipelineId, input.environment);
    const version = input.environment.stickyVersions === false ? undefined
      : await setServerVersion(api, input, input.state === 'ready' ? await pairVersion(input) : undefined);
    const reply = (await haproxyCommand(api, `set server ${HAPROXY_BACKEND}/${input.server} state ${input.state}`)).trim();
    if (reply) throw new Error(`HAProxy refused "set server ${input.server} state ${input.state}": ${reply}`);
    return { status: (await serverStat(api, input.server)).status, ...(version ? { version } : {}) };
  }

  /**
   * A pair's version: its publish and dispatcher images (a digest of their IDs, the same on every engine, since an
   * image is moved between engines whole). What the version cookie holds; opaque to visitors.
   */
  async function pairVersion({ pipelineId, environment, server }: { pipelineId: string; environment: EnvironmentConfig; server: string }): Promise<string> {
    const pair = pairNumber(server);
    if (pair === undefined) throw ApplicationFailure.nonRetryable(`${server} is not a pair's server`, ActivityFailure.InvalidTopology);
    const imageOf = async (member: PairMember) => {
      const node = pairMemberName(member, pair);
      const info = await deps.docker(engineOf(environment, node).docker).getContainer(containerName(pipelineId, environment.name, node)).inspect()
        .catch(() => undefined);
      return info?.Image ?? '';
    };
    const images = await Promise.all([imageOf('publish'), imageOf('dispatcher')]);
    return createHash('sha256').update(images.join(' ')).digest('hex').slice(0, 12);
  }

  /**
   * Sets (a version) or removes (none) the server's entry in the version map, then writes the map to the run volume
   * for the next HAProxy to load. A load balancer whose configuration has no version map (made before it existed) is
   * left alone: its next configuration brings it. Answers the version set.
   */
  async function setServerVersion(
    api: RuntimeEndpoint, target: { pipelineId: string; environment: EnvironmentConfig; server: string }, version: string | undefined,
  ): Promise<string | undefined> {
    const del = (await haproxyCommand(api, `del map ${HAPROXY_VERSION_MAP} ${target.server}`)).trim();
    if (/unknown map/i.test(del)) return undefined;
    if (del && !/not found/i.test(del)) throw new Error(`HAProxy refused "del map ${HAPROXY_VERSION_MAP} ${target.server}": ${del}`);
    if (version) {
      const add = (await haproxyCommand(api, `add map ${HAPROXY_VERSION_MAP} ${target.server} ${version}`)).trim();
      if (add) throw new Error(`HAProxy refused "add map ${HAPROXY_VERSION_MAP}": ${add}`);
    }
    await saveVersionMap(target, parseMapEntries(await haproxyCommand(api, `show map ${HAPROXY_VERSION_MAP}`)));
    return version;
  }

  /** The version map as a file in the run volume (through the HAProxy container serving now, which mounts it). */
  async function saveVersionMap({ pipelineId, environment }: { pipelineId: string; environment: EnvironmentConfig }, entries: Array<[string, string]>): Promise<void> {
    const engine = deps.docker(environment.docker);
    const running = await engine.listContainers({
      filters: { label: [labelFilter(LABEL.pipeline, pipelineId), labelFilter(LABEL.environment, environment.name), labelFilter(LABEL.node, LOAD_BALANCER_PROCESS)] },
    });
    if (running.length === 0) return;
    const slash = HAPROXY_VERSION_MAP.lastIndexOf('/');
    const pack = tarStream.pack();
    pack.entry({ name: HAPROXY_VERSION_MAP.slice(slash + 1), mode: 0o644 }, entries.map(([k, v]) => `${k} ${v}\n`).join(''));
    pack.finalize();
    await engine.getContainer(running[0].Id).putArchive(pack as unknown as Readable, { path: HAPROXY_VERSION_MAP.slice(0, slash) });
  }

  /**
   * Waits (bounded) until a drained server has no sessions left. Answers whether it got there; when the bound
   * passes, the caller puts it in maintenance anyway, as Cloud Manager does.
   */
  async function waitForSessionsDrained(input: {
    pipelineId: string; environment: EnvironmentConfig; server: string; timeoutMs: number;
  }): Promise<{ drained: boolean; sessions: number; waitedMs: number }> {
    const api = await runtimeEndpoint(input.pipelineId, input.environment);
    const started = Date.now();
    for (;;) {
      const { sessions } = await serverStat(api, input.server);
      const waitedMs = Date.now() - started;
      if (sessions === 0) return { drained: true, sessions, waitedMs };
      if (waitedMs >= input.timeoutMs) return { drained: false, sessions, waitedMs };
      Context.current().heartbeat({ sessions });
      await sleep(200);
    }
  }

  /** Waits until HAProxy's own health checks report the server UP (back in service). */
  async function waitForServerUp(input: {
    pipelineId: string; environment: EnvironmentConfig; server: string; timeoutMs?: number;
  }): Promise<{ status: string; waitedMs: number }> {
    const api = await runtimeEndpoint(input.pipelineId, input.environment);
    const started = Date.now();
    const timeoutMs = input.timeoutMs ?? 60_000;
    let status = '';
    while (Date.now() - started < timeoutMs) {
      status = (await serverStat(api, input.server)).status;
      if (status === 'UP') return { status, waitedMs: Date.now() - started };
      Context.current().heartbeat({ status });
      await sleep(200);
    }
    throw ApplicationFailure.create({
      type: ActivityFailure.ServerNotUp, nonRetryable: true,
      message: `HAProxy still reports ${input.server} as "${status}" after ${Math.round(timeoutMs / 1000)} s: its dispatcher or publish does not pass /health`,
    });
  }

  /**
   * Maintenance mode: switches the load balancer's request hold on or off (the key `hold` in its maintenance map).
   * While on, a request that finds no usable dispatcher waits at the load balancer (bounded by the environment's
   * holdTimeout) instead of failing. Idempotent: the key is removed before it is added.
   */
  async function setRequestHold(input: { pipelineId: string; environment: EnvironmentConfig; hold: boolean }): Promise<{ holding: boolean; detail: string }> {
    if (input.environment.strategy !== 'maintenance') {
      throw ApplicationFailure.nonRetryable(`environment ${input.environment.name} is not in maintenance mode: its load balancer holds no requests`, NonRetryable.InvalidConfig);
    }
    const api = await runtimeEndpoint(input.pipelineId, input.environment);
    const del = (await haproxyCommand(api, `del map ${HAPROXY_MAINTENANCE_MAP} hold`)).trim();
    if (del && !/not found/i.test(del)) throw new Error(`HAProxy refused "del map": ${del}`);
    if (input.hold) {
      const add = (await haproxyCommand(api, `add map ${HAPROXY_MAINTENANCE_MAP} hold on`)).trim();
      if (add) throw new Error(`HAProxy refused "add map": ${add}`);
    }
    const entries = await haproxyCommand(api, `show map ${HAPROXY_MAINTENANCE_MAP}`);
    const holding = /\bhold on\b/.test(entries);
    if (holding !== input.hold) throw new Error(`HAProxy's maintenance map says hold=${String(holding)} after setting it to ${String(input.hold)}`);
    const usable = (await readServers(input)).filter((s) => s.status === 'UP').length;
    return { holding, detail: `${holding ? 'holding' : 'released'} (${usable} server(s) UP)` };
  }

  return { readServers, setRequestHold, setServerState, waitForSessionsDrained, waitForServerUp };
}
