/**
 * The rollout's record: its state (nodes and their phases, status, reason), the cycle of effects it ran, and where it
 * is in its plan; what its `state` query answers and the progress it reports to its execution.
 */
import { getExternalWorkflowHandle, workflowInfo } from '@temporalio/workflow';
import { rolloutProgressSignal } from '../../shared/messages';
import type { CycleRecord, EnvironmentConfig, RolloutNodeState, RolloutPlanPosition, RolloutResult } from '../../shared/types';
import { placementLabel } from '../../topology/placement';
import type { RolloutInput } from './input';
import { AUTHOR_NODE, pairName } from '../../topology/names';

export class RolloutRecord {
  readonly state: RolloutResult;
  /** Where the rollout is in its plan: shown by the `state` query only (see RolloutResult). */
  position?: RolloutPlanPosition;

  constructor(input: RolloutInput) {
    this.state = input.resume?.state ?? initialState(input);
  }

  /** What the `state` query answers. */
  query(): RolloutResult {
    return { ...this.state, ...(this.position ? { position: this.position } : {}) };
  }

  node(name: string): RolloutNodeState {
    return this.state.nodes.find((n) => n.name === name)!;
  }

  /** Moves a node to a phase (a change only), makes it the current node and reports it. */
  setPhase(n: RolloutNodeState, phase: RolloutNodeState['phase']): void {
    if (n.phase === phase) return;
    n.phase = phase;
    n.updatedAt = new Date().toISOString();
    this.state.currentNode = n.name;
    this.reportProgress();
  }

  /** Appends one effect to the recorded cycle, stamped now. */
  recordEffect(effect: Omit<CycleRecord, 'at'>): void {
    this.state.cycle.push({ at: new Date().toISOString(), ...effect });
  }

  /** Reports progress to the execution, fire and forget: progress must never slow the rollout down. */
  reportProgress(): void {
    void this.signalProgress();
  }

  /** Reports progress and waits until it is delivered (a rollback, continuing as new): the execution must hear it. */
  reportDelivered(): Promise<void> {
    return this.signalProgress();
  }

  private signalProgress(): Promise<void> {
    const parent = workflowInfo().parent;
    if (!parent) return Promise.resolve();
    const { cycle: _cycle, ...rollout } = this.state;
    return getExternalWorkflowHandle(parent.workflowId, parent.runId)
      .signal(rolloutProgressSignal, { environmentType: this.state.environmentType, rollout })
      .catch(() => undefined);
  }
}

function initialState(input: RolloutInput): RolloutResult {
  const { environment } = input;
  const pairs = Array.from({ length: environment.pairs }, (_, i) => i + 1);
  return {
    environment: environment.name,
    environmentType: environment.type,
    status: 'RUNNING',
    window: environment.window,
    nodes: [
      ...(input.images.app ? [{ name: AUTHOR_NODE, role: 'author' as const, phase: 'pending' as const, ...placedOn(environment, AUTHOR_NODE) }] : []),
      ...pairs.map((p) => ({ name: pairName(p), role: 'pair' as const, phase: 'pending' as const, ...placedOn(environment, pairName(p)) })),
    ],
    cycle: [],
  };
}

/** A node placed on another engine than its environment's names that engine in the state (`engine`). */
function placedOn(environment: EnvironmentConfig, node: string): { engine?: string } {
  const engine = placementLabel(environment, node);
  return engine ? { engine } : {};
}
