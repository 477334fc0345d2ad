/**
 * What a user can do with Stagecoach, on @temporalio/client: start, look, approve, reject, schedule, override,
 * cancel. The CLI, the demo, the tests and the HTTP API all go through here, so they refuse the same things the
 * same way.
 */
import {
  Client, Connection, WithStartWorkflowOperation, WorkflowNotFoundError, WorkflowUpdateFailedError,
} from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { loadPipelineConfig } from '../config/pipeline-config';
import { STATE_DIR } from '../config/paths';
import { createGitActivities } from '../activities/git';
import { TASK_QUEUE, WORKFLOW_TYPES, executionWorkflowId, pipelineWorkflowId } from '../shared/ids';
import {
  approveUpdate, cancelUpdate, executionStateQuery, overrideUpdate, pipelineStateQuery, reExecuteUpdate, rejectUpdate,
  scheduleUpdate, startUpdate, type ExecutionAction, type MessageAck, type ReExecuteRequest, type StartRequest,
  type StartResult,
} from '../shared/messages';
import { PipelineIdKey } from '../shared/search-attributes';
import type { ExecutionState, PipelineConfig, PipelineState } from '../shared/types';

export type ErrorKind = 'refused' | 'not-found' | 'invalid' | 'unreachable' | 'busy';

/** An error meant for the user: its message says what is wrong and what to do. */
export class StagecoachError extends Error {
  constructor(readonly kind: ErrorKind, message: string) {
    super(message);
    this.name = 'StagecoachError';
  }
}

const UPDATES = { approve: approveUpdate, reject: rejectUpdate, schedule: scheduleUpdate, override: overrideUpdate, cancel: cancelUpdate };

export async function connectClient(): Promise<Client> {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const address = connectionOptions.address ?? 'localhost:7233';
  try {
    const connection = await Connection.connect({ ...connectionOptions, address, connectTimeout: '5s' });
    return new Client({ connection, namespace: namespace ?? 'default' });
  } catch (err) {
    throw new StagecoachError('unreachable', `Cannot reach Temporal at ${address}: ${(err as Error).message}\n` +
      'Check that the server runs (`./bin/stagecoach dev` starts one, or `npm run demo`) and that TEMPORAL_ADDRESS, ' +
      'TEMPORAL_NAMESPACE and TLS/API key settings point at it.');
  }
}

/** Turns Temporal's update and lookup failures into a StagecoachError with the workflow's own reason. */
function userError(err: unknown, what: string): unknown {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause as { message?: string; type?: string } | undefined;
    const kind: ErrorKind = cause?.type === 'PipelineBusy' ? 'busy' : 'refused';
    // A pipeline workflow that ended (it never does by itself) answers like a missing one.
    return new StagecoachError(kind, cause?.message ?? err.message);
  }
  if (err instanceof WorkflowNotFoundError) return new StagecoachError('not-found', `${what} does not exist`);
  const details = (err as { details?: string; cause?: { message?: string } });
  if (details?.cause?.message && /Update rejected|rejected/i.test(String((err as Error).message))) {
    return new StagecoachError('refused', details.cause.message);
  }
  return err;
}

function isTransientUpdateFailure(err: unknown): boolean {
  const cause = (err as { cause?: { code?: number; details?: string } }).cause;
  return cause?.code === 9 && /unexpected workflow task failure/.test(cause.details ?? '');
}

export class Stagecoach {
  constructor(readonly client: Client) {}

  static async connect(): Promise<Stagecoach> {
    return new Stagecoach(await connectClient());
  }

  /**
   * Checks what can be checked before anything starts: the pipeline exists, its config is valid, its branch exists.
   * A mistake here changes nothing anywhere.
   */
  async preflight(pipelineId: string): Promise<{ config: PipelineConfig; commitId: string }> {
    let config: PipelineConfig;
    try {
      config = await loadPipelineConfig(pipelineId);
    } catch (err) {
      throw new StagecoachError(/Unknown pipeline/.test((err as Error).message) ? 'not-found' : 'invalid', (err as Error).message);
    }
    try {
      const commitId = await createGitActivities({ stateDir: STATE_DIR }).helpers.branchHead(config);
      return { config, commitId };
    } catch (err) {
      throw new StagecoachError('invalid', (err as Error).message);
    }
  }

  /**
   * Starts an execution: update-with-start on the pipeline workflow. `preflight: false` skips the client-side
   * preflight (reading the pipeline's YAML file and its branch on this machine) for a caller whose pipeline is
   * configured elsewhere (the benchmarks' fake loadPipeline activity); the execution's own validate step still runs.
   */
  async startExecution(pipelineId: string, request: StartRequest, options: { preflight?: boolean } = {}): Promise<StartResult> {
    if (options.preflight !== false) await this.preflight(pipelineId);
    const startWorkflowOperation = new WithStartWorkflowOperation(WORKFLOW_TYPES.pipeline, {
      workflowId: pipelineWorkflowId(pipelineId),
      taskQueue: TASK_QUEUE,
      args: [{ pipelineId }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [{ key: PipelineIdKey, value: pipelineId }],
      staticSummary: `Pipeline ${pipelineId}: serializes its executions`,
    });
    try {
      return await this.client.workflow.executeUpdateWithStart(startUpdate, { args: [request], startWorkflowOperation });
    } catch (err) {
      throw userError(err, `pipeline ${pipelineId}`);
    }
  }

  /**
   * A new commit on the pipeline's branch (from a git hook or CI): starts an ON_COMMIT execution when the pipeline is
   * idle; when busy, answers why nothing started (the commit is built by a later execution).
   */
  async notifyCommit(pipelineId: string, by = 'on-commit'): Promise<StartResult | { started: false; reason: string }> {
    try {
      return await this.startExecution(pipelineId, { by, trigger: 'ON_COMMIT' });
    } catch (err) {
      if (err instanceof StagecoachError && err.kind === 'busy') return { started: false, reason: err.message };
      throw err;
    }
  }

  /** Re-executes the production deployment of the pipeline's last execution (same images, same configuration). */
  async reExecute(pipelineId: string, request: ReExecuteRequest): Promise<StartResult> {
    const handle = this.client.workflow.getHandle(pipelineWorkflowId(pipelineId));
    try {
      return await handle.executeUpdate(reExecuteUpdate, { args: [request] });
    } catch (err) {
      const e = userError(err, `pipeline ${pipelineId}`);
      if (e instanceof StagecoachError && e.kind === 'not-found') {
        throw new StagecoachError('not-found', `pipeline ${pipelineId} has no executions to re-execute`);
      }
      throw e;
    }
  }

  /** The number the pipeline's next execution gets (what a signed start is signed for): 1 before its first. */
  async nextExecutionId(pipelineId: string): Promise<string> {
    try {
      return String((await this.pipelineState(pipelineId)).nextExecutionNumber);
    } catch (err) {
      if (err instanceof StagecoachError && err.kind === 'not-found') return '1';
      throw err;
    }
  }

  async pipelineState(pipelineId: string): Promise<PipelineState> {
    try {
      return await this.client.workflow.getHandle(pipelineWorkflowId(pipelineId)).query(pipelineStateQuery);
    } catch (err) {
      const e = userError(err, `pipeline ${pipelineId}`);
      if (e instanceof StagecoachError && e.kind === 'not-found') {
        throw new StagecoachError('not-found', `pipeline ${pipelineId} has no executions yet (start one with \`stagecoach start ${pipelineId}\`)`);
      }
      throw e;
    }
  }

  async executionState(pipelineId: string, executionId: string): Promise<ExecutionState> {
    try {
      return await this.client.workflow.getHandle(executionWorkflowId(pipelineId, executionId)).query(executionStateQuery);
    } catch (err) {
      throw userError(err, `execution ${executionId} of pipeline ${pipelineId}`);
    }
  }

  /** Sends one execution message as an update: answers when accepted, throws a StagecoachError with the reason when refused. */
  async send(pipelineId: string, executionId: string, action: ExecutionAction, request: Record<string, unknown>): Promise<MessageAck> {
    const handle = this.client.workflow.getHandle(executionWorkflowId(pipelineId, executionId));
    let described;
    try {
      described = await handle.describe();
    } catch (err) {
      throw userError(err, `execution ${executionId} of pipeline ${pipelineId}`);
    }
    if (described.status.name !== 'RUNNING') {
      // A closed workflow takes no updates: answer in the execution's own terms.
      const state = await handle.query(executionStateQuery).catch(() => undefined);
      throw new StagecoachError('refused', `execution ${executionId} has ended (${state?.status ?? described.status.name}): ` +
        `nothing waits for ${action}${state?.reason ? ` (${state.reason})` : ''}`);
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await handle.executeUpdate(UPDATES[action] as typeof approveUpdate, { args: [request as never] });
      } catch (err) {
        // The server answers FAILED_PRECONDITION when an update races a workflow task that is just starting (seen
        // on an execution's very first task); the update had no effect, so trying again is safe.
        if (attempt < 4 && isTransientUpdateFailure(err)) {
          await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
          continue;
        }
        throw userError(err, `execution ${executionId} of pipeline ${pipelineId}`);
      }
    }
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }
}
