/**
 * Every signal, update and query of Stagecoach's workflows. Each execution message exists twice under one name:
 * as a signal (usable from the Temporal Web UI and `temporal workflow signal`) and as an update with a validator
 * (used by the CLI and API, which learn at once whether it was accepted). Each takes one object argument.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CloudEvent } from './events';
import type { DeploymentEnded, KeeperPauseRequest, KeeperPauseResult, KeeperState } from './keeper';
import type {
  EnvironmentType, ExecutionMode, ExecutionState, PipelineState, RolloutResult, RolloutState, Trigger,
} from './types';

export interface ApproveRequest { by: string; comment?: string }
export interface RejectRequest { by: string; reason?: string }
/** Either `now: true` or `at` (ISO 8601, in the future and within the step's waiting limit). */
export interface ScheduleRequest { by: string; at?: string; now?: boolean }
export interface OverrideRequest { by: string; metrics: string[] }
export interface CancelRequest { by: string; reason?: string }

/** `proof`: a start in EMERGENCY mode, in a signed pipeline, is signed (shared/identity) for the execution it opens. */
export interface StartRequest { by: string; trigger?: Trigger; mode?: ExecutionMode; proof?: unknown }
/** `executionId`, when given, must be the pipeline's last execution (the API re-executes a named one). */
export interface ReExecuteRequest { by: string; executionId?: string }

/** What an accepted update answers. */
export interface MessageAck { accepted: true; message: string }
export interface StartResult { executionId: string; workflowId: string }

// Execution messages
export const approveSignal = defineSignal<[ApproveRequest]>('approve');
export const approveUpdate = defineUpdate<MessageAck, [ApproveRequest]>('approve');
export const rejectSignal = defineSignal<[RejectRequest]>('reject');
export const rejectUpdate = defineUpdate<MessageAck, [RejectRequest]>('reject');
export const scheduleSignal = defineSignal<[ScheduleRequest]>('schedule');
export const scheduleUpdate = defineUpdate<MessageAck, [ScheduleRequest]>('schedule');
export const overrideSignal = defineSignal<[OverrideRequest]>('override');
export const overrideUpdate = defineUpdate<MessageAck, [OverrideRequest]>('override');
export const cancelSignal = defineSignal<[CancelRequest]>('cancel');
export const cancelUpdate = defineUpdate<MessageAck, [CancelRequest]>('cancel');
export const executionStateQuery = defineQuery<ExecutionState>('state');

/** Sent by a rollingDeployment child to its execution at every change of a node's cycle. */
export interface RolloutProgress { environmentType: EnvironmentType; rollout: RolloutState }
export const rolloutProgressSignal = defineSignal<[RolloutProgress]>('rolloutProgress');
/** On a rollingDeployment: its state and the recorded cycle of effects. */
export const rolloutStateQuery = defineQuery<RolloutResult>('state');

// Event delivery (one eventDelivery workflow per execution that has webhooks)
export const deliverEventsSignal = defineSignal<[{ events: CloudEvent[] }]>('deliverEvents');
export const closeEventsSignal = defineSignal<[{ by: string }]>('closeEvents');
export interface EventDeliveryState { delivered: number; pending: number; failed: Array<{ id: string; url: string; error: string }> }
export const eventDeliveryStateQuery = defineQuery<EventDeliveryState>('state');

// Pipeline messages
export const startSignal = defineSignal<[StartRequest]>('start');
export const startUpdate = defineUpdate<StartResult, [StartRequest]>('start');
export const reExecuteSignal = defineSignal<[ReExecuteRequest]>('reExecute');
export const reExecuteUpdate = defineUpdate<StartResult, [ReExecuteRequest]>('reExecute');
export const pipelineStateQuery = defineQuery<PipelineState>('state');

/** Execution message names, in the order the CLI lists them. */
export const EXECUTION_ACTIONS = ['approve', 'reject', 'schedule', 'override', 'cancel'] as const;
export type ExecutionAction = (typeof EXECUTION_ACTIONS)[number];

// Environment keeper (one environmentKeeper workflow per environment: shared/keeper.ts)
/** A deployment of the environment starts: the keeper finishes the heal it runs, if any, and pauses (answered then). */
export const keeperPauseUpdate = defineUpdate<KeeperPauseResult, [KeeperPauseRequest]>('pause');
/** A deployment of the environment ended: the keeper resumes, on its new release when it finished. */
export const keeperDeploymentEndedSignal = defineSignal<[DeploymentEnded]>('deploymentEnded');
export const keeperStateQuery = defineQuery<KeeperState>('state');
/** `pairs`: the environment's new number of pairs, from the release's images; `proof` as every decision's (shared/identity). */
export interface ScaleRequest { by: string; pairs: number; proof?: unknown }
export const keeperScaleUpdate = defineUpdate<MessageAck, [ScaleRequest]>('scale');
