/**
 * An environment's topology on Docker: its network, its HAProxy load balancer (built from examples/loadbalancer; its
 * containers and their changes in load-balancer-container.ts), and what each node runs now. Nodes themselves are created and replaced by the rollout (containers.ts).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import tarFs from 'tar-fs';
import { EXAMPLES_DIR } from '../config/paths';
import { msToNumber } from '@temporalio/common/lib/time';
import { renderHaproxyConfig } from '../topology/haproxy-config';
import {
  AUTHOR_NODE, LABEL, LOAD_BALANCER_NODE, containerName, environmentNodeNames, labelFilter, networkName, pairName, pairNumber, type ContainerRole,
} from '../topology/names';
import { dispatcherAddress, engineOf, enginesInUse, loadBalancerAddress, publishAddress, publishNodeAddress } from '../topology/placement';
import type { EnvironmentConfig } from '../shared/types';
import { purgeToken, DISPATCHER_PORT } from './cache';
import {
  createContainerActivities, ensureNetwork, execInContainer, inspectOrUndefined, publishedPort,
  type HookResult, type ReplaceContainerInput, type ReplaceContainerResult,
} from './containers';
import { ensureImageOn, type DockerProvider } from './docker-hosts';
import { RUNTIME_API_PORT } from './load-balancer';
import { LB_PORT, createLoadBalancerContainers, type LoadBalancerChange } from './load-balancer-container';
import { runtimeApiServerEnv } from './runtime-api-credentials';
import { ActivityFailure, NonRetryable } from '../shared/errors';

export const LOAD_BALANCER_DIR = path.join(EXAMPLES_DIR, 'loadbalancer');

export interface EnvironmentDescription {
  url: string;
  authorUrl?: string;
  /** Image ID each node runs now (absent: the node does not exist yet). */
  nodes: Record<string, string | undefined>;
}

async function directoryHash(dir: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await fs.readdir(dir)).sort()) {
    hash.update(name).update(await fs.readFile(path.join(dir, name)));
  }
  return hash.digest('hex').slice(0, 12);
}

/** The environment's haproxy.cfg: one server per pair; in maintenance mode, the request hold. */
export function environmentHaproxyConfig(environment: EnvironmentConfig): string {
  return renderHaproxyConfig({
    // A dispatcher on the load balancer's engine by name; one placed on another engine at its fixed address.
    servers: Array.from({ length: environment.pairs }, (_, i) => ({ name: pairName(i + 1), host: dispatcherAddress(environment, i + 1), port: 80 })),
    frontendPort: LB_PORT,
    runtimeApiPort: RUNTIME_API_PORT,
    ...(environment.strategy === 'maintenance'
      ? { maintenanceHold: { maxMs: msToNumber((environment.holdTimeout ?? '60s') as never) } }
      : {}),
    // On unless the environment says otherwise (absent in older executions).
    stickyVersions: environment.stickyVersions !== false,
  });
}

export function createTopologyActivities(deps: { docker: DockerProvider; secret: string }) {
  const containers = createContainerActivities({ docker: deps.docker });
  const loadBalancer = createLoadBalancerContainers({ docker: deps.docker, secret: deps.secret });

  /**
   * Replaces one node's container with a new image, configured for its role. Idempotent by deploy key (execution,
   * node, effect): a retry or a resumed rollout never replaces a node twice.
   */
  async function deployNode(input: {
    pipelineId: string; environment: EnvironmentConfig; role: ContainerRole; node: string; image: string; appPort: number; deployKey: string;
    /** Publish and author: a read-only root filesystem and the app's writable mounts. */
    filesystem?: ReplaceContainerInput['filesystem'];
  }): Promise<ReplaceContainerResult> {
    const { environment } = input;
    const base = { pipelineId: input.pipelineId, environment, node: input.node, image: input.image, deployKey: input.deployKey };
    if (input.role === 'dispatcher') {
      return containers.replaceContainer({
        ...base,
        containerPort: DISPATCHER_PORT,
        env: {
          STAGECOACH_NODE: input.node,
          // Its publish by name on the same engine, at its fixed address on another.
          PUBLISH_HOST: publishNodeAddress(environment, pairNumber(input.node)!),
          PUBLISH_PORT: String(input.appPort),
          PURGE_TOKEN: purgeToken(deps.secret, input.pipelineId, environment.name),
        },
      });
    }
    return containers.replaceContainer({
      ...base,
      containerPort: input.appPort,
      hostPort: input.role === 'author' ? environment.authorPort : 0,
      ...(input.filesystem ? { filesystem: input.filesystem } : {}),
      // STAGECOACH_NODE tells the app which node it is (logs, and tests that break one node on purpose).
      env: { APP_MODE: input.role, PORT: String(input.appPort), STAGECOACH_NODE: input.node },
    });
  }

  async function ensureLoadBalancerImage(environment: EnvironmentConfig): Promise<string> {
    const docker = deps.docker(environment.docker);
    const tag = `stagecoach/loadbalancer:${await directoryHash(LOAD_BALANCER_DIR)}`;
    const found = await docker.getImage(tag).inspect().catch(() => undefined);
    if (found) return found.Id;
    const stream = (await docker.buildImage(tarFs.pack(LOAD_BALANCER_DIR) as unknown as Readable, { t: tag, rm: true })) as Readable;
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()),
        (e: { error?: string }) => { if (e.error) reject(new Error(`load balancer image build failed: ${e.error}`)); }));
    return (await docker.getImage(tag).inspect()).Id;
  }

  /**
   * Brings the environment's load balancer to its configuration: one HAProxy server per configured pair, on the load
   * balancer image of this build of Stagecoach. A change is handed over to a new HAProxy with no request dropped
   * (load-balancer-container.ts); servers of pairs beyond `pairs` are drained first and their containers removed
   * after. Idempotent: a retry finishes a change a lost worker left half done. A new pair's server waits in
   * maintenance (its name does not resolve) until its dispatcher exists; its pair cycle brings it into service.
   */
  async function applyLoadBalancer(input: { pipelineId: string; environment: EnvironmentConfig }): Promise<LoadBalancerChange> {
    const config = environmentHaproxyConfig(input.environment);
    const image = await ensureLoadBalancerImage(input.environment);
    // The runtime API's TLS credentials (derived from the secret): a worker with another secret hands over to a new HAProxy.
    const runtimeApiEnv = runtimeApiServerEnv(deps.secret, input.pipelineId, input.environment.name);
    const configHash = createHash('sha256').update(config).update(image).update(runtimeApiEnv.join('\n')).digest('hex').slice(0, 16);
    return loadBalancer.apply(input, { image, config, configHash, env: runtimeApiEnv });
  }

  /** Makes sure the environment's network (on every engine it uses) and its load balancer exist, as configured. */
  async function prepareEnvironment(input: { pipelineId: string; environment: EnvironmentConfig }): Promise<EnvironmentDescription> {
    const { pipelineId, environment } = input;
    const labels = { [LABEL.pipeline]: pipelineId, [LABEL.environment]: environment.name };
    // The environment's network on every engine it uses, each with its declared subnet (a topology spanning machines).
    for (const engine of enginesInUse(environment)) {
      await ensureNetwork(deps.docker(engine.docker), networkName(pipelineId, environment.name), labels, engine.subnet);
    }
    await applyLoadBalancer(input);
    return describeEnvironment(input);
  }

  async function describeEnvironment(input: { pipelineId: string; environment: EnvironmentConfig }): Promise<EnvironmentDescription> {
    const { pipelineId, environment } = input;
    const docker = deps.docker(environment.docker);
    const nodes: Record<string, string | undefined> = {};
    let authorUrl: string | undefined;
    for (const node of environmentNodeNames(environment)) {
      const engine = engineOf(environment, node).docker;
      const container = deps.docker(engine).getContainer(containerName(pipelineId, environment.name, node));
      const info = await inspectOrUndefined(container);
      nodes[node] = info?.State.Running ? info.Image : undefined;
      if (node === AUTHOR_NODE && info?.State.Running) authorUrl = `http://${publishAddress(engine)}:${await publishedPort(container, 8080).catch(() => 0)}/`;
    }
    const lbPort = await publishedPort(docker.getContainer(containerName(pipelineId, environment.name, LOAD_BALANCER_NODE)), LB_PORT);
    return { url: `http://${publishAddress(environment.docker)}:${lbPort}/`, authorUrl, nodes };
  }

  /**
   * Checks the configuration a rollout would ship before any node is touched: the dispatcher image's VCL
   * (varnishd -C, the image's `validate` mode) and the load balancer's haproxy.cfg (haproxy -c). An invalid one fails
   * with the validator's own message, and the environment keeps running what it runs.
   */
  async function validateEnvironmentConfig(input: { pipelineId: string; environment: EnvironmentConfig; dispatcherImage: string }): Promise<{ checked: string[] }> {
    const docker = deps.docker(input.environment.docker);
    await ensureImageOn(docker, deps.docker(), input.dispatcherImage);
    const dispatcher = await runToCompletion(docker, { Image: input.dispatcherImage, Cmd: ['validate'], Env: [] });
    if (dispatcher.exitCode !== 0) {
      throw ApplicationFailure.nonRetryable(
        `The dispatcher configuration in this build is invalid (varnishd -C); no node was touched:\n${dispatcher.output.trim()}`, NonRetryable.InvalidConfig);
    }
    const config = environmentHaproxyConfig(input.environment);
    const lb = await runToCompletion(docker, {
      Image: await ensureLoadBalancerImage(input.environment), Cmd: ['validate'],
      // haproxy -c loads the runtime API's certificate files too.
      Env: [`HAPROXY_CFG=${config}`, ...runtimeApiServerEnv(deps.secret, input.pipelineId, input.environment.name)],
    });
    if (lb.exitCode !== 0) {
      throw ApplicationFailure.nonRetryable(`The load balancer configuration is invalid (haproxy -c); no node was touched:\n${lb.output.trim()}`, NonRetryable.InvalidConfig);
    }
    return { checked: ['dispatcher VCL (varnishd -C)', 'load balancer (haproxy -c)'] };
  }

  /**
   * Runs one of the app's deploy or post-deploy hook commands in a node's running container (`sh -c`, as the app's
   * user, under its read-only root and mounts), with the site's address on the environment's network. Answers its exit
   * code and the tail of its output; the workflow decides what a failure means. `hookKey` (execution, phase, index)
   * makes it run once: a retried attempt takes the result of the run an earlier attempt started (containers.ts,
   * execInContainer). It is in the hook's environment as STAGECOACH_HOOK_KEY too.
   */
  async function runHook(input: {
    pipelineId: string; environment: EnvironmentConfig; node: string; phase: 'deploy' | 'postDeploy'; index: number; command: string; hookKey: string;
  }): Promise<HookResult> {
    const engine = engineOf(input.environment, input.node);
    const docker = deps.docker(engine.docker);
    const container = docker.getContainer(containerName(input.pipelineId, input.environment.name, input.node));
    const info = await inspectOrUndefined(container);
    if (!info?.State.Running) {
      throw ApplicationFailure.nonRetryable(`the ${input.phase} hook runs in ${input.node}, which is not running`, ActivityFailure.InvalidTopology);
    }
    // Keyed: a retried attempt (a worker lost mid-hook) waits for the run already under way instead of a second one.
    return execInContainer(docker, container, input.command, {
      STAGECOACH_HOOK_PHASE: input.phase, STAGECOACH_HOOK_KEY: input.hookKey, STAGECOACH_ENVIRONMENT: input.environment.name,
      SITE_URL: `http://${loadBalancerAddress(input.environment, engine)}:${LB_PORT}/`,
    }, { key: input.hookKey });
  }

  return { prepareEnvironment, applyLoadBalancer, describeEnvironment, deployNode, validateEnvironmentConfig, runHook };
}

/** Runs a throwaway container to its end; answers its exit code and its output (a TTY, so the output is plain text). */
async function runToCompletion(docker: import('dockerode'), spec: { Image: string; Cmd: string[]; Env: string[] }): Promise<{ exitCode: number; output: string }> {
  const container = await docker.createContainer({ ...spec, Tty: true, HostConfig: { NetworkMode: 'none' } });
  try {
    await container.start();
    const { StatusCode } = await container.wait();
    const logs = await container.logs({ stdout: true, stderr: true, follow: false });
    return { exitCode: StatusCode, output: logs.toString('utf8') };
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Removes every container and network of a pipeline (tests and `stagecoach` clean-up; never used by workflows). */
export async function removePipelineTopology(docker: import('dockerode'), pipelineId: string): Promise<number> {
  const containers = await docker.listContainers({ all: true, filters: { label: [labelFilter(LABEL.pipeline, pipelineId)] } });
  await Promise.all(containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
  const networks = await docker.listNetworks({ filters: { label: [labelFilter(LABEL.pipeline, pipelineId)] } });
  await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove().catch(() => undefined)));
  // The nodes' mount volumes (the app's data): only when the whole topology goes.
  const { Volumes: volumes } = await docker.listVolumes({ filters: { label: [labelFilter(LABEL.pipeline, pipelineId)] } });
  await Promise.all((volumes ?? []).map((v) => docker.getVolume(v.Name).remove().catch(() => undefined)));
  return containers.length;
}
