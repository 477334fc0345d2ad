/**
 * pipeline: one long-lived workflow per pipeline. It serializes executions (one runs at a time; a waiting one counts
 * as running), numbers them, remembers the recent ones for re-execution, and continues as new when idle and its
 * history grows.
 */
import {
  ApplicationFailure, ParentClosePolicy, allHandlersFinished, condition, continueAsNew, setHandler, startChild,
  workflowInfo, type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { Refusal } from '../shared/errors';
import { TASK_QUEUE, executionWorkflowId } from '../shared/ids';
import { pipelineStateQuery, startSignal, startUpdate, type StartRequest, type StartResult } from '../shared/messages';
import { PipelineIdKey, PipelineStatusKey, PipelineTriggerKey } from '../shared/search-attributes';
import { MODES, TRIGGERS, type AuditEntry, type ExecutionSummary, type PipelineState } from '../shared/types';
import { quickActivities } from './activity-profiles';
import type { ExecutionResult } from './execution/state';
import { pipelineExecution } from './pipeline-execution';

export interface PipelineInput {
  pipelineId: string;
  /** Carried over by continue-as-new. */
  carried?: Pick<PipelineState, 'executions' | 'nextExecutionNumber' | 'audit'>;
}

const KEPT_EXECUTIONS = 20;

function startProblem(request: unknown): string | undefined {
  if (typeof request !== 'object' || request === null) return 'start takes one object argument, e.g. {"by": "alice"}';
  const { by, trigger, mode } = request as Record<string, unknown>;
  if (typeof by !== 'string' || !by.trim() || by.length > 100) return 'start needs "by": who starts the execution';
  if (trigger !== undefined && (!TRIGGERS.includes(trigger as never) || trigger === 'RE_EXECUTE')) {
    return `trigger must be one of MANUAL, ON_COMMIT, PUSH_UPGRADES (got ${JSON.stringify(trigger)})`;
  }
  if (mode !== undefined && !MODES.includes(mode as never)) return `mode must be NORMAL or EMERGENCY (got ${JSON.stringify(mode)})`;
  return undefined;
}

export async function pipeline(input: PipelineInput): Promise<void> {
  const state: PipelineState = {
    pipelineId: input.pipelineId,
    executions: input.carried?.executions ?? [],
    nextExecutionNumber: input.carried?.nextExecutionNumber ?? 1,
    audit: input.carried?.audit ?? [],
  };
  let running: { summary: ExecutionSummary; handle: ChildWorkflowHandle<typeof pipelineExecution> } | undefined;
  let starting = false;

  const audit = (entry: Omit<AuditEntry, 'at'>) => {
    state.audit.push({ at: new Date().toISOString(), ...entry });
    if (state.audit.length > 100) state.audit.splice(0, state.audit.length - 100);
  };

  setHandler(pipelineStateQuery, () => ({ ...state, running: running?.summary }));

  async function start(request: StartRequest, via: 'signal' | 'update'): Promise<StartResult> {
    const problem = startProblem(request)
      ?? (running || starting ? `pipeline ${state.pipelineId} is busy: execution ${running?.summary.id ?? state.nextExecutionNumber - 1} is running (status ${running?.summary.status ?? 'starting'})` : undefined);
    if (problem) {
      audit({ by: String(request?.by ?? '(unknown)'), action: 'start', via, outcome: 'refused', reason: problem });
      throw ApplicationFailure.create({ type: problem.includes('busy') ? Refusal.Busy : Refusal.InvalidRequest, message: problem, nonRetryable: true });
    }
    starting = true; // set before the first await: a second start in the meantime is refused
    try {
      const config = await quickActivities.loadPipeline({ pipelineId: state.pipelineId });
      const executionId = String(state.nextExecutionNumber);
      state.nextExecutionNumber += 1;
      const trigger = request.trigger ?? 'MANUAL';
      const workflowId = executionWorkflowId(state.pipelineId, executionId);
      const handle = await startChild(pipelineExecution, {
        workflowId,
        taskQueue: TASK_QUEUE,
        args: [{ pipelineId: state.pipelineId, executionId, trigger, mode: request.mode ?? 'NORMAL', user: request.by, config }],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `${config.name}: execution ${executionId} (${trigger}) started by ${request.by}`,
        staticDetails: `Pipeline **${config.id}** · repository ${config.repository} · branch ${config.branch} · type ${config.type}`,
        typedSearchAttributes: [
          { key: PipelineIdKey, value: state.pipelineId },
          { key: PipelineTriggerKey, value: trigger },
          { key: PipelineStatusKey, value: 'NOT_STARTED' },
        ],
      });
      running = {
        handle,
        summary: { id: executionId, workflowId, status: 'RUNNING', trigger, user: request.by, createdAt: new Date().toISOString() },
      };
      audit({ by: request.by, action: 'start', via, outcome: 'accepted', details: { executionId, trigger } });
      return { executionId, workflowId };
    } catch (err) {
      const message = (err as { cause?: { message?: string }; message?: string }).cause?.message ?? (err as Error).message;
      audit({ by: request.by, action: 'start', via, outcome: 'refused', reason: message });
      throw ApplicationFailure.create({ type: Refusal.InvalidRequest, message, nonRetryable: true });
    } finally {
      starting = false;
    }
  }

  setHandler(startUpdate, (request) => start(request, 'update'), {
    validator: (request) => {
      const problem = startProblem(request);
      if (problem) throw ApplicationFailure.create({ type: Refusal.InvalidRequest, message: problem, nonRetryable: true });
    },
  });
  setHandler(startSignal, async (request) => {
    await start(request, 'signal').catch(() => undefined); // refusals are in the audit log
  });

  for (;;) {
    await condition(() => running !== undefined || shouldContinueAsNew());
    if (running) {
      const current = running;
      let result: ExecutionResult | undefined;
      try {
        result = await current.handle.result();
      } catch {
        result = undefined; // terminated or failed from outside: recorded as ERROR
      }
      const prodDeploy = result?.state.steps.find((s) => s.action === 'deploy' && s.environmentType === 'prod');
      state.executions.push({
        ...current.summary,
        status: result?.status ?? 'ERROR',
        finishedAt: new Date().toISOString(),
        prodDeployStatus: prodDeploy && prodDeploy.status !== 'NOT_STARTED' ? prodDeploy.status : undefined,
        artifacts: result?.state.artifacts,
        commitId: result?.state.commitId,
      });
      if (state.executions.length > KEPT_EXECUTIONS) state.executions.splice(0, state.executions.length - KEPT_EXECUTIONS);
      running = undefined;
    }
    if (shouldContinueAsNew()) {
      await condition(() => allHandlersFinished() && !starting);
      if (!running) {
        await continueAsNew<typeof pipeline>({
          pipelineId: state.pipelineId,
          carried: { executions: state.executions, nextExecutionNumber: state.nextExecutionNumber, audit: state.audit },
        });
      }
    }
  }
}

function shouldContinueAsNew(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > 2000;
}
