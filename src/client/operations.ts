/**
 * What a user can do with Stagecoach, on @temporalio/client: start, look, approve, reject, schedule, override,
 * cancel. The CLI, the demo, the tests and the HTTP API all go through here, so they refuse the same things the
 * same way.
 */
import {
  ApplicationFailure, Client, Connection, WithStartWorkflowOperation, WorkflowNotFoundError, WorkflowUpdateFailedError,
} from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { InvalidPipelineConfigError, PipelineNotFoundError, loadPipelineConfig } from '../config/pipeline-config';
import { STATE_DIR } from '../config/paths';
// The preflight checks the branch the way the validate step will: with the git activity's own lookup.
import { createGitActivities } from '../activities/git';
import { ClientFailure, NonRetryable, Refusal, isFailureType } from '../shared/errors';
import { TASK_QUEUE, WORKFLOW_TYPES, executionWorkflowId, keeperWorkflowId, pipelineWorkflowId } from '../shared/ids';
import type { KeeperState } from '../shared/keeper';
import {
  approveUpdate, cancelUpdate, executionStateQuery, keeperScaleUpdate, keeperStateQuery, overrideUpdate, pipelineStateQuery,
  reExecuteUpdate, rejectUpdate, scheduleUpdate, startUpdate, type ExecutionAction, type MessageAck, type ReExecuteRequest,
  type ScaleRequest, type StartRequest, type StartResult,
} from '../shared/messages';
import { PipelineIdKey } from '../shared/search-attributes';
import type { ExecutionState, PipelineConfig, PipelineState } from '../shared/types';
import { StagecoachError, isUnreachable } from './errors';
import { tracingClientInterceptors } from '../observability/tracing';

const UPDATES = { approve: approveUpdate, reject: rejectUpdate, schedule: scheduleUpdate, override: overrideUpdate, cancel: cancelUpdate };

async function connectClient(): Promise<Client> {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const address = connectionOptions.address ?? 'localhost:7233';
  try {
    const connection = await Connection.connect({ ...connectionOptions, address, connectTimeout: '5s' });
    return new Client({ connection, namespace: namespace ?? 'default', interceptors: { workflow: tracingClientInterceptors() } });
  } catch (err) {
    throw new StagecoachError(ClientFailure.Unreachable, `Cannot reach Temporal at ${address}: ${(err as Error).message}\n` +
      'Check that the server runs (`./bin/stagecoach dev` starts one, or `npm run demo`) and that TEMPORAL_ADDRESS, ' +
      'TEMPORAL_NAMESPACE and TLS/API key settings point at it.');
  }
}

/** Turns Temporal's update and lookup failures into a StagecoachError with the workflow's own type and reason. */
function userError(err: unknown, what: string): unknown {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && isFailureType(err.cause.type)) {
    return new StagecoachError(err.cause.type, err.cause.message);
  }
  // A pipeline workflow that ended (it never does by itself) answers like a missing one.
  if (err instanceof WorkflowNotFoundError) return new StagecoachError(ClientFailure.NotFound, `${what} does not exist`);
  return err;
}

/** Identities of the workers polling a task queue for workflow tasks (recently seen by the server). */
export async function workflowPollers(client: Client, taskQueue: string): Promise<string[]> {
  const response = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    // TASK_QUEUE_KIND_NORMAL = 1, TASK_QUEUE_TYPE_WORKFLOW = 1 (temporal.api.enums.v1; @temporalio/proto is not a
    // direct dependency, so the values are spelled out).
    taskQueue: { name: taskQueue, kind: 1 },
    taskQueueType: 1,
  });
  return (response.pollers ?? []).map((p) => p.identity ?? '(unknown)');
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
   * Without a worker polling the task queue, updates wait forever and queries time out after 30 s: say so at once.
   * (A server that does not let us describe the task queue is given the benefit of the doubt.)
   */
  async requireWorker(consequence: string): Promise<void> {
    let pollers: string[];
    try {
      pollers = await workflowPollers(this.client, TASK_QUEUE);
    } catch (err) {
      if (isUnreachable(err)) throw err;
      return;
    }
    if (!pollers.length) {
      throw new StagecoachError(ClientFailure.NoWorker, `no Stagecoach worker polls task queue "${TASK_QUEUE}" on this Temporal server; ${consequence}.\n` +
        'Start one with `./bin/stagecoach worker` (or run `./bin/stagecoach dev`, which starts a dev server and a worker).');
    }
  }

  /**
   * Starts an execution: update-with-start on the pipeline workflow, after the preflight. `preflight` is its result
   * when the caller ran it already (the YAML file is read once), or false to skip it for a caller whose pipeline is
   * configured elsewhere (the benchmarks' fake loadPipeline activity); the execution's own validate step still runs.
   */
  async startExecution(pipelineId: string, request: StartRequest, options: { preflight?: Preflight | false } = {}): Promise<StartResult> {
    if (options.preflight === undefined) await preflight(pipelineId);
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
   * idle; when busy, answers why nothing started (the commit is built by a later execution). Its starter is the
   * commit's author, never the caller.
   */
  async notifyCommit(pipelineId: string): Promise<StartResult | { started: false; reason: string }> {
    try {
      return await this.startExecution(pipelineId, { by: 'on-commit', trigger: 'ON_COMMIT' });
    } catch (err) {
      if (err instanceof StagecoachError && err.type === Refusal.Busy) return { started: false, reason: err.message };
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
      if (e instanceof StagecoachError && e.type === ClientFailure.NotFound) {
        throw new StagecoachError(ClientFailure.NotFound, `pipeline ${pipelineId} has no executions to re-execute`);
      }
      throw e;
    }
  }

  /** The number the pipeline's next execution gets (what a signed start is signed for): 1 before its first. */
  async nextExecutionId(pipelineId: string): Promise<string> {
    try {
      return String((await this.pipelineState(pipelineId)).nextExecutionNumber);
    } catch (err) {
      if (err instanceof StagecoachError && err.type === ClientFailure.NotFound) return '1';
      throw err;
    }
  }

  async pipelineState(pipelineId: string): Promise<PipelineState> {
    try {
      return await this.client.workflow.getHandle(pipelineWorkflowId(pipelineId)).query(pipelineStateQuery);
    } catch (err) {
      const e = userError(err, `pipeline ${pipelineId}`);
      if (e instanceof StagecoachError && e.type === ClientFailure.NotFound) {
        throw new StagecoachError(ClientFailure.NotFound, `pipeline ${pipelineId} has no executions yet (start one with \`stagecoach start ${pipelineId}\`)`);
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
      throw new StagecoachError(Refusal.NotWaiting, `execution ${executionId} has ended (${state?.status ?? described.status.name}): ` +
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

  /** An environment keeper's state; not found (with how one starts) when the environment has none. */
  async keeperState(pipelineId: string, environmentType: string): Promise<KeeperState> {
    try {
      return await this.client.workflow.getHandle(keeperWorkflowId(pipelineId, environmentType)).query(keeperStateQuery);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      throw new StagecoachError(ClientFailure.NotFound, `${pipelineId} ${environmentType} has no keeper: one starts when a deployment ` +
        `finishes there with environments.${environmentType}.keeper.enabled set`);
    }
  }

  /** Asks an environment's keeper to scale it (an update: answered once accepted; refused with the keeper's reason). */
  async scale(pipelineId: string, environmentType: string, request: ScaleRequest): Promise<MessageAck> {
    try {
      return await this.client.workflow.getHandle(keeperWorkflowId(pipelineId, environmentType)).executeUpdate(keeperScaleUpdate, { args: [request] });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new StagecoachError(ClientFailure.NotFound, `${pipelineId} ${environmentType} has no keeper to scale it`);
      throw userError(err, `the keeper of ${pipelineId} ${environmentType}`);
    }
  }

  async close(): Promise<void> {
    await this.client.connection.close();
  }
}

export interface Preflight { config: PipelineConfig; commitId: string }

/**
 * Checks what can be checked before anything starts, with no server: the pipeline exists, its config is valid (the
 * caller's `readAlready`, or read here), its branch exists. A mistake here changes nothing anywhere.
 */
export async function preflight(pipelineId: string, readAlready?: PipelineConfig): Promise<Preflight> {
  const config = readAlready ?? await configuredPipeline(pipelineId);
  try {
    const commitId = await createGitActivities({ stateDir: STATE_DIR }).helpers.branchHead(config);
    return { config, commitId };
  } catch (err) {
    const type = err instanceof ApplicationFailure && isFailureType(err.type) ? err.type : NonRetryable.RepositoryNotFound;
    throw new StagecoachError(type, (err as Error).message);
  }
}

/** The pipeline's configuration as this machine has it; refused as not found, or invalid, in the user's terms. */
export async function configuredPipeline(pipelineId: string): Promise<PipelineConfig> {
  try {
    return await loadPipelineConfig(pipelineId);
  } catch (err) {
    if (err instanceof PipelineNotFoundError) throw new StagecoachError(NonRetryable.PipelineNotFound, err.message);
    if (err instanceof InvalidPipelineConfigError) throw new StagecoachError(NonRetryable.InvalidConfig, err.message);
    throw err;
  }
}
