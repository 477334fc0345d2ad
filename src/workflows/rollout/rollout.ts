/**
 * One environment's rollout: runs the plan of rollout-plan.ts (rolling, or maintenance mode) stage by stage and
 * window by window, keeping its plan position in its record. The node cycle, the hooks, the request hold, the
 * rollback and the continue-as-new carry-over each live in a file of their own beside this one.
 */
import { ApplicationFailure, ContinueAsNew, isCancellation, patched, setHandler, sleep } from '@temporalio/workflow';
import { ActivityFailure } from '../../shared/errors';
import { rolloutStateQuery } from '../../shared/messages';
import type { RolloutNodeState, RolloutResult } from '../../shared/types';
import { containerActivities, loadBalancerActivities } from '../activity-profiles';
import { durationMs } from '../execution/message-rules';
import { MAINTENANCE_PLAN, ROLLING_PLAN, windowsOf, type CycleOperation, type CycleStep, type PlanStage } from '../rollout-plan';
import { continueAsNewWhenLong, startingPoint } from './carry-over';
import { rolloutContext, type RolloutContext } from './context';
import { runHooks } from './hooks';
import type { RolloutInput } from './input';
import { NodeCycleRunner } from './node-cycle';
import { RolloutRecord } from './record';
import { RequestHold } from './request-hold';
import { rollBack } from './rollback';
import { AUTHOR_NODE, dispatcherNodeName, pairName, pairNumber, publishNodeName } from '../../topology/names';

type PairStage = Extract<PlanStage, { kind: 'pairs' }>;

/** How long a rollout waits for capacity in service before draining a window, when the environment does not say. */
const DEFAULT_CAPACITY_TIMEOUT = '5 minutes';
const CAPACITY_POLL_MS = 2000;

const chunk = (items: number[], size: number) =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

export class Rollout {
  private readonly record: RolloutRecord;
  private readonly ctx: RolloutContext;
  private readonly cycle: NodeCycleRunner;
  private readonly requests: RequestHold;
  /** Nodes whose containers were (or may have been) replaced, in order: what a rollback restores. */
  private readonly touched: RolloutNodeState[];

  constructor(private readonly input: RolloutInput) {
    this.record = new RolloutRecord(input);
    this.ctx = rolloutContext(input, this.record);
    this.cycle = new NodeCycleRunner(this.ctx);
    this.requests = new RequestHold(this.ctx);
    this.touched = (input.resume?.touched ?? []).map((name) => this.record.node(name));
  }

  installHandlers(): void {
    setHandler(rolloutStateQuery, () => this.record.query());
  }

  async run(): Promise<RolloutResult> {
    const { input, ctx } = this;
    // The configuration this rollout ships is checked before any node is touched (added later: patched, so rollouts
    // recorded before it replay as they ran).
    if (!input.resume && patched('validate-configuration-before-rollout')) {
      await containerActivities.validateEnvironmentConfig({ ...ctx.target, dispatcherImage: input.images.dispatcher });
    }
    try {
      if (!input.resume) await this.prepare();
      await this.runPlan();
      return await this.finish();
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      await rollBack(ctx, { cycle: this.cycle, requests: this.requests, touched: this.touched }, err);
      if (isCancellation(err)) throw err;
      return this.record.state;
    }
  }

  /** Network and load balancer first: idempotent, and nothing is detached yet if they cannot be made. */
  private async prepare(): Promise<void> {
    const { state } = this.record;
    const before = await containerActivities.prepareEnvironment(this.ctx.target);
    state.url = before.url;
    // What each node runs now is what a rollback restores ('' where the node does not exist yet). Known before any
    // node is touched, so a crash or a cancellation in the middle of a replacement cannot lose it.
    for (const n of state.nodes) {
      const pair = pairNumber(n.name) ?? 0;
      n.previousImages = n.role === 'author'
        ? { author: before.nodes[AUTHOR_NODE] ?? '' }
        : { publish: this.input.images.app ? before.nodes[publishNodeName(pair)] ?? '' : '', dispatcher: before.nodes[dispatcherNodeName(pair)] ?? '' };
    }
    this.record.reportProgress();
  }

  private async runPlan(): Promise<void> {
    const strategy = this.input.environment.strategy === 'maintenance' ? 'maintenance' : 'rolling';
    const plan = strategy === 'maintenance' ? MAINTENANCE_PLAN : ROLLING_PLAN;
    const lastPairStage = plan.map((s) => s.kind).lastIndexOf('pairs');
    const start = startingPoint(this.input);
    for (const [i, stage] of plan.entries()) {
      if (i < start.stage) continue;
      this.record.position = { plan: strategy, stage: i, stages: plan.length, does: stage.kind === 'environment' ? stage.op : stage.kind };
      if (stage.kind === 'author') {
        await this.deployAuthor(stage.steps);
      } else if (stage.kind === 'pairs') {
        await this.deployPairs(i, stage, { firstWindow: i === start.stage ? start.group : 0, completesCycle: i === lastPairStage });
      } else {
        await this.runEnvironmentOperation(stage.op);
      }
    }
  }

  private async deployAuthor(steps: readonly CycleStep[]): Promise<void> {
    if (!this.input.images.app) return;
    const author = this.record.node(AUTHOR_NODE);
    if (!this.touched.includes(author)) this.touched.push(author);
    await this.cycle.deploy(author, steps, { completesCycle: true });
  }

  /**
   * Every pair through this stage's steps, a window at a time (or all at once), from `firstWindow` on; a failing pair
   * fails the rollout once its window settles. Each window boundary may continue as new.
   */
  private async deployPairs(stageIndex: number, stage: PairStage, { firstWindow, completesCycle }: { firstWindow: number; completesCycle: boolean }) {
    const { environment } = this.input;
    const guarded = stage.windowed && this.capacityGuarded();
    const order = guarded ? await this.pairOrder() : undefined;
    const windows = !stage.windowed ? [Array.from({ length: environment.pairs }, (_, i) => i + 1)]
      : order ? chunk(order, environment.window) : windowsOf(environment.pairs, environment.window);
    for (const [w, pairs] of windows.entries()) {
      if (w < firstWindow) continue;
      this.record.position = { ...this.record.position!, window: { index: w, of: windows.length, pairs } };
      if (guarded) await this.waitForCapacityBeside(pairs);
      const nodes = pairs.map((p) => this.record.node(pairName(p)));
      this.touched.push(...nodes.filter((n) => !this.touched.includes(n)));
      const results = await Promise.allSettled(nodes.map((n) => this.cycle.deploy(n, stage.steps, { completesCycle })));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await continueAsNewWhenLong(this.ctx, { stage: stageIndex, group: w + 1 }, {
        moreWindows: w + 1 < windows.length, holdingRequests: this.requests.holding, touched: this.touched,
      });
    }
  }

  /**
   * Whether this rollout guards the capacity in service (added later: rollouts recorded before it, and a rollout that
   * continued as new from one, roll pair 1, 2, ... without looking, as they ran).
   */
  private capacityGuarded(): boolean {
    if (this.input.resume && this.input.resume.state.pairOrder === undefined) return false;
    return patched('rollout-capacity-guard');
  }

  /**
   * The order pairs roll in: those the load balancer already has out of service first (a publish lost from outside,
   * say), since replacing them takes no traffic away and brings capacity back before any serving pair is drained.
   * Chosen once and kept in the state, so a run that continued as new rolls the same windows.
   */
  private async pairOrder(): Promise<number[]> {
    const { state } = this.record;
    if (!state.pairOrder) {
      const up = await this.pairsInService();
      const pairs = Array.from({ length: this.input.environment.pairs }, (_, i) => i + 1);
      state.pairOrder = [...pairs.filter((p) => !up.has(p)), ...pairs.filter((p) => up.has(p))];
    }
    return state.pairOrder;
  }

  /** Pair numbers the load balancer reports UP (in service) now. */
  private async pairsInService(): Promise<Set<number>> {
    const servers = await loadBalancerActivities.readServers(this.ctx.target);
    return new Set(servers.filter((s) => /^UP\b/.test(s.status)).map((s) => pairNumber(s.server)).filter((p): p is number => p !== undefined));
  }

  /**
   * Before a window is drained: the pairs staying in service must be UP, at least `minInService` of them (or all
   * the others, when there are fewer), so a rollout never drains what carries the traffic. A window none of whose
   * pairs is in service goes at once. Otherwise the rollout waits, saying for what, up to `capacityTimeout`; then it
   * fails (and rolls back what it replaced) rather than take the site down.
   */
  private async waitForCapacityBeside(windowPairs: number[]): Promise<void> {
    const { environment } = this.input;
    const { state } = this.record;
    const others = Array.from({ length: environment.pairs }, (_, i) => i + 1).filter((p) => !windowPairs.includes(p));
    const required = Math.min(environment.minInService ?? 1, others.length);
    const deadline = Date.now() + durationMs(environment.capacityTimeout ?? DEFAULT_CAPACITY_TIMEOUT);
    for (;;) {
      const up = await this.pairsInService();
      const staying = others.filter((p) => up.has(p));
      if (!windowPairs.some((p) => up.has(p)) || staying.length >= required) break;
      const names = (pairs: number[]) => pairs.map(pairName).join(', ') || 'none';
      const waitingFor = `${required} pair(s) in service besides ${names(windowPairs)} before draining it (UP now: ${names(staying)})`;
      if (Date.now() >= deadline) {
        throw ApplicationFailure.nonRetryable(`not enough capacity in service to drain ${names(windowPairs)}: waited ${environment.capacityTimeout ?? DEFAULT_CAPACITY_TIMEOUT} for ${waitingFor}`, ActivityFailure.InsufficientCapacity);
      }
      if (state.waitingFor !== waitingFor) {
        state.waitingFor = waitingFor;
        this.record.reportProgress();
      }
      await sleep(CAPACITY_POLL_MS);
    }
    if (state.waitingFor) {
      delete state.waitingFor;
      this.record.reportProgress();
    }
  }

  private async runEnvironmentOperation(op: CycleOperation): Promise<void> {
    const { state } = this.record;
    if (op === 'deployHook') {
      state.currentNode = this.input.images.app ? AUTHOR_NODE : state.currentNode;
      await runHooks(this.ctx, 'deploy');
    } else if (op === 'postDeployHook') {
      await runHooks(this.ctx, 'postDeploy');
    } else if (op === 'holdRequests') {
      await this.requests.hold();
    } else {
      await this.requests.release('deploy');
    }
  }

  private async finish(): Promise<RolloutResult> {
    const { state } = this.record;
    state.status = 'FINISHED';
    state.currentNode = undefined;
    state.url = (await containerActivities.describeEnvironment(this.ctx.target)).url;
    this.record.reportProgress();
    return state;
  }
}
