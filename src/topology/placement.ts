/**
 * Where each node of an environment runs, and how the nodes on different Docker Engines reach each other.
 *
 * An environment's load balancer runs on its own engine (`environments.<env>.docker`, the local one by default), and
 * so does every node unless `placement` puts it on one of the environment's named `engines`: `author`, `publish-N`,
 * `dispatcher-N`, or `pair-N` for both nodes of a pair (a node's own key wins over its pair's).
 *
 * Docker's names only resolve within one engine, so an environment that spans engines declares a subnet for its
 * network on each engine, and every Stagecoach container there gets a fixed address in it (below). HAProxy reaches a
 * dispatcher on another engine at that address; routing between the engines' subnets is the machines' business
 * (static routes, a VPN or an overlay), as it is for any multi-host container network. Nothing is published for it.
 * The worker reaches each node's published ports at its engine's publish address (127.0.0.1 unless the engine names
 * one, see publishAddress).
 *
 * Pure functions, no imports of Node modules: safe in workflow code as well as in activities.
 */
import type { DockerHostConfig, EnvironmentConfig } from '../shared/types';
import { AUTHOR_NODE, LOAD_BALANCER_NODE, dispatcherNodeName, pairName, parsePairName, publishNodeName } from './names';

/** Where containers publish their ports, and where the worker reaches them, unless an engine says otherwise. */
export const LOCAL_ADDRESS = '127.0.0.1';

/**
 * The host address an engine publishes ports on and the worker reaches them at: 127.0.0.1 by default (the engine is
 * on the worker's machine, or its 127.0.0.1 is tunnelled), or the one address an engine on another machine names.
 */
export function publishAddress(docker: DockerHostConfig | undefined): string {
  return docker?.publishAddress ?? LOCAL_ADDRESS;
}

/** The name of an environment's own engine (the load balancer's) in placement and in messages. */
export const DEFAULT_ENGINE = 'default';

export interface NodeEngine {
  /** DEFAULT_ENGINE or the name of one of the environment's `engines`. */
  name: string;
  docker?: DockerHostConfig;
  /** The environment network's subnet on that engine, when declared. */
  subnet?: string;
}

/** The placement keys that may name a node's engine, the most specific first: `publish-2`, then `pair-2`. */
export function placementKeys(node: string): string[] {
  if (node === AUTHOR_NODE) return [AUTHOR_NODE];
  const parsed = parsePairName(node);
  if (!parsed) return [];
  return parsed.kind === 'pair' ? [node] : [node, pairName(parsed.pair)];
}

/** The engine a node (author, publish-N, dispatcher-N, lb) runs on. */
export function engineOf(environment: EnvironmentConfig, node: string): NodeEngine {
  const name = placementKeys(node).map((key) => environment.placement?.[key]).find((n) => n !== undefined);
  const engine = name ? environment.engines?.[name] : undefined;
  if (name && engine) return { name, docker: engine.docker, subnet: engine.subnet };
  return { name: DEFAULT_ENGINE, docker: environment.docker, subnet: environment.subnet };
}

/** Every engine the environment uses: its own first, then each named engine that placement refers to. */
export function enginesInUse(environment: EnvironmentConfig): NodeEngine[] {
  const used = new Set(Object.values(environment.placement ?? {}));
  return [
    { name: DEFAULT_ENGINE, docker: environment.docker, subnet: environment.subnet },
    ...Object.entries(environment.engines ?? {}).filter(([name]) => used.has(name))
      .map(([name, e]) => ({ name, docker: e.docker, subnet: e.subnet })),
  ];
}

export interface Ipv4Subnet { base: number; prefix: number }

/** Parses `a.b.c.d/p`; answers undefined when it is not a well-formed IPv4 network (host bits zero). */
export function parseSubnet(cidr: string): Ipv4Subnet | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const base = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((base & ~mask) >>> 0 !== 0) return undefined;
  return { base, prefix };
}

export function subnetsOverlap(a: Ipv4Subnet, b: Ipv4Subnet): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((a.base & mask) >>> 0) === ((b.base & mask) >>> 0);
}

const formatAddress = (n: number) => [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');

/**
 * The fixed address of a node in a declared subnet: lb .2, author .3, dispatcher-N .(10+N), publish-N .(100+N) from
 * the subnet's start (.1 is the engine's gateway). Anything else on the network (test containers) gets an address
 * from the top quarter (dynamicRange), so it never takes a node's.
 */
export function fixedAddress(subnet: string, node: string): string | undefined {
  const parsed = parseSubnet(subnet);
  if (!parsed) return undefined;
  const member = parsePairName(node);
  const offset = node === LOAD_BALANCER_NODE ? 2 : node === AUTHOR_NODE ? 3
    : member && member.kind !== 'pair' ? (member.kind === 'dispatcher' ? 10 : 100) + member.pair : undefined;
  return offset === undefined ? undefined : formatAddress(parsed.base + offset);
}

/** The engine's own address on the network (the bridge): the subnet's first, .1. */
export function gatewayAddress(subnet: string): string | undefined {
  const parsed = parseSubnet(subnet);
  return parsed ? formatAddress(parsed.base + 1) : undefined;
}

/** True when `address` (a.b.c.d) lies in `subnet`. */
export function subnetContains(subnet: string, address: string): boolean {
  const parsed = parseSubnet(subnet);
  const host = parseSubnet(`${address}/32`);
  return !!parsed && !!host && subnetsOverlap(parsed, { base: host.base, prefix: 32 });
}

/** The range Docker allocates other containers' addresses from in a declared subnet: its top quarter. */
export function dynamicRange(subnet: string): string | undefined {
  const parsed = parseSubnet(subnet);
  if (!parsed) return undefined;
  const size = 2 ** (32 - parsed.prefix);
  return `${formatAddress(parsed.base + size - size / 4)}/${parsed.prefix + 2}`;
}

/** Where HAProxy reaches pair N's dispatcher: its name on the load balancer's engine, its fixed address elsewhere. */
export function dispatcherAddress(environment: EnvironmentConfig, pair: number): string {
  const dispatcher = dispatcherNodeName(pair);
  const engine = engineOf(environment, dispatcher);
  if (engine.name === DEFAULT_ENGINE || !engine.subnet) return dispatcher;
  return fixedAddress(engine.subnet, dispatcher)!;
}

/** Where pair N's dispatcher reaches its publish: its name on the same engine, its fixed address on another. */
export function publishNodeAddress(environment: EnvironmentConfig, pair: number): string {
  const node = publishNodeName(pair);
  const publish = engineOf(environment, node);
  if (publish.name === engineOf(environment, dispatcherNodeName(pair)).name || !publish.subnet) return node;
  return fixedAddress(publish.subnet, node)!;
}

/** Where a node runs, for the rollout's state: a pair split across engines names both; its environment's own, nothing. */
export function placementLabel(environment: EnvironmentConfig, node: string): string | undefined {
  const parsed = parsePairName(node);
  if (parsed?.kind === 'pair') {
    const [publish, dispatcher] = [engineOf(environment, publishNodeName(parsed.pair)).name, engineOf(environment, dispatcherNodeName(parsed.pair)).name];
    if (publish !== dispatcher) return `publish on ${publish}, dispatcher on ${dispatcher}`;
    return publish === DEFAULT_ENGINE ? undefined : publish;
  }
  const { name } = engineOf(environment, node);
  return name === DEFAULT_ENGINE ? undefined : name;
}

/** The load balancer's address as a node on `engine` sees it: its name on its own engine, its fixed address elsewhere. */
export function loadBalancerAddress(environment: EnvironmentConfig, engine: NodeEngine): string {
  if (engine.name === DEFAULT_ENGINE || !environment.subnet) return LOAD_BALANCER_NODE;
  return fixedAddress(environment.subnet, LOAD_BALANCER_NODE)!;
}
