/**
 * The node cycle runner: runs the operations of a node's cycle (rollout-plan.ts) against the load balancer, the
 * containers, the health checks and the cache, recording each in the rollout's cycle.
 */
import type { RolloutNodeState } from '../../shared/types';
import { engineOf, publishAddress } from '../../topology/placement';
import { cacheActivities, containerActivities, healthActivities, loadBalancerActivities } from '../activity-profiles';
import { durationMs } from '../execution/message-rules';
import { AUTHOR_CYCLE, PAIR_CYCLE, type CycleStep } from '../rollout-plan';
import type { CyclePass, RolloutContext } from './context';
import { AUTHOR_NODE, dispatcherNodeName, pairMemberName, pairName, pairNumber, publishNodeName, type ContainerRole } from '../../topology/names';

/** The images a node should run after its cycle, by container role (absent: that container stays as it is). */
export interface NodeImages { author?: string; publish?: string; dispatcher?: string }


export class NodeCycleRunner {
  /** The images this rollout deploys. */
  private readonly newImages: NodeImages;
  /** Only when the app declares them, so rollouts recorded before they existed replay as they ran. */
  private readonly filesystem?: { readOnlyRootFilesystem: boolean; mounts: string[] };

  constructor(private readonly ctx: RolloutContext) {
    const { images, app } = ctx.input;
    this.newImages = { author: images.app, publish: images.app, dispatcher: images.dispatcher };
    this.filesystem = app.readOnlyRootFilesystem || app.mounts?.length
      ? { readOnlyRootFilesystem: app.readOnlyRootFilesystem ?? false, mounts: app.mounts ?? [] }
      : undefined;
  }

  /** Runs these steps of a node's cycle toward the new images; with `completesCycle` the node is then done. */
  deploy(n: RolloutNodeState, steps: readonly CycleStep[], { completesCycle }: { completesCycle: boolean }): Promise<void> {
    return this.runSteps(n, steps, { images: this.newImages, pass: 'deploy', completesCycle });
  }

  /** Runs a node's whole cycle back to `images` (what it ran before), then marks it restored. */
  restore(n: RolloutNodeState, images: NodeImages): Promise<void> {
    return this.runSteps(n, n.role === 'author' ? AUTHOR_CYCLE : PAIR_CYCLE, { images, pass: 'restore', completesCycle: true });
  }

  private async runSteps(
    n: RolloutNodeState, steps: readonly CycleStep[], { images, pass, completesCycle }: { images: NodeImages; pass: CyclePass; completesCycle: boolean },
  ) {
    const { record } = this.ctx;
    for (const step of steps) {
      record.setPhase(n, pass === 'restore' && step.phase === 'deploying' ? 'restoring' : step.phase);
      await this.perform(n, step, images, pass);
    }
    if (completesCycle) record.setPhase(n, pass === 'restore' ? 'restored' : 'done');
  }

  /** Runs one operation of a node's cycle. `images` are what the node should run after it. */
  private async perform(n: RolloutNodeState, step: CycleStep, images: NodeImages, pass: CyclePass): Promise<void> {
    const { target, input } = this.ctx;
    const pair = n.role === 'pair' ? pairNumber(n.name)! : 0;
    const server = pairName(pair);
    const replace = async (role: ContainerRole, nodeName: string) => {
      const image = images[role];
      if (!image) return 'unchanged';
      const result = await containerActivities.deployNode({
        ...target, role, node: nodeName, image, appPort: input.app.port, deployKey: this.ctx.effectKey(nodeName, 'replace', pass),
        ...(role !== 'dispatcher' && this.filesystem ? { filesystem: this.filesystem } : {}),
      });
      n.currentImages = { ...n.currentImages, [role]: result.image };
      n.ports = { ...n.ports, [role]: result.hostPort };
      return result.reused ? 'already done' : `now ${result.image.slice(7, 19)}`;
    };
    const health = async (role: ContainerRole) => {
      const port = n.ports?.[role];
      if (!port) return 'unchanged';
      const host = publishAddress(engineOf(target.environment, role === AUTHOR_NODE ? AUTHOR_NODE : pairMemberName(role, pair)).docker);
      const r = await healthActivities.checkHealth({ url: `http://${host}:${port}${input.app.healthPath}`, what: `${role} of ${n.name}` });
      return `healthy after ${r.attempts} attempt(s)`;
    };
    let detail: string | undefined;
    switch (step.op) {
      case 'drain': detail = (await loadBalancerActivities.setServerState({ ...target, server, state: 'drain' })).status; break;
      case 'waitSessions': {
        const r = await loadBalancerActivities.waitForSessionsDrained({ ...target, server, timeoutMs: durationMs(target.environment.drainTimeout) });
        detail = r.drained ? 'no sessions' : `${r.sessions} session(s) left after ${r.waitedMs} ms`;
        break;
      }
      case 'maint': detail = (await loadBalancerActivities.setServerState({ ...target, server, state: 'maint' })).status; break;
      case 'replacePublish': detail = await replace('publish', publishNodeName(pair)); break;
      case 'replaceDispatcher': detail = await replace('dispatcher', dispatcherNodeName(pair)); break;
      case 'replaceAuthor': detail = await replace('author', AUTHOR_NODE); break;
      case 'healthPublish': detail = await health('publish'); break;
      case 'healthDispatcher': detail = await health('dispatcher'); break;
      case 'healthAuthor': detail = await health('author'); break;
      case 'flush': await cacheActivities.flushCache({ ...target, pair }); break;
      case 'warm': {
        const r = await cacheActivities.warmCache({ ...target, pair, pages: input.warmPages });
        detail = r.pages.map((p) => `${p.path}${p.cached ? ' cached' : ' NOT cached'}`).join(', ');
        break;
      }
      case 'ready': detail = (await loadBalancerActivities.setServerState({ ...target, server, state: 'ready' })).status; break;
      case 'waitUp': detail = (await loadBalancerActivities.waitForServerUp({ ...target, server })).status; break;
    }
    this.ctx.record.recordEffect({ node: n.name, op: step.op, restore: pass === 'restore', detail });
  }
}
