/**
 * The executions insights are computed from, as their histories hold them: an execution that ended answers with the
 * result it returned (its final state, read from its history; no worker needed), a running one with its `state`
 * query. No second store: Temporal keeps every execution for the namespace's retention period.
 */
import type { Client } from '@temporalio/client';
import { PIPELINE_ID_PATTERN, WORKFLOW_TYPES } from '../shared/ids';
import { executionStateQuery } from '../shared/messages';
import type { ExecutionState } from '../shared/types';
import type { ExecutionResult } from '../workflows/execution/state';

/** Executions read per request at most, newest first: a bound on what one request costs the Temporal server. */
export const MAX_EXECUTIONS = 1000;
/** How many are read at once. */
const CONCURRENCY = 16;
/**
 * Executions that started this long before the range still count: one may wait for its approval and schedule for
 * weeks before it deploys, and the deployment before the range's first decides whether that one is rework.
 */
const LOOKBACK_MS = 31 * 86_400_000;

/** The executions of one pipeline (or all) that may have deployed since `from`, newest first. */
export async function executionsForInsights(client: Client, options: { pipelineId?: string; from: Date }): Promise<ExecutionState[]> {
  if (options.pipelineId !== undefined && !PIPELINE_ID_PATTERN.test(options.pipelineId)) return [];
  const query = [
    `WorkflowType = '${WORKFLOW_TYPES.pipelineExecution}'`,
    `StartTime >= '${new Date(options.from.getTime() - LOOKBACK_MS).toISOString()}'`,
    ...(options.pipelineId ? [`PipelineId = '${options.pipelineId}'`] : []),
  ].join(' AND ');
  const found: Array<{ workflowId: string; runId: string; running: boolean }> = [];
  for await (const w of client.workflow.list({ query })) {
    found.push({ workflowId: w.workflowId, runId: w.runId, running: w.status.name === 'RUNNING' });
    if (found.length >= MAX_EXECUTIONS) break;
  }
  const states: ExecutionState[] = [];
  for (let i = 0; i < found.length; i += CONCURRENCY) {
    const batch = await Promise.all(found.slice(i, i + CONCURRENCY).map(async ({ workflowId, runId, running }) => {
      const handle = client.workflow.getHandle(workflowId, runId);
      try {
        return running ? await handle.query(executionStateQuery) : (await handle.result() as ExecutionResult).state;
      } catch {
        // Terminated or timed out by Temporal itself: no state to count.
        return undefined;
      }
    }));
    states.push(...batch.filter((s): s is ExecutionState => s !== undefined));
  }
  return states;
}
