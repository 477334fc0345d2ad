/**
 * One pipeline execution: its state, its message handlers and its step loop. The step list is data (shared/steps.ts),
 * each action's work lives in a runner of its phase (step-runners.ts maps actions to runners); this class owns
 * statuses, times, waits, cancellation and what the Web UI shows.
 */
import {
  ApplicationFailure, CancellationScope, ParentClosePolicy, condition, isCancellation, setCurrentDetails, setHandler,
  startChild, upsertSearchAttributes, type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { buildEvent, type EventKind } from '../../shared/events';
import { eventDeliveryWorkflowId } from '../../shared/ids';
import { Refusal, rootCause } from '../../shared/errors';
import {
  approveSignal, approveUpdate, cancelSignal, cancelUpdate, closeEventsSignal, deliverEventsSignal, executionStateQuery,
  overrideSignal, overrideUpdate,
  rejectSignal, rejectUpdate, rolloutProgressSignal, scheduleSignal, scheduleUpdate,
  type ExecutionAction, type MessageAck,
} from '../../shared/messages';
import { invalidRequest } from '../../shared/refusals';
import { CommitIdKey, PipelineStatusKey, PipelineStepKey } from '../../shared/search-attributes';
import type { ExecutionState, ExecutionStatus, StepState, WaitingState } from '../../shared/types';
import { checkDecisionProof, type ProofCheck } from './decision-proof';
import { durationMs, namesMatch, payloadProblem, refusalReason } from './message-rules';
import { appendAudit, definitionOf, initialState, renderDetails, type ExecutionInput, type ExecutionResult } from './state';
import { STEP_RUNNERS } from './step-runners';
import { StopExecution, type Decisions, type StepContext } from './step-context';
import { eventDelivery } from '../event-delivery';
import {
  countDecisionRefused, countExecutionEnded, countExecutionStarted, countStepEnded, countWaitClosed, countWaitOpened,
} from './execution-metrics';

const now = () => new Date().toISOString();

export class Execution implements StepContext {
  readonly state: ExecutionState;
  readonly decisions: Decisions = { approvals: {} };
  private cancelRequest?: { by: string; reason?: string };
  private stepScope?: CancellationScope;
  private scheduleVersion = 0;
  /** The execution's eventDelivery workflow, when the pipeline has webhooks. */
  private delivery?: ChildWorkflowHandle<typeof eventDelivery>;
  private eventSeq = 0;
  private eventChain: Promise<void> = Promise.resolve();
  /**
   * Proofs already used (their ids): a signed decision counts once. The execution never continues as new, and each
   * id is added as its message is handled, so a replay of the history rebuilds the same set.
   */
  private readonly seenProofIds = new Set<string>();

  constructor(readonly input: ExecutionInput) {
    this.state = initialState(input, now());
  }

  get config() {
    return this.input.config;
  }

  nowMs(): number {
    return Date.now();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Messages

  installHandlers(): void {
    setHandler(executionStateQuery, () => this.state);
    const pairs = [
      ['approve', approveSignal, approveUpdate], ['reject', rejectSignal, rejectUpdate], ['schedule', scheduleSignal, scheduleUpdate],
      ['override', overrideSignal, overrideUpdate], ['cancel', cancelSignal, cancelUpdate],
    ] as const;
    for (const [action, signal, update] of pairs) {
      setHandler(signal, (request: unknown) => { this.receive(action, request, 'signal'); });
      setHandler(update, (request: unknown) => this.receive(action, request, 'update'), {
        validator: (request: unknown) => {
          const problem = payloadProblem(action, request);
          if (problem) throw ApplicationFailure.create({ type: Refusal.InvalidRequest, message: problem, nonRetryable: true });
        },
      });
    }
    setHandler(rolloutProgressSignal, ({ environmentType, rollout }) => {
      this.state.rollouts[environmentType] = rollout;
      if (rollout.url) this.state.urls[environmentType] = rollout.url;
      const step = this.state.steps.find((s) => s.action === 'deploy' && s.environmentType === environmentType);
      if (step?.status === 'RUNNING' && rollout.status === 'ROLLING_BACK') step.status = 'ROLLING_BACK';
      const current = rollout.nodes.find((n) => n.name === rollout.currentNode);
      if (step) {
        step.details.summary = current
          ? `${rollout.status}: ${current.name}${current.engine ? ` on ${current.engine}` : ''} ${current.phase}` : rollout.status;
      }
      this.touch();
    });
  }

  /** Accepts or refuses one message; every request is audited. Updates learn the refusal as an ApplicationFailure. */
  private receive(action: ExecutionAction, request: unknown, via: 'signal' | 'update'): MessageAck {
    const by = typeof (request as { by?: unknown })?.by === 'string' ? (request as { by: string }).by : '(unknown)';
    const payload = invalidRequest(payloadProblem(action, request));
    const proven = payload ? undefined : this.proveSender(action, request as Record<string, unknown>);
    if (proven && !proven.accepted) {
      appendAudit(this.state, {
        at: now(), by, action, via, outcome: 'refused', reason: proven.reason, trustModel: proven.trustModel, details: { refusal: proven.code },
      });
      countDecisionRefused(action, via);
      this.touch();
      // Not proven to be who it says: refused like any decision by someone who may not make it.
      if (via === 'update') throw ApplicationFailure.create({ type: Refusal.Forbidden, message: proven.reason, nonRetryable: true });
      return { accepted: true, message: proven.reason };
    }
    // The rules apply to the person the proof proved (their configured spelling), not to the name typed.
    const sender = proven ? { ...(request as Record<string, unknown>), by: proven.person } : request as Record<string, unknown>;
    const problem = payload ?? refusalReason(action, sender, this.state, this.config, this.nowMs());
    const identity = proven ? { by: proven.person, step: proven.step, trustModel: proven.trustModel, label: proven.label } : { by };
    if (problem) {
      appendAudit(this.state, { at: now(), ...identity, action, via, outcome: 'refused', reason: problem.message });
      countDecisionRefused(action, via);
      this.touch();
      if (via === 'update') throw ApplicationFailure.create({ type: problem.type, message: problem.message, nonRetryable: true });
      return { accepted: true, message: problem.message };
    }
    const message = this.apply(action, sender);
    appendAudit(this.state, { at: now(), ...identity, action, via, outcome: 'accepted', details: compact(sender) });
    this.touch();
    return { accepted: true, message };
  }

  /**
   * Who sent the message, proven by its proof as the pipeline's trust requires; undefined for an execution started
   * before identity existed (no trust in its configuration), which keeps taking names as given.
   */
  private proveSender(action: ExecutionAction, request: Record<string, unknown>): (ProofCheck & { step?: string }) | undefined {
    const trust = this.config.trust;
    if (!trust) return undefined;
    const step = action === 'cancel' ? this.state.currentStepId : this.state.waiting?.stepId;
    const check = checkDecisionProof({ pipeline: this.state.pipelineId, execution: this.state.id, action, step, request }, trust, this.seenProofIds, this.nowMs());
    if (check.proofId) this.seenProofIds.add(check.proofId);
    // A cancel signed for no step decides on the whole execution: the audit says so, as the proof was checked.
    const signedStep = (request.proof as { decision?: { step?: unknown } } | undefined)?.decision?.step;
    return { ...check, step: action === 'cancel' && check.trustModel === 'signed' && signedStep === undefined ? undefined : step };
  }

  private apply(action: ExecutionAction, request: Record<string, unknown>): string {
    const by = String(request.by);
    const reason = typeof request.reason === 'string' ? request.reason : undefined;
    switch (action) {
      case 'approve':
      case 'reject': {
        const waiting = this.state.waiting!;
        const decision = this.decisions.approvals[waiting.stepId];
        if (action === 'reject') {
          decision.rejected = { by, at: now(), reason };
        } else {
          decision.approvedBy.push(by);
          waiting.allowed = waiting.allowed.filter((name) => !namesMatch(this.config)(name, by));
        }
        const decided = decision.rejected !== undefined || decision.approvedBy.length >= (waiting.required ?? 1);
        if (decided) waiting.accepts = ['cancel'];
        const progress = !decided && action === 'approve' ? ` (${decision.approvedBy.length} of ${waiting.required} approvals)` : '';
        return `${waiting.action} of execution ${this.state.id} ${action === 'approve' ? 'approved' : 'rejected'} by ${by}${progress}`;
      }
      case 'schedule':
        this.scheduleVersion += 1;
        this.decisions.schedule = { by, at: request.at as string | undefined, now: request.now === true, receivedAt: now(), version: this.scheduleVersion };
        return request.now ? `execution ${this.state.id} deploys to production now` : `execution ${this.state.id} deploys to production at ${String(request.at)}`;
      case 'override': {
        const waiting = this.state.waiting!;
        const metrics = request.metrics as string[];
        this.decisions.override = { by, metrics, at: now() };
        waiting.accepts = ['cancel'];
        return `failing important metrics ${metrics.join(', ')} of execution ${this.state.id} overridden by ${by}`;
      }
      case 'cancel':
        this.cancelRequest = { by, reason };
        this.setStatus('CANCELLING');
        this.stepScope?.cancel();
        return `execution ${this.state.id} is being cancelled`;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // The step loop

  async run(): Promise<ExecutionResult> {
    this.setStatus('RUNNING');
    await CancellationScope.nonCancellable(() => this.openEvents());
    this.emit('started');
    countExecutionStarted(this.state);
    this.stepScope = new CancellationScope();
    try {
      await this.stepScope.run(async () => {
        for (const step of this.state.steps) {
          if (this.cancelRequest) throw new StopExecution('CANCELLED', 'CANCELLED', this.cancelReason());
          await this.runStep(step);
        }
      });
      this.finish('FINISHED');
    } catch (err) {
      const step = this.state.steps.find((s) => s.stepId === this.state.currentStepId);
      if (err instanceof StopExecution) {
        this.endStep(step, err.stepStatus, err.message);
        this.finish(err.executionStatus, err.message);
      } else if (isCancellation(err)) {
        const reason = this.cancelReason();
        // A rollout that was rolled back keeps its ROLLED_BACK status.
        this.endStep(step, step?.status === 'ROLLING_BACK' || this.rolledBack(step) ? 'ROLLED_BACK' : 'CANCELLED', reason);
        this.finish('CANCELLED', reason);
      } else {
        const { status, message } = classifyFailure(err);
        this.endStep(step, status, message);
        this.finish(status === 'FAILED' ? 'FAILED' : 'ERROR', `${step?.action ?? 'a step'} ${status === 'FAILED' ? 'failed' : 'errored'}: ${message}`);
      }
    }
    await CancellationScope.nonCancellable(() => this.closeEvents());
    return { status: this.state.status, reason: this.state.reason, state: this.state };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Events (webhooks), delivered by a workflow of their own so a slow receiver never holds the pipeline up

  private async openEvents(): Promise<void> {
    const webhooks = this.config.events?.webhooks ?? [];
    if (!webhooks.length) return;
    this.delivery = await startChild(eventDelivery, {
      workflowId: eventDeliveryWorkflowId(this.state.pipelineId, this.state.id),
      args: [{ webhooks }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `Webhook deliveries of ${this.state.pipelineId} execution ${this.state.id}`,
    });
  }

  /**
   * Hands one event to the delivery workflow. Signals sent as separate commands may arrive out of order, so each is
   * sent once the previous one is acknowledged (a chain the steps never wait on), and a cancellation cannot drop one.
   */
  private emit(kind: EventKind, step?: StepState): void {
    const delivery = this.delivery;
    if (!delivery) return;
    this.eventSeq += 1;
    const event = buildEvent({ kind, state: this.state, step, seq: this.eventSeq, time: now(), actor: this.state.user });
    this.eventChain = this.eventChain
      .then(() => CancellationScope.nonCancellable(() => delivery.signal(deliverEventsSignal, { events: [event] })))
      .catch(() => undefined);
  }

  private async closeEvents(): Promise<void> {
    if (!this.delivery) return;
    this.emit('ended');
    await this.eventChain;
    await this.delivery.signal(closeEventsSignal, { by: 'execution' });
  }

  private async runStep(step: StepState): Promise<void> {
    const definition = definitionOf(this.state, step);
    this.state.currentStepId = step.stepId;
    step.startedAt = now();
    if (definition.skippedIn?.includes(this.state.mode)) {
      step.details = { summary: `skipped in ${this.state.mode} mode`, skipped: true };
      this.endStep(step, 'FINISHED');
      return;
    }
    step.status = 'RUNNING';
    this.publish();
    this.emit('started', step);
    await STEP_RUNNERS[step.action](this, step);
    this.endStep(step, 'FINISHED');
  }

  private endStep(step: StepState | undefined, status: StepState['status'], reason?: string): void {
    if (!step) return;
    step.status = status;
    step.finishedAt = now();
    if (reason && status !== 'FINISHED') step.details = { ...step.details, summary: reason, reason };
    this.state.waiting = undefined;
    this.publish();
    this.emit('ended', step);
    countStepEnded(this.state, step, this.config);
  }

  private rolledBack(step: StepState | undefined): boolean {
    const rollout = step?.environmentType ? this.state.rollouts[step.environmentType] : undefined;
    return rollout?.status === 'CANCELLED' || rollout?.status === 'ROLLED_BACK';
  }

  private cancelReason(): string {
    const c = this.cancelRequest;
    return c ? `cancelled by ${c.by}${c.reason ? `: ${c.reason}` : ''}` : 'cancelled through Temporal (workflow cancellation)';
  }

  async wait(
    step: StepState, waiting: Omit<WaitingState, 'stepId' | 'action' | 'since' | 'expiresAt'>, timeout: string | number,
    done: () => boolean, expiresAt?: string,
  ): Promise<boolean> {
    const timeoutMs = durationMs(timeout);
    step.status = 'WAITING';
    this.state.waiting = {
      stepId: step.stepId, action: step.action, since: now(),
      expiresAt: expiresAt ?? new Date(this.nowMs() + timeoutMs).toISOString(), ...waiting,
      // State only (no command): older histories replay the same.
      ...(this.config.trust?.model === 'signed' ? { signed: true } : {}),
    };
    this.publish();
    this.emit('waiting', step);
    countWaitOpened(step);
    let result: boolean | undefined;
    try {
      result = await condition(done, timeoutMs);
    } finally {
      countWaitClosed(step, result);
    }
    step.status = 'RUNNING';
    return result;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Status and what the Web UI shows

  private setStatus(status: ExecutionStatus): void {
    this.state.status = status;
    this.publish();
  }

  private finish(status: ExecutionStatus, reason?: string): void {
    this.state.finishedAt = now();
    this.state.reason = reason;
    this.state.currentStepId = this.state.currentStepId ?? undefined;
    this.setStatus(status);
    countExecutionEnded(this.state);
  }

  private touch(): void {
    this.state.updatedAt = now();
  }

  publish(): void {
    this.touch();
    const step = this.state.steps.find((s) => s.stepId === this.state.currentStepId);
    upsertSearchAttributes([
      { key: PipelineStatusKey, value: this.state.status },
      ...(step ? [{ key: PipelineStepKey, value: step.action }] : []),
      ...(this.state.commitId ? [{ key: CommitIdKey, value: this.state.commitId }] : []),
    ]);
    setCurrentDetails(renderDetails(this.state, this.nowMs()));
  }
}

/** A failure of a known, non-retryable kind (tests failed, bad config) is FAILED; anything else is an ERROR. */
function classifyFailure(err: unknown): { status: 'FAILED' | 'ERROR'; message: string } {
  const current = rootCause(err) as { message?: string } | undefined;
  const failed = current instanceof ApplicationFailure && (current.nonRetryable || current.type !== undefined);
  return { status: failed ? 'FAILED' : 'ERROR', message: current?.message ?? String(err) };
}

function compact(request: Record<string, unknown>): Record<string, unknown> {
  const { by: _by, ...rest } = request;
  return rest;
}
