/**
 * rollingDeployment: one environment's rollout, a child of the execution. Runs the plan of rollout-plan.ts (rolling,
 * or maintenance mode) with the app's deploy and post-deploy hooks, and reports every phase change to its parent. A rollout that does not finish, because a node fails or the
 * execution is cancelled, restores every node it touched to its previous images with the same detach/attach cycle,
 * so the environment ends on one version with every node attached.
 */
import {
  CancellationScope, ContinueAsNew, continueAsNew, getExternalWorkflowHandle, isCancellation, patched, setHandler, workflowInfo,
} from '@temporalio/workflow';
import { nodeEffectKey } from '../shared/ids';
import { rolloutProgressSignal, rolloutStateQuery } from '../shared/messages';
import type { EnvironmentConfig, HookRun, RolloutNodeState, RolloutResult } from '../shared/types';
import { engineOf, placementLabel, publishAddress } from '../topology/placement';
import { cacheActivities, containerActivities, healthActivities, loadBalancerActivities } from './activity-profiles';
import { durationMs } from './execution/message-rules';
import { DEFAULT_ROLLOUT_HISTORY_LIMIT } from '../shared/config-defaults';
import { rootCause } from '../shared/errors';
import { AUTHOR_CYCLE, MAINTENANCE_PLAN, PAIR_CYCLE, ROLLING_PLAN, windowsOf, type CycleStep } from './rollout-plan';

export interface RolloutInput {
  pipelineId: string;
  executionId: string;
  environment: EnvironmentConfig;
  /** Image IDs to deploy; without `app` (web tier) only the dispatchers change. */
  images: { app?: string; dispatcher: string };
  app: {
    port: number;
    healthPath: string;
    /** The app's deploy and post-deploy hooks (absent in older executions: none). */
    hooks?: { deploy: string[]; postDeploy: string[] };
    /** Writable paths under a read-only root filesystem (publish and author). */
    mounts?: string[];
    readOnlyRootFilesystem?: boolean;
  };
  warmPages: string[];
  /** Where a rollout that continued as new picks up (absent on its first run). */
  resume?: RolloutResume;
}

/** What one run of a rollout hands the next when it continues as new, at a window boundary. */
export interface RolloutResume {
  state: RolloutResult;
  /** Names of the nodes already (or possibly) replaced: what a rollback restores, whichever run fails. */
  touched: string[];
  /** The plan stage and the window group within it to run next. */
  stage: number;
  group: number;
}


export async function rollingDeployment(input: RolloutInput): Promise<RolloutResult> {
  const { environment } = input;
  const parent = workflowInfo().parent;
  const pairs = Array.from({ length: environment.pairs }, (_, i) => i + 1);
  const resume = input.resume;
  const state: RolloutResult = resume?.state ?? {
    environment: environment.name,
    environmentType: environment.type,
    status: 'RUNNING',
    window: environment.window,
    nodes: [
      ...(input.images.app ? [{ name: 'author', role: 'author' as const, phase: 'pending' as const, ...placedOn(environment, 'author') }] : []),
      ...pairs.map((p) => ({ name: `pair-${p}`, role: 'pair' as const, phase: 'pending' as const, ...placedOn(environment, `pair-${p}`) })),
    ],
    cycle: [],
  };
  setHandler(rolloutStateQuery, () => state);

  /**
   * Reports progress to the execution. Fire and forget while rolling (progress must never slow the rollout down);
   * awaited during a rollback, so the execution has heard ROLLING_BACK and the final status before this ends.
   */
  const report = (delivered = false): Promise<void> => {
    if (!parent) return Promise.resolve();
    const { cycle: _cycle, ...rollout } = state;
    const sent = getExternalWorkflowHandle(parent.workflowId, parent.runId)
      .signal(rolloutProgressSignal, { environmentType: environment.type, rollout })
      .catch(() => undefined);
    return delivered ? sent : Promise.resolve();
  };
  const node = (name: string) => state.nodes.find((n) => n.name === name)!;
  const setPhase = (n: RolloutNodeState, phase: RolloutNodeState['phase']) => {
    if (n.phase === phase) return;
    n.phase = phase;
    n.updatedAt = new Date().toISOString();
    state.currentNode = n.name;
    void report();
  };

  const common = { pipelineId: input.pipelineId, environment };
  // Only when the app declares them, so rollouts recorded before they existed replay as they ran.
  const filesystem = input.app.readOnlyRootFilesystem || input.app.mounts?.length
    ? { readOnlyRootFilesystem: input.app.readOnlyRootFilesystem ?? false, mounts: input.app.mounts ?? [] }
    : undefined;
  const maintenance = environment.strategy === 'maintenance';
  let holding = false;
  const key = (nodeName: string, effect: string, restore: boolean) =>
    nodeEffectKey({ pipelineId: input.pipelineId, executionId: input.executionId, environmentType: environment.type, node: nodeName, effect: restore ? `${effect}-restore` : effect });

  /** Runs one operation of a node's cycle. `images` are what the node should run after it. */
  async function perform(n: RolloutNodeState, step: CycleStep, images: Record<string, string | undefined>, restore: boolean) {
    const pair = n.role === 'pair' ? Number(n.name.slice('pair-'.length)) : 0;
    const server = `pair-${pair}`;
    const replace = async (role: 'publish' | 'dispatcher' | 'author', nodeName: string) => {
      const image = images[role];
      if (!image) return 'unchanged';
      const result = await containerActivities.deployNode({
        ...common, role, node: nodeName, image, appPort: input.app.port, deployKey: key(nodeName, 'replace', restore),
        ...(role !== 'dispatcher' && filesystem ? { filesystem } : {}),
      });
      n.currentImages = { ...n.currentImages, [role]: result.image };
      n.ports = { ...n.ports, [role]: result.hostPort };
      return result.reused ? 'already done' : `now ${result.image.slice(7, 19)}`;
    };
    const health = async (role: 'publish' | 'dispatcher' | 'author') => {
      const port = n.ports?.[role];
      if (!port) return 'unchanged';
      const host = publishAddress(engineOf(environment, role === 'author' ? 'author' : `${role}-${pair}`).docker);
      const r = await healthActivities.checkHealth({ url: `http://${host}:${port}${input.app.healthPath}`, what: `${role} of ${n.name}` });
      return `healthy after ${r.attempts} attempt(s)`;
    };
    let detail: string | undefined;
    switch (step.op) {
      case 'drain': detail = (await loadBalancerActivities.setServerState({ ...common, server, state: 'drain' })).status; break;
      case 'waitSessions': {
        const r = await loadBalancerActivities.waitForSessionsDrained({ ...common, server, timeoutMs: durationMs(environment.drainTimeout) });
        detail = r.drained ? 'no sessions' : `${r.sessions} session(s) left after ${r.waitedMs} ms`;
        break;
      }
      case 'maint': detail = (await loadBalancerActivities.setServerState({ ...common, server, state: 'maint' })).status; break;
      case 'replacePublish': detail = await replace('publish', `publish-${pair}`); break;
      case 'replaceDispatcher': detail = await replace('dispatcher', `dispatcher-${pair}`); break;
      case 'replaceAuthor': detail = await replace('author', 'author'); break;
      case 'healthPublish': detail = await health('publish'); break;
      case 'healthDispatcher': detail = await health('dispatcher'); break;
      case 'healthAuthor': detail = await health('author'); break;
      case 'flush': await cacheActivities.flushCache({ ...common, pair }); break;
      case 'warm': {
        const r = await cacheActivities.warmCache({ ...common, pair, pages: input.warmPages });
        detail = r.pages.map((p) => `${p.path}${p.cached ? ' cached' : ' NOT cached'}`).join(', ');
        break;
      }
      case 'ready': detail = (await loadBalancerActivities.setServerState({ ...common, server, state: 'ready' })).status; break;
      case 'waitUp': detail = (await loadBalancerActivities.waitForServerUp({ ...common, server })).status; break;
    }
    state.cycle.push({ at: new Date().toISOString(), node: n.name, op: step.op, restore, detail });
  }

  /** Runs some steps of a node's cycle (its whole cycle when `last`, which then marks the node done or restored). */
  async function runSteps(n: RolloutNodeState, steps: readonly CycleStep[], images: Record<string, string | undefined>, restore: boolean, last: boolean) {
    for (const step of steps) {
      setPhase(n, restore && step.phase === 'deploying' ? 'restoring' : step.phase);
      await perform(n, step, images, restore);
    }
    if (last) setPhase(n, restore ? 'restored' : 'done');
  }
  const runCycle = (n: RolloutNodeState, images: Record<string, string | undefined>, restore: boolean) =>
    runSteps(n, n.role === 'author' ? AUTHOR_CYCLE : PAIR_CYCLE, images, restore, true);

  /**
   * Runs one hook phase's commands in order in the new author container; each run is recorded in the cycle. A failing
   * deploy hook fails the rollout (and so rolls it back); a failing post-deploy hook, run once traffic is back on the
   * new version, is recorded and reported but changes nothing.
   */
  async function runHooks(phase: HookRun['phase'], restore: boolean) {
    const commands = input.app.hooks?.[phase] ?? [];
    if (!commands.length || !input.images.app) return;
    for (const [index, command] of commands.entries()) {
      const run = await containerActivities.runHook({
        ...common, node: 'author', phase, index, command, hookKey: key('author', `${phase}-hook-${index}`, restore),
      });
      const hook: HookRun = { phase, index, command, exitCode: run.exitCode, output: run.output, durationMs: run.durationMs };
      const detail = `${phase} hook #${index + 1} exited ${run.exitCode}${run.output ? `: ${run.output.split('\n').slice(-3).join(' | ')}` : ''}`;
      state.cycle.push({ at: new Date().toISOString(), node: 'author', op: phase === 'deploy' ? 'deployHook' : 'postDeployHook', restore, detail, hook });
      if (run.exitCode !== 0) {
        if (phase === 'deploy') throw new HookFailed(`deploy hook "${command}" exited ${run.exitCode}: ${run.output.split('\n').slice(-5).join('\n')}`);
        state.reason = `the post-deploy hook "${command}" exited ${run.exitCode} (the new version is serving)`;
        return;
      }
    }
  }

  async function setHold(hold: boolean, restore: boolean) {
    const r = await loadBalancerActivities.setRequestHold({ ...common, hold });
    holding = hold;
    state.cycle.push({ at: new Date().toISOString(), node: 'lb', op: hold ? 'holdRequests' : 'releaseRequests', restore, detail: r.detail });
  }

  const newImages = { author: input.images.app, publish: input.images.app, dispatcher: input.images.dispatcher };
  /** Nodes whose containers were (or may have been) replaced: what a rollback restores. */
  const touched: RolloutNodeState[] = (resume?.touched ?? []).map(node);

  // The configuration this rollout ships is checked before any node is touched (added later: patched, so rollouts
  // recorded before it replay as they ran).
  if (!resume && patched('validate-configuration-before-rollout')) {
    await containerActivities.validateEnvironmentConfig({ ...common, dispatcherImage: input.images.dispatcher });
  }

  try {
    if (!resume) {
      // Network and load balancer first: idempotent, and nothing is detached yet if they cannot be made.
      const before = await containerActivities.prepareEnvironment(common);
      state.url = before.url;
      // What each node runs now is what a rollback restores ('' where the node does not exist yet). Known before any
      // node is touched, so a crash or a cancellation in the middle of a replacement cannot lose it.
      for (const n of state.nodes) {
        const pair = n.name.slice('pair-'.length);
        n.previousImages = n.role === 'author'
          ? { author: before.nodes.author ?? '' }
          : { publish: input.images.app ? before.nodes[`publish-${pair}`] ?? '' : '', dispatcher: before.nodes[`dispatcher-${pair}`] ?? '' };
      }
      void report();
    }
    const plan = maintenance ? MAINTENANCE_PLAN : ROLLING_PLAN;
    const lastPairStage = plan.map((s) => s.kind).lastIndexOf('pairs');
    const historyLimit = environment.rolloutHistoryLimit ?? DEFAULT_ROLLOUT_HISTORY_LIMIT;
    for (const [i, stage] of plan.entries()) {
      if (resume && i < resume.stage) continue;
      if (stage.kind === 'author') {
        if (!input.images.app) continue;
        if (!touched.includes(node('author'))) touched.push(node('author'));
        await runSteps(node('author'), stage.steps, newImages, false, true);
      } else if (stage.kind === 'pairs') {
        const groups = stage.windowed ? windowsOf(environment.pairs, environment.window) : [pairs];
        for (const [g, group] of groups.entries()) {
          if (resume && i === resume.stage && g < resume.group) continue;
          const nodes = group.map((p) => node(`pair-${p}`));
          touched.push(...nodes.filter((n) => !touched.includes(n)));
          const results = await Promise.allSettled(nodes.map((n) => runSteps(n, stage.steps, newImages, false, i === lastPairStage)));
          const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) throw failed.reason;
          // A window boundary, every node attached: a long history continues as new here, carrying everything the
          // rest of the rollout and a rollback need (never while maintenance mode holds requests).
          if (g + 1 < groups.length && !holding && workflowInfo().historyLength >= historyLimit && patched('rollout-continue-as-new')) {
            await report(true);
            await continueAsNew<typeof rollingDeployment>({ ...input, resume: { state, touched: touched.map((n) => n.name), stage: i, group: g + 1 } });
          }
        }
      } else if (stage.op === 'deployHook') {
        state.currentNode = input.images.app ? 'author' : state.currentNode;
        await runHooks('deploy', false);
      } else if (stage.op === 'postDeployHook') {
        await runHooks('postDeploy', false);
      } else {
        await setHold(stage.op === 'holdRequests', false);
      }
    }
    state.status = 'FINISHED';
    state.currentNode = undefined;
    state.url = (await containerActivities.describeEnvironment(common)).url;
    void report();
    return state;
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    const cancelled = isCancellation(err);
    const failedNode = state.nodes.find((n) => n.name === state.currentNode);
    if (failedNode && !cancelled) failedNode.error = rootMessage(err);
    state.reason = cancelled ? 'the execution was cancelled during the rollout' : `${state.currentNode ?? 'a node'} failed: ${rootMessage(err)}`;
    state.status = 'ROLLING_BACK';
    // Restore in a scope that a cancellation cannot interrupt: the environment must end on one version, attached.
    await CancellationScope.nonCancellable(async () => {
      await report(true);
      for (const n of [...touched].reverse()) {
        try {
          const previous = n.previousImages ?? {};
          const restoreImages = { author: previous.author || undefined, publish: previous.publish || undefined, dispatcher: previous.dispatcher || undefined };
          if (!Object.values(restoreImages).some(Boolean)) {
            // First deployment of this node: there is no previous version; it stays out of the load balancer.
            n.error ??= 'no previous version to restore (first deployment): left detached';
            if (n.role === 'pair') await loadBalancerActivities.setServerState({ ...common, server: n.name, state: 'maint' });
            setPhase(n, 'failed');
            continue;
          }
          await runCycle(n, restoreImages, true);
        } catch (restoreErr) {
          n.phase = 'failed';
          n.error = `restore failed: ${rootMessage(restoreErr)}`;
          state.status = 'FAILED';
        }
      }
      // Maintenance mode: the held requests go to the restored nodes (or, bounded, get the maintenance page).
      if (holding) await setHold(false, true).catch(() => undefined);
      if (state.status === 'ROLLING_BACK') state.status = cancelled ? 'CANCELLED' : 'ROLLED_BACK';
      state.currentNode = undefined;
      state.url = (await containerActivities.describeEnvironment(common).catch(() => undefined))?.url;
      await report(true);
    });
    if (cancelled) throw err;
    return state;
  }

}

/** A deploy hook that exited non-zero: the rollout fails and rolls back (not an activity failure: nothing to retry). */
class HookFailed extends Error {
  override name = 'HookFailed';
}

function rootMessage(err: unknown): string {
  return (rootCause(err) as { message?: string } | undefined)?.message ?? String(err);
}

/** A node placed on another engine than its environment's names that engine in the state (`engine`). */
function placedOn(environment: EnvironmentConfig, node: string): { engine?: string } {
  const engine = placementLabel(environment, node);
  return engine ? { engine } : {};
}
