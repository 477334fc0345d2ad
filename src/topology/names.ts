/**
 * The names of what Stagecoach runs, in one place: an environment's nodes, and the containers, volumes, networks and
 * labels it makes for them on Docker.
 *
 * Nodes: `author`, `lb` (the load balancer), and pair N's `publish-N` and `dispatcher-N`. `pair-N` names the pair as a
 * whole: its node in the rollout, its server in HAProxy, its key in `placement`.
 * On Docker: the environment's network is `sc-<pipeline>-<environment>`, and a node's container is that followed by
 * `-<node>`; every object carries the LABEL keys below, so a pipeline's whole topology can be found by label.
 *
 * Pure functions, no imports of Node modules: safe in workflow code as well as in activities.
 */
import type { EnvironmentConfig } from '../shared/types';

export const LABEL = {
  pipeline: 'stagecoach.pipeline',
  environment: 'stagecoach.environment',
  node: 'stagecoach.node',
  execution: 'stagecoach.execution',
  commit: 'stagecoach.commit',
  deployKey: 'stagecoach.deploy-key',
  previousImage: 'stagecoach.previous-image',
  /** The container's filesystem settings (read-only root, mounts): a node whose settings changed is replaced. */
  filesystem: 'stagecoach.filesystem',
  /** On a node's volume: the path it is mounted at. */
  mount: 'stagecoach.mount',
  /**
   * On a load balancer's HAProxy container: the hash of its configuration and image (a changed one is handed over to
   * a new container). On its holder: the hash of what the holder owns (network, published ports).
   */
  configHash: 'stagecoach.config-hash',
  /** On an image made by build hooks: the commands, as JSON. */
  buildHooks: 'stagecoach.hooks.build',
} as const;

/** A Docker API label filter: objects whose `label` is `value`. */
export const labelFilter = (label: string, value: string) => `${label}=${value}`;

export const AUTHOR_NODE = 'author';
export const LOAD_BALANCER_NODE = 'lb';
/**
 * The load balancer is two kinds of containers: its holder (the `lb` node's container, `sleep` only) owns the network
 * namespace, the address on the environment's network and the published ports; HAProxy runs in a container that
 * joins that namespace, one per configuration and image (`lb-haproxy-<hash>`), so a new one can take the listening
 * sockets over from the old one and no request is dropped.
 */
export const LOAD_BALANCER_PROCESS = 'lb-haproxy';
export const loadBalancerProcessNode = (configHash: string) => `${LOAD_BALANCER_PROCESS}-${configHash}`;
/** The volume every HAProxy container of a load balancer mounts: the socket the hand-over goes through. */
export const loadBalancerRunVolume = (pipelineId: string, environment: string) => `${containerName(pipelineId, environment, LOAD_BALANCER_NODE)}-run`;

/** The two nodes of a pair. */
export type PairMember = 'publish' | 'dispatcher';
/** What a node's container runs (and the app's mode in it): the author, or one of a pair's two nodes. */
export type ContainerRole = typeof AUTHOR_NODE | PairMember;

export const pairMemberName = (member: PairMember, pair: number) => `${member}-${pair}`;
export const publishNodeName = (pair: number) => pairMemberName('publish', pair);
export const dispatcherNodeName = (pair: number) => pairMemberName('dispatcher', pair);
/** Pair N as a whole: its rollout node, its HAProxy server, its placement key. */
export const pairName = (pair: number) => `pair-${pair}`;

/** What a pair's name (`pair-N`) or a pair member's (`publish-N`, `dispatcher-N`) says; undefined for other names. */
export function parsePairName(name: string): { kind: PairMember | 'pair'; pair: number } | undefined {
  const m = /^(publish|dispatcher|pair)-(\d+)$/.exec(name);
  return m ? { kind: m[1] as PairMember | 'pair', pair: Number(m[2]) } : undefined;
}

/** N of `pair-N`, `publish-N` or `dispatcher-N`; undefined for any other name. */
export function pairNumber(name: string): number | undefined {
  return parsePairName(name)?.pair;
}

/** Every node an environment may run but its load balancer: its author, then each pair's publish and dispatcher. */
export function environmentNodeNames(environment: Pick<EnvironmentConfig, 'pairs'>): string[] {
  const pairs = Array.from({ length: environment.pairs }, (_, i) => [publishNodeName(i + 1), dispatcherNodeName(i + 1)]);
  return [AUTHOR_NODE, ...pairs.flat()];
}

/** The environment's Docker network (on each engine it uses). */
export const networkName = (pipelineId: string, environment: string) => `sc-${pipelineId}-${environment}`;

/** A node's container. */
export const containerName = (pipelineId: string, environment: string, node: string) => `${networkName(pipelineId, environment)}-${node}`;

/** The named volume of one declared mount of one node: kept across the node's replacements. */
export const volumeName = (pipelineId: string, environment: string, node: string, mount: string) =>
  `${containerName(pipelineId, environment, node)}${mount.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/-+$/, '')}`;

/** The container of one run of the app's functional or UI test image against an environment. */
export const testContainerName = (pipelineId: string, environment: string, kind: 'functional' | 'ui', executionId: string) =>
  containerName(pipelineId, environment, `${kind}-tests-${executionId}`);

/** The images built for an execution: the app's runtime image, the dispatcher's, and the app's test images. */
export type ExecutionImage = 'app' | 'dispatcher' | 'functional' | 'ui';

/**
 * The tag of an image built for an execution, `<imageName>[-dispatcher | -<kind>-tests]:<commit12>-<execution>[-<run8>]`:
 * each execution builds its own, and a retried build finds them. `runId` (the execution workflow's first run id) keeps
 * two executions of the same number apart once numbering starts again (absent in executions started before it).
 */
export function executionImageTag(imageName: string, image: ExecutionImage, commitId: string, executionId: string, runId?: string): string {
  const repository = image === 'app' ? imageName : image === 'dispatcher' ? `${imageName}-dispatcher` : `${imageName}-${image}-tests`;
  return `${repository}:${commitId.slice(0, 12)}-${executionId}${runId ? `-${runId.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}` : ''}`;
}
