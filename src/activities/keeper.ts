/**
 * The environment keeper's activities: a read-only inspection of every node of an environment (its container, its
 * health check, its server in the load balancer), retiring a pair's or the author's containers so a heal recreates
 * them from the release, and a deployment's messages to its keeper (through the worker's own Temporal client).
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { TASK_QUEUE, WORKFLOW_TYPES, keeperWorkflowId } from '../shared/ids';
import type { DeploymentEnded, KeeperPauseResult } from '../shared/keeper';
import { keeperDeploymentEndedSignal, keeperPauseUpdate } from '../shared/messages';
import type { EnvironmentConfig, EnvironmentType } from '../shared/types';
import { AUTHOR_NODE, containerName, environmentNodeNames, pairName, parsePairName } from '../topology/names';
import { engineOf, publishAddress } from '../topology/placement';
import { DISPATCHER_PORT } from './cache';
import { inspectOrUndefined, publishedPort } from './containers';
import type { DockerProvider } from './docker-hosts';
import { httpGet } from './health';
import { createLoadBalancerActivities } from './load-balancer';
import { createTopologyActivities } from './topology';

/** One container as a check saw it; `health` only for a running one. */
export interface ContainerCheck {
  node: string;
  present: boolean;
  running: boolean;
  image?: string;
  health?: { ok: boolean; detail: string };
}

export interface EnvironmentInspection {
  containers: ContainerCheck[];
  /** HAProxy's servers (`pair-N`) and their status; absent when its runtime API did not answer (`loadBalancerError`). */
  servers?: Array<{ server: string; status: string }>;
  loadBalancerError?: string;
}

/** A check's one health probe: a single request, not the rollout's patient loop (the next check asks again). */
const PROBE_TIMEOUT_MS = 3000;

export function createKeeperActivities(deps: { docker: DockerProvider; secret: string }) {
  const loadBalancer = createLoadBalancerActivities(deps);

  async function checkContainer(input: { pipelineId: string; environment: EnvironmentConfig; appPort: number; healthPath: string }, node: string): Promise<ContainerCheck> {
    const engine = engineOf(input.environment, node).docker;
    const container = deps.docker(engine).getContainer(containerName(input.pipelineId, input.environment.name, node));
    const info = await inspectOrUndefined(container);
    if (!info) return { node, present: false, running: false };
    if (!info.State.Running) return { node, present: true, running: false, image: info.Image };
    const port = await publishedPort(container, parsePairName(node)?.kind === 'dispatcher' ? DISPATCHER_PORT : input.appPort).catch(() => 0);
    const probe = port ? await httpGet(`http://${publishAddress(engine)}:${port}${input.healthPath}`, PROBE_TIMEOUT_MS) : undefined;
    const health = !probe ? { ok: false, detail: 'no published port' }
      : { ok: probe.ok, detail: probe.ok ? `HTTP ${probe.status}` : probe.status ? `HTTP ${probe.status}` : probe.error ?? 'no answer' };
    return { node, present: true, running: true, image: info.Image, health };
  }

  /** Reads only: never changes a container or the load balancer. */
  async function inspectEnvironmentNodes(input: {
    pipelineId: string; environment: EnvironmentConfig; appPort: number; healthPath: string; withAuthor: boolean;
  }): Promise<EnvironmentInspection> {
    const nodes = environmentNodeNames(input.environment).filter((n) => input.withAuthor || n !== AUTHOR_NODE);
    const containers = await Promise.all(nodes.map((node) => checkContainer(input, node)));
    try {
      const servers = await loadBalancer.readServers(input);
      return { containers, servers: servers.map(({ server, status }) => ({ server, status })) };
    } catch (err) {
      return { containers, loadBalancerError: (err as Error).message };
    }
  }

  /** Removes these nodes' containers (the heal has detached them): the cycle then creates them anew. */
  async function retireNodeContainers(input: { pipelineId: string; environment: EnvironmentConfig; nodes: string[] }): Promise<{ removed: string[] }> {
    const removed: string[] = [];
    for (const node of input.nodes) {
      const container = deps.docker(engineOf(input.environment, node).docker).getContainer(containerName(input.pipelineId, input.environment.name, node));
      const gone = await container.remove({ force: true }).then(() => false, (err: { statusCode?: number }) => {
        if (err.statusCode !== 404) throw err;
        return true;
      });
      if (!gone) removed.push(node);
    }
    return { removed };
  }

  return { inspectEnvironmentNodes, retireNodeContainers, ...runtimeServerChanges(deps), ...createKeeperMessaging() };
}

/**
 * What scaling needs of the load balancer: pair N's server added out of traffic (in maintenance until the node cycle
 * attaches it), and the highest pair's removed (drained first, its containers after), neither dropping a request.
 * Both are the load balancer's own hand-over to a HAProxy with that many servers (applyLoadBalancer), idempotent, so
 * a retry after a lost worker finishes the change instead of doing it twice.
 */
function runtimeServerChanges(deps: { docker: DockerProvider; secret: string }) {
  const topology = createTopologyActivities(deps);
  const loadBalancer = createLoadBalancerActivities(deps);
  async function addPair(input: { pipelineId: string; environment: EnvironmentConfig; pair: number }): Promise<{ server: string; status: string }> {
    const environment = { ...input.environment, pairs: Math.max(input.environment.pairs, input.pair) };
    await topology.applyLoadBalancer({ pipelineId: input.pipelineId, environment });
    const server = pairName(input.pair);
    const stat = (await loadBalancer.readServers({ pipelineId: input.pipelineId, environment })).find((s) => s.server === server);
    return { server, status: stat?.status ?? 'absent' };
  }
  async function removePair(input: { pipelineId: string; environment: EnvironmentConfig; pair: number }): Promise<{ removed: boolean }> {
    const environment = { ...input.environment, pairs: Math.min(input.environment.pairs, input.pair - 1) };
    const change = await topology.applyLoadBalancer({ pipelineId: input.pipelineId, environment });
    return { removed: change.removedServers.includes(pairName(input.pair)) || change.removedContainers.length > 0 };
  }
  return { addPair, removePair };
}

/**
 * A deployment's messages to its environment's keeper, over the worker's client (a workflow cannot send an update,
 * nor start a workflow that outlives it). Needs no Docker: the workflow tests run these very functions.
 */
export function createKeeperMessaging() {
  const handle = (pipelineId: string, environmentType: EnvironmentType) =>
    Context.current().client.workflow.getHandle(keeperWorkflowId(pipelineId, environmentType));

  /** Answers once the keeper has paused, after the heal it was running, if any; no keeper running: nothing to pause. */
  async function pauseKeeper(input: { pipelineId: string; environmentType: EnvironmentType; executionId: string }): Promise<KeeperPauseResult | { paused: false; detail: string }> {
    try {
      return await handle(input.pipelineId, input.environmentType).executeUpdate(keeperPauseUpdate, { args: [{ executionId: input.executionId }] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { paused: false, detail: 'no keeper runs for this environment' };
      throw err;
    }
  }

  /**
   * Tells the keeper the deployment ended; a finished one starts the keeper if none runs yet (its first release).
   * One that did not finish only resumes a running keeper on the release it had.
   */
  async function notifyKeeperDeploymentEnded(input: { pipelineId: string; environmentType: EnvironmentType; ended: DeploymentEnded }): Promise<{ delivered: boolean }> {
    const { pipelineId, environmentType, ended } = input;
    const workflowId = keeperWorkflowId(pipelineId, environmentType);
    if (ended.release) {
      await Context.current().client.workflow.signalWithStart(WORKFLOW_TYPES.environmentKeeper, {
        workflowId, taskQueue: TASK_QUEUE, args: [{ pipelineId, environmentType }],
        signal: keeperDeploymentEndedSignal, signalArgs: [ended],
        staticSummary: `Environment keeper of ${pipelineId} ${environmentType}`,
      });
      return { delivered: true };
    }
    try {
      await handle(pipelineId, environmentType).signal(keeperDeploymentEndedSignal, ended);
      return { delivered: true };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { delivered: false };
      throw err;
    }
  }

  return { pauseKeeper, notifyKeeperDeploymentEnded };
}
