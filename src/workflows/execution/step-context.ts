/**
 * What every step runner is given and may throw: the step context (config, state, decisions, durable waits), the
 * decisions messages record, and the early end of an execution. A runner records what it did in `step.details` (with a
 * one-line `summary` for the Web UI) and throws to fail; the execution loop owns statuses and times.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { causeChain } from '../../shared/errors';
import type { ScheduleRequest } from '../../shared/messages';
import type { ExecutionState, PipelineConfig, StepState, WaitingState } from '../../shared/types';
import type { ExecutionInput } from './state';

/** Ends the execution early in a chosen way (a reject, a timeout): not an error of Stagecoach. */
export class StopExecution extends Error {
  constructor(readonly executionStatus: 'CANCELLED' | 'FAILED', readonly stepStatus: StepState['status'], reason: string) {
    super(reason);
    this.name = 'StopExecution';
  }
}

export interface ApprovalDecision { approvedBy: string[]; rejected?: { by: string; at: string; reason?: string } }

export interface Decisions {
  /** By step id: approval, managed. */
  approvals: Record<string, ApprovalDecision>;
  schedule?: ScheduleRequest & { receivedAt: string; version: number };
  /** The accepted override of the quality gate's failing important metrics. */
  override?: { by: string; metrics: string[]; at: string };
}

export interface StepContext {
  input: ExecutionInput;
  state: ExecutionState;
  config: PipelineConfig;
  decisions: Decisions;
  /** Waits (durably) until `done()` or the timeout; answers false on timeout. */
  wait(
    step: StepState, waiting: Omit<WaitingState, 'stepId' | 'action' | 'since' | 'expiresAt'>, timeout: string | number,
    done: () => boolean, expiresAt?: string,
  ): Promise<boolean>;
  /** Publishes state to the Web UI (details, search attributes). */
  publish(): void;
  nowMs(): number;
}

export type StepRunner = (ctx: StepContext, step: StepState) => Promise<void>;

/** The details an activity's ApplicationFailure carries (its first detail, when an object). */
export function failureDetails(err: unknown): Record<string, unknown> | undefined {
  const failure = causeChain(err).find((c): c is ApplicationFailure => c instanceof ApplicationFailure);
  const detail = failure?.details?.[0];
  return typeof detail === 'object' && detail !== null ? detail as Record<string, unknown> : undefined;
}

