/**
 * The validate step's checks of the Docker Engines a pipeline uses: each answers, and no placement would move a
 * running node to another engine.
 */
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryable } from '../shared/errors';
import type { EnvironmentConfig } from '../shared/types';
import { containerName, environmentNodeNames } from '../topology/names';
import { DEFAULT_ENGINE, engineOf, enginesInUse } from '../topology/placement';
import { inspectOrUndefined } from './containers';
import type { DockerProvider } from './docker-hosts';

/** An engine as messages name it: ssh://root@10.0.0.6:22, unix:///run/other.sock, or "local engine". */
function describeEngine(env: EnvironmentConfig['docker']): string {
  if (env?.host) return `${env.protocol ?? 'http'}://${env.username ? `${env.username}@` : ''}${env.host}:${env.port ?? ''}`;
  if (env?.socketPath) return `unix://${env.socketPath}`;
  return 'local engine';
}

export function createEngineCheckActivities(deps: { docker: DockerProvider }) {
  /** With `pipelineId`, also refuses a placement that would move a running node (see findMisplacedNodes). */
  async function checkDockerEngines(input: { environments: EnvironmentConfig[]; pipelineId?: string }): Promise<{ engines: string[] }> {
    const engines: string[] = [];
    // The local engine builds; each environment's engines (its own and those its placement uses) run its nodes.
    for (const env of [undefined, ...input.environments.flatMap((e) => enginesInUse(e).map((engine) => engine.docker))]) {
      const where = describeEngine(env);
      try {
        const version = await deps.docker(env).version();
        engines.push(`${where}: Docker ${version.Version} (API ${version.ApiVersion})`);
      } catch (err) {
        throw ApplicationFailure.create({
          type: NonRetryable.DockerUnreachable,
          message: `Docker Engine (${where}) does not answer: ${(err as Error).message}. Start it (npm run provision) or fix the environment's docker settings.`,
          nonRetryable: true,
        });
      }
    }
    if (input.pipelineId) {
      for (const environment of input.environments) {
        const misplaced = await findMisplacedNodes(deps.docker, input.pipelineId, environment);
        if (misplaced.length) throw ApplicationFailure.nonRetryable(misplacedMessage(input.pipelineId, environment, misplaced), NonRetryable.InvalidConfig);
      }
    }
    return { engines: [...new Set(engines)] };
  }

  return { checkDockerEngines };
}

interface MisplacedNode { node: string; runsOn: string; placedOn: string }

/**
 * Nodes whose container exists on another of the environment's engines than placement puts them on. A rollout does
 * not move a running node between engines (its pair would leave the load balancer before its new container exists, and
 * a rollback would have nothing there to restore), so the validate step refuses such a configuration before anything
 * is built or touched (no other execution of the pipeline can run until this one ends). Only environments that name
 * engines are looked at; an engine that does not answer is passed over.
 */
async function findMisplacedNodes(docker: DockerProvider, pipelineId: string, environment: EnvironmentConfig): Promise<MisplacedNode[]> {
  const named = Object.entries(environment.engines ?? {});
  if (named.length === 0) return [];
  const engines = [{ name: DEFAULT_ENGINE, docker: environment.docker }, ...named.map(([name, e]) => ({ name, docker: e.docker }))];
  const misplaced: MisplacedNode[] = [];
  for (const node of environmentNodeNames(environment)) {
    const placedOn = engineOf(environment, node).name;
    for (const engine of engines.filter((e) => e.name !== placedOn)) {
      const found = await inspectOrUndefined(docker(engine.docker).getContainer(containerName(pipelineId, environment.name, node))).catch(() => undefined);
      if (found) misplaced.push({ node, runsOn: engine.name, placedOn });
    }
  }
  return misplaced;
}

function misplacedMessage(pipelineId: string, environment: EnvironmentConfig, misplaced: MisplacedNode[]): string {
  return `In ${environment.name}, placement moves running nodes to another engine: ` +
    misplaced.map((m) => `${m.node} runs on ${m.runsOn}, placed on ${m.placedOn}`).join('; ') + '. ' +
    'A rollout does not move a running node between engines. Remove ' +
    misplaced.map((m) => `${containerName(pipelineId, environment.name, m.node)} (on ${m.runsOn})`).join(', ') +
    ' first (a pair without its containers leaves the load balancer while the others keep serving), or place them back.';
}
