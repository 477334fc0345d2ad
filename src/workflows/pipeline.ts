/**
 * pipeline: one long-lived workflow per pipeline. It serializes executions (one runs at a time; a waiting one counts
 * as running), numbers them, remembers the recent ones for re-execution, and continues as new when idle and its
 * history grows.
 */
import {
  ApplicationFailure, ParentClosePolicy, allHandlersFinished, condition, continueAsNew, patched, setHandler, startChild,
  workflowInfo, type ChildWorkflowHandle,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { Refusal, type RefusalReason } from '../shared/errors';
import { TASK_QUEUE, executionWorkflowId } from '../shared/ids';
import {
  pipelineStateQuery, reExecuteSignal, reExecuteUpdate, startSignal, startUpdate,
  type ReExecuteRequest, type StartRequest, type StartResult,
} from '../shared/messages';
import { invalidRequest, reExecuteRefusal, refusal } from '../shared/refusals';
import { PipelineIdKey, PipelineStatusKey, PipelineTriggerKey } from '../shared/search-attributes';
import {
  MODES, TRIGGERS, type AuditEntry, type ExecutionSummary, type PipelineConfig, type PipelineState, type Trigger,
} from '../shared/types';
import { quickActivities } from './activity-profiles';
import { appendAuditEntry } from './audit-log';
import { emergencyStartProblem } from './execution/decision-proof';
import { durationMs } from './execution/message-rules';
import type { ExecutionInput, ExecutionResult } from './execution/state';
import { pipelineExecution } from './pipeline-execution';

export interface PipelineInput {
  pipelineId: string;
  /** Carried over by continue-as-new. */
  carried?: Pick<PipelineState, 'executions' | 'nextExecutionNumber' | 'audit' | 'refusalsDropped'> & { lastConfig?: PipelineConfig; lastSeenCommit?: string };
}

const KEPT_EXECUTIONS = 20;
/** Who starts an ON_COMMIT execution until its commit's author is known: the pipeline's own poller. */
const ON_COMMIT_STARTER = 'on-commit';
const PIPELINE_ACCEPTED_KEPT = 100;

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
    ...(input.carried?.refusalsDropped ? { refusalsDropped: input.carried.refusalsDropped } : {}),
  };
  let running: { summary: ExecutionSummary; handle: ChildWorkflowHandle<typeof pipelineExecution> } | undefined;
  let starting = false;
  let lastConfig = input.carried?.lastConfig;
  let lastSeenCommit = input.carried?.lastSeenCommit;
  let pollInterval = lastConfig?.triggers?.onCommit?.pollInterval;

  const audit = (entry: Omit<AuditEntry, 'at'>) => {
    // The pipeline lives for ever: its own accepted entries (starts, re-executes) are bounded too; each execution
    // keeps every decision in its own log.
    appendAuditEntry(state, { at: new Date().toISOString(), ...entry }, { acceptedKept: PIPELINE_ACCEPTED_KEPT });
  };

  setHandler(pipelineStateQuery, () => ({ ...state, running: running?.summary }));

  async function start(request: StartRequest, via: 'signal' | 'update'): Promise<StartResult> {
    const trigger = request.trigger ?? 'MANUAL';
    const last = state.executions.at(-1);
    const problem = invalidRequest(startProblem(request)) ?? busyRefusal()
      ?? (trigger === 'PUSH_UPGRADES' && !last?.commitId
        ? refusal(Refusal.NotAllowedNow, `pipeline ${state.pipelineId} has no execution whose commit a push update could rebuild`) : undefined);
    if (problem) refuse('start', request, via, problem);
    // A push update rebuilds the commit of the last execution on the updated base image, whatever the branch says now.
    const pinnedCommit = trigger === 'PUSH_UPGRADES' ? last!.commitId : undefined;
    return launch('start', request.by, via, trigger, request.mode ?? 'NORMAL', undefined, pinnedCommit, undefined, request);
  }

  async function reExecute(request: ReExecuteRequest, via: 'signal' | 'update'): Promise<StartResult> {
    const problem = invalidRequest(startProblem(request)) ?? reExecuteRefusal(state, running !== undefined || starting, request);
    if (problem) refuse('reExecute', request, via, problem);
    const last = state.executions.at(-1)!;
    return launch('reExecute', request.by, via, 'RE_EXECUTE', 'NORMAL', {
      executionId: last.id, artifacts: last.artifacts!, commitId: last.commitId,
    });
  }

  function busyRefusal(): RefusalReason | undefined {
    if (!running && !starting) return undefined;
    return refusal(Refusal.Busy, `pipeline ${state.pipelineId} is busy: execution ${running?.summary.id ?? state.nextExecutionNumber - 1} is running (status ${running?.summary.status ?? 'starting'})`);
  }

  function refuse(action: string, request: { by?: unknown }, via: 'signal' | 'update', { type, message }: RefusalReason): never {
    audit({ by: String(request?.by ?? '(unknown)'), action, via, outcome: 'refused', reason: message });
    throw ApplicationFailure.create({ type, message, nonRetryable: true });
  }

  async function launch(
    action: string, by: string, via: 'signal' | 'update', trigger: Trigger, mode: ExecutionInput['mode'],
    reExecuteOf?: ExecutionInput['reExecuteOf'], pinnedCommit?: string, configJustRead?: PipelineConfig, startRequest?: StartRequest,
  ): Promise<StartResult> {
    starting = true; // set before the first await: a second start in the meantime is refused
    try {
      // A re-execution deploys with the same configuration as the execution it repeats.
      const config = reExecuteOf && lastConfig ? lastConfig
        : configJustRead ?? await quickActivities.loadPipeline({ pipelineId: state.pipelineId });
      const executionId = String(state.nextExecutionNumber);
      const emergency = mode === 'EMERGENCY'
        ? emergencyStartProblem({ pipeline: state.pipelineId, execution: executionId, request: { ...startRequest, by } }, config.trust, Date.now())
        : undefined;
      if (emergency) throw ApplicationFailure.create({ type: Refusal.Forbidden, message: emergency, nonRetryable: true });
      state.nextExecutionNumber += 1;
      // Whoever tells of a commit is audited here; the execution's starter is the commit's author, found once it
      // resolves the commit (until then, on-commit), so nobody can name another starter.
      const starter = trigger === 'ON_COMMIT' ? ON_COMMIT_STARTER : by;
      const workflowId = executionWorkflowId(state.pipelineId, executionId);
      const handle = await startChild(pipelineExecution, {
        workflowId,
        taskQueue: TASK_QUEUE,
        args: [{ pipelineId: state.pipelineId, executionId, trigger, mode, user: starter, config, reExecuteOf, ...(pinnedCommit ? { pinnedCommit } : {}) }],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `${config.name}: execution ${executionId} (${trigger}${reExecuteOf ? ` of ${reExecuteOf.executionId}` : ''}) started by ${starter}`,
        staticDetails: `Pipeline **${config.id}** · repository ${config.repository} · branch ${config.branch} · type ${config.type} · mode ${mode}`,
        typedSearchAttributes: [
          { key: PipelineIdKey, value: state.pipelineId },
          { key: PipelineTriggerKey, value: trigger },
          { key: PipelineStatusKey, value: 'NOT_STARTED' },
        ],
      });
      lastConfig = config;
      pollInterval = config.triggers?.onCommit?.pollInterval;
      running = {
        handle,
        summary: { id: executionId, workflowId, status: 'RUNNING', trigger, user: starter, createdAt: new Date().toISOString() },
      };
      audit({ by, action, via, outcome: 'accepted', details: { executionId, trigger, ...(reExecuteOf ? { of: reExecuteOf.executionId } : {}) } });
      return { executionId, workflowId };
    } catch (err) {
      const message = (err as { cause?: { message?: string }; message?: string }).cause?.message ?? (err as Error).message;
      audit({ by, action, via, outcome: 'refused', reason: message });
      const type = err instanceof ApplicationFailure && err.type ? err.type : Refusal.InvalidRequest;
      throw ApplicationFailure.create({ type, message, nonRetryable: true });
    } finally {
      starting = false;
    }
  }

  /** Each pipeline message is an update (validated, answers the caller) and a signal (refusals go to the audit log). */
  const both = <Req,>(
    update: UpdateDefinition<StartResult, [Req]>, signal: SignalDefinition<[Req]>,
    handle: (request: Req, via: 'signal' | 'update') => Promise<StartResult>,
  ) => {
    setHandler(update, (request) => handle(request, 'update'), {
      validator: (request) => {
        const problem = startProblem(request);
        if (problem) throw ApplicationFailure.create({ type: Refusal.InvalidRequest, message: problem, nonRetryable: true });
      },
    });
    setHandler(signal, async (request) => {
      await handle(request, 'signal').catch(() => undefined);
    });
  };
  both(startUpdate, startSignal, start);
  both(reExecuteUpdate, reExecuteSignal, reExecute);

  /**
   * ON_COMMIT: while idle, look at the branch head every poll interval (when the pipeline configures it) and start
   * an execution for a commit no execution has built yet.
   */
  async function pollForCommit(): Promise<void> {
    const config = await quickActivities.loadPipeline({ pipelineId: state.pipelineId }).catch(() => undefined);
    pollInterval = config?.triggers?.onCommit?.pollInterval;
    if (!config || !pollInterval || running || starting) return;
    const { commitId } = await quickActivities.headCommit({ repository: config.repository, branch: config.branch });
    const built = state.executions.at(-1)?.commitId;
    if (commitId === built || commitId === lastSeenCommit) return;
    lastSeenCommit = commitId;
    // The configuration read above starts the execution; histories from before read it a second time in launch.
    const configJustRead = patched('on-commit-reads-config-once') ? config : undefined;
    await launch('start', ON_COMMIT_STARTER, 'update', 'ON_COMMIT', 'NORMAL', undefined, undefined, configJustRead).catch(() => undefined); // refusals are audited
  }

  for (;;) {
    const wake = () => running !== undefined || shouldContinueAsNew();
    // Only a pipeline that polls for commits needs a timer here (and only its histories have one).
    const woke = pollInterval ? await condition(wake, durationMs(pollInterval)) : (await condition(wake), true);
    if (!woke && !running) await pollForCommit();
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
        // An ON_COMMIT execution learns its starter (the commit's author) only once it runs.
        user: result?.state.user ?? current.summary.user,
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
          carried: { executions: state.executions, nextExecutionNumber: state.nextExecutionNumber, audit: state.audit, ...(state.refusalsDropped ? { refusalsDropped: state.refusalsDropped } : {}), lastConfig, lastSeenCommit },
        });
      }
    }
  }
}

function shouldContinueAsNew(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength > 2000;
}
