/**
 * The environment keeper: between deployments, checks every node of its environment once per interval (a durable
 * timer, never faster) against the release its last finished deployment put there, and heals a node that is lost or
 * unhealthy from that release's images (heal.ts). A deployment pauses it (after the heal it runs, if any) and resumes
 * it with its new release. Heals are budgeted per hour: past the budget a node is marked failing and reported, not
 * replaced in a loop. Its state (carried over by continue-as-new) is what the `state` query answers.
 */
import {
  ApplicationFailure, CancellationScope, ParentClosePolicy, allHandlersFinished, condition, continueAsNew, setHandler, startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { DEFAULT_KEEPER } from '../../shared/config-defaults';
import { Refusal, rootCause } from '../../shared/errors';
import { buildKeeperEvent, type KeeperEventKind } from '../../shared/events';
import { keeperEventsWorkflowId } from '../../shared/ids';
import {
  KEEPER_LOG_LIMIT, type DeploymentEnded, type HealRecord, type KeeperAuditEntry, type KeeperNodeState, type KeeperRelease,
  type KeeperState, type ScaleRecord,
} from '../../shared/keeper';
import { keeperDeploymentEndedSignal, keeperPauseUpdate, keeperScaleUpdate, keeperStateQuery, type ScaleRequest } from '../../shared/messages';
import type { EnvironmentType } from '../../shared/types';
import { pairNumber } from '../../topology/names';
import { quickActivities } from '../activity-profiles';
import { eventDelivery } from '../event-delivery';
import { durationMs } from '../execution/message-rules';
import { NEEDS_HEAL, assessNodes } from './assess';
import { healImages, runHeal } from './heal';
import { checkScaleRequest, checkScaleShape, scaleTo } from './scale';

/** What a keeper run is started with, and what one run hands the next when it continues as new. */
export interface KeeperInput {
  pipelineId: string;
  environmentType: EnvironmentType;
  /** Events in one run before it continues as new (default 2000; tests set it low). */
  historyLimit?: number;
  carried?: KeeperCarryOver;
}

export interface KeeperCarryOver {
  release?: KeeperRelease;
  pausedBy?: string;
  nodes: KeeperNodeState[];
  heals: HealRecord[];
  audit: KeeperAuditEntry[];
  checks: number;
  lastCheckAt?: string;
  healCount: number;
  /** Proofs of scale decisions already used: each counts once, across runs. */
  seenProofIds?: string[];
  /** A scale accepted by the run before, not yet started. */
  pendingScale?: { pairs: number; by: string };
}

const DEFAULT_HISTORY_LIMIT = 2000;
const HOUR_MS = 3_600_000;
const now = () => new Date().toISOString();
const messageOf = (err: unknown) => (rootCause(err) as { message?: string } | undefined)?.message ?? String(err);

export class EnvironmentKeeper {
  private release?: KeeperRelease;
  private pausedBy?: string;
  private healing?: HealRecord;
  private nodes: KeeperNodeState[];
  private readonly heals: HealRecord[];
  private readonly audit: KeeperAuditEntry[];
  private checks: number;
  private lastCheckAt?: string;
  private healCount: number;
  private readonly seenProofIds: Set<string>;
  /** A scale accepted and not yet done; `scaling` while it runs. */
  private pendingScale?: { pairs: number; by: string };
  private scaling = false;

  constructor(private readonly input: KeeperInput) {
    const c = input.carried;
    this.release = c?.release;
    this.pausedBy = c?.pausedBy;
    this.nodes = c?.nodes ?? [];
    this.heals = c?.heals ?? [];
    this.audit = c?.audit ?? [];
    this.checks = c?.checks ?? 0;
    this.lastCheckAt = c?.lastCheckAt;
    this.healCount = c?.healCount ?? 0;
    this.seenProofIds = new Set(c?.seenProofIds ?? []);
    this.pendingScale = c?.pendingScale;
  }

  installHandlers(): void {
    setHandler(keeperStateQuery, () => this.query());
    setHandler(keeperDeploymentEndedSignal, (ended) => this.deploymentEnded(ended));
    setHandler(keeperPauseUpdate, async ({ executionId }) => {
      this.pausedBy = executionId;
      this.log({ what: 'paused', detail: `execution ${executionId} deploys ${this.release?.environment.name ?? 'the environment'}` });
      // The heal or scale in progress, if any, completes first: a deployment and the keeper never act on the same node at once.
      await condition(() => this.healing === undefined && !this.scaling);
      return { paused: true, detail: `paused for execution ${executionId}` };
    }, {
      validator: ({ executionId }) => {
        if (typeof executionId !== 'string' || !executionId) {
          throw ApplicationFailure.create({ type: Refusal.InvalidRequest, message: 'pause needs the executionId of the deployment', nonRetryable: true });
        }
      },
    });
    setHandler(keeperScaleUpdate, (request) => {
      let proven;
      try {
        proven = this.checkScale(request);
      } catch (err) {
        // Refused past its shape (who, when, the proof): kept in the keeper's log with the reason, then answered.
        this.log({ what: 'refused', detail: `scale to ${request.pairs} pair(s) by ${request.by}: ${messageOf(err)}` });
        throw err;
      }
      if (proven.proofId) this.seenProofIds.add(proven.proofId);
      this.pendingScale = { pairs: request.pairs, by: proven.label };
      const message = `${proven.label} scales ${this.release!.environment.name} from ${this.release!.environment.pairs} to ${request.pairs} pair(s)`;
      this.log({ what: 'scale', detail: `accepted: ${message}` });
      return { accepted: true, message };
    }, { validator: (request) => checkScaleShape(request) });
  }

  async run(): Promise<never> {
    let nextCheckAt = 0;
    for (;;) {
      await condition(() => this.release !== undefined && this.pausedBy === undefined);
      if (this.pendingScale) {
        await this.scale(this.release!, this.pendingScale);
      } else {
        await this.check();
        nextCheckAt = Date.now() + durationMs(this.release!.environment.keeper?.interval ?? DEFAULT_KEEPER.interval);
      }
      if (workflowInfo().historyLength >= (this.input.historyLimit ?? DEFAULT_HISTORY_LIMIT) || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        return continueAsNew<(input: KeeperInput) => Promise<never>>({ ...this.input, carried: this.carryOver() });
      }
      // The next check once the interval is over (a durable timer); an accepted scale starts at once.
      await condition(() => this.pendingScale !== undefined && this.pausedBy === undefined, Math.max(1, nextCheckAt - Date.now()));
    }
  }

  private checkScale(request: ScaleRequest) {
    const busy = this.pausedBy !== undefined ? `execution ${this.pausedBy} deploys the environment`
      : this.healing ? `${this.healing.id} of ${this.healing.node} runs` : this.pendingScale || this.scaling ? 'another scale runs' : undefined;
    return checkScaleRequest(request, {
      pipelineId: this.input.pipelineId, environmentType: this.input.environmentType, release: this.release, busy,
      seenProofIds: this.seenProofIds, nowMs: Date.now(),
    });
  }

  /** Runs an accepted scale to its end (never half done), then logs what it did. */
  private async scale(release: KeeperRelease, request: { pairs: number; by: string }): Promise<void> {
    this.scaling = true;
    this.pendingScale = undefined;
    // Unique per scale: this run and where in its history the scale starts.
    const id = `scale-${workflowInfo().historyLength}`;
    const from = release.environment.pairs;
    const record = await CancellationScope.nonCancellable(() => scaleTo(this.input.pipelineId, release, request.pairs, `${workflowInfo().runId}-${id}`)).then(
      (done): ScaleRecord => ({ id, by: request.by, from, to: request.pairs, outcome: 'scaled', detail: `${from} → ${request.pairs} pair(s) for ${request.by}: ${done.join(', ')}` }),
      (err: unknown): ScaleRecord => ({
        id, by: request.by, from, to: request.pairs, outcome: 'failed',
        detail: `${from} → ${request.pairs} pair(s) for ${request.by} failed at ${release.environment.pairs} pair(s): ${messageOf(err)}`,
      }),
    );
    this.nodes = this.nodes.filter((n) => (pairNumber(n.name) ?? 0) <= release.environment.pairs);
    if (record.outcome === 'scaled') await this.emit('scaled', release, id, { scale: record });
    this.scaling = false;
    this.log({ what: 'scale', detail: record.detail });
  }

  /** One check: inspect, assess, then heal what needs it, one node at a time, while no deployment runs. */
  private async check(): Promise<void> {
    const release = this.release!;
    const inspection = await quickActivities.inspectEnvironmentNodes({
      pipelineId: this.input.pipelineId, environment: release.environment, appPort: release.app.port, healthPath: release.app.healthPath,
      withAuthor: release.images.app !== undefined,
    });
    this.checks += 1;
    this.lastCheckAt = now();
    // A deployment started, or a new release arrived, while it looked: what it saw is not what to act on.
    if (this.pausedBy !== undefined || this.release !== release) return;
    this.nodes = assessNodes(release, inspection, this.nodes, this.lastCheckAt);
    for (const node of this.nodes.filter((n) => NEEDS_HEAL.includes(n.condition))) {
      if (this.pausedBy !== undefined || this.release !== release) return;
      if (this.budgetLeft() > 0) {
        await this.heal(release, node);
      } else {
        const detail = `${node.condition}: ${node.detail}; the budget of ${this.healsPerHour()} heal(s) an hour is spent: not replaced, left until the next release`;
        node.condition = 'failing';
        node.detail = detail;
        this.log({ what: 'marked', node: node.name, detail });
      }
    }
  }

  private async heal(release: KeeperRelease, node: KeeperNodeState): Promise<void> {
    this.healCount += 1;
    const heal: HealRecord = {
      id: `heal-${this.healCount}`, node: node.name, reason: `${node.condition}: ${node.detail}`, images: healImages(release, node.name),
      executionId: release.executionId, startedAt: now(), outcome: 'healing',
    };
    this.healing = heal;
    this.remember(this.heals, heal);
    node.condition = 'healing';
    // A heal is never left half done: cancelling the keeper waits for the node to be back (or its cycle to fail).
    await CancellationScope.nonCancellable(async () => {
      try {
        // Unique per heal in this keeper's whole chain of runs: a retried activity never acts twice, a later heal always does.
        const detail = await runHeal(this.input.pipelineId, release, heal, `${workflowInfo().firstExecutionRunId}-${heal.id}`);
        Object.assign(heal, { outcome: 'healed', detail });
        Object.assign(node, { condition: 'healthy', detail: `replaced by ${heal.id}` });
        this.healEnded(heal, node.name);
        await this.emit('healed', release, heal.id, { heal });
      } catch (err) {
        Object.assign(heal, { outcome: 'failed', detail: messageOf(err) });
        node.detail = `${heal.id} failed: ${heal.detail}`;
        this.healEnded(heal, node.name);
      }
    });
    this.healing = undefined;
  }

  /** A heal's outcome, end time and log entry land together: a query never sees one without the others. */
  private healEnded(heal: HealRecord, node: string): void {
    heal.endedAt = now();
    this.log({ what: 'heal', node, detail: `${heal.id} ${heal.outcome}: ${heal.reason}${heal.outcome === 'failed' ? ` (${heal.detail})` : ''}` });
  }

  /** An event to the pipeline's webhooks, delivered by a workflow of its own (a slow receiver never holds the keeper). */
  private async emit(kind: KeeperEventKind, release: KeeperRelease, id: string, what: { heal?: HealRecord; scale?: ScaleRecord }): Promise<void> {
    const event = buildKeeperEvent({ kind, pipelineId: this.input.pipelineId, release, id, time: now(), ...what });
    const queues = release.webhooks.map((hook) => (!hook.events || hook.events.includes(kind) ? [event] : []));
    if (!queues.some((q) => q.length)) return;
    await startChild(eventDelivery, {
      workflowId: keeperEventsWorkflowId(this.input.pipelineId, this.input.environmentType, `${workflowInfo().firstExecutionRunId}-${id}`),
      args: [{ webhooks: release.webhooks, queues, closed: true }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `Webhook delivery of ${id} on ${release.environment.name}`,
    });
  }

  private deploymentEnded({ executionId, status, release }: DeploymentEnded): void {
    if (release) {
      // A web tier's release changes only the dispatchers: the app's image stays the one released before it.
      const app = release.images.app ?? this.release?.images.app;
      this.release = { ...release, images: { ...release.images, ...(app ? { app } : {}) } };
      // A new release is a new start: nodes marked failing get their heals again.
      this.nodes = this.nodes.filter((n) => n.condition !== 'failing');
      this.log({ what: 'release', detail: `execution ${executionId} finished: keeping ${release.environment.name} on its images` });
    }
    if (this.pausedBy !== undefined) {
      this.log({ what: 'resumed', detail: `execution ${executionId}'s deployment ended ${status}` });
      this.pausedBy = undefined;
    }
  }

  private healsPerHour(): number {
    return this.release?.environment.keeper?.healsPerHour ?? DEFAULT_KEEPER.healsPerHour;
  }

  private usedLastHour(): number {
    const since = Date.now() - HOUR_MS;
    return this.heals.filter((h) => Date.parse(h.startedAt) > since).length;
  }

  private budgetLeft(): number {
    return Math.max(0, this.healsPerHour() - this.usedLastHour());
  }

  private log(entry: Omit<KeeperAuditEntry, 'at'>): void {
    this.remember(this.audit, { at: now(), ...entry });
  }

  private remember<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > KEEPER_LOG_LIMIT) list.shift();
  }

  private query(): KeeperState {
    const release = this.release;
    return {
      pipelineId: this.input.pipelineId,
      environmentType: this.input.environmentType,
      environment: release?.environment.name,
      status: !release ? 'WAITING_FOR_RELEASE' : this.healing ? 'HEALING' : this.scaling ? 'SCALING' : this.pausedBy !== undefined ? 'PAUSED' : 'WATCHING',
      pausedBy: this.pausedBy,
      release: release && { executionId: release.executionId, images: release.images, finishedAt: release.finishedAt },
      interval: release?.environment.keeper?.interval ?? DEFAULT_KEEPER.interval,
      checks: this.checks,
      lastCheckAt: this.lastCheckAt,
      nodes: this.nodes,
      lastHeal: this.heals.at(-1),
      budget: { perHour: this.healsPerHour(), usedLastHour: this.usedLastHour(), left: this.budgetLeft() },
      audit: this.audit,
    };
  }

  private carryOver(): KeeperCarryOver {
    return {
      release: this.release, pausedBy: this.pausedBy, nodes: this.nodes, heals: this.heals, audit: this.audit,
      checks: this.checks, lastCheckAt: this.lastCheckAt, healCount: this.healCount, seenProofIds: [...this.seenProofIds],
      ...(this.pendingScale ? { pendingScale: this.pendingScale } : {}),
    };
  }
}
