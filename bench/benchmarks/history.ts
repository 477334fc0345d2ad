/**
 * Benchmark 5: history size as the Production topology grows. One execution per size (pipelines `hist-p<P>`, P
 * Production pairs, fake activities, the real workflows) from start to the end of the Production rollout; then the
 * events of every workflow involved: the pipeline, the execution, and each rollout (a child workflow per
 * environment). Temporal warns at 10,240 events and fails a workflow at 51,200.
 */
import { Stagecoach } from '../../src/client/operations';
import { executionWorkflowId, pipelineWorkflowId, rolloutWorkflowId } from '../../src/shared/ids';
import type { ExecutionResult } from '../../src/workflows/execution/state';
import { eventKinds, fetchEvents, fetchRuns, release, scheduledActivityTypes, startExecution, waitForState, waitingFor, workflowTaskCauses } from '../lib/drive';
import type { BenchContext, BenchResult, Metric } from '../lib/types';

const WARN_EVENTS = 10_240;

export async function benchHistory(ctx: BenchContext): Promise<BenchResult> {
  const sizes = ctx.size === 'small' ? [2, 10] : [2, 10, 50];
  await ctx.sharedWorker();
  const stagecoach = new Stagecoach(ctx.client);
  // prodRollout: the largest history of the Production rollout's runs (it continues as new past its history limit);
  // prodRolloutRuns and prodRolloutTotal: how many runs, and their events together.
  const rows: Array<{
    pairs: number; pipeline: number; execution: number; stageRollout: number; prodRollout: number; prodRolloutRuns: number;
    prodRolloutTotal: number; wallMs: number;
  }> = [];
  const kinds: Record<string, {
    prodRollout: Record<string, number>; execution: Record<string, number>;
    /** What woke the prod rollout for each of its workflow tasks, and the activities it scheduled, by type. */
    prodRolloutWorkflowTaskCauses: Record<string, number>; prodRolloutActivities: Record<string, number>;
  }> = {};

  for (const pairs of sizes) {
    const pipelineId = `hist-p${pairs}`;
    const started = Date.now();
    const { executionId } = await startExecution(ctx.client, pipelineId);
    const atApproval = await waitForState(stagecoach, pipelineId, executionId, waitingFor('approval'), { intervalMs: 50 });
    await release(stagecoach, pipelineId, executionId, atApproval);
    const result = await ctx.client.workflow.getHandle(executionWorkflowId(pipelineId, executionId)).result() as ExecutionResult;
    if (result.status !== 'FINISHED') throw new Error(`${pipelineId} execution ${executionId} ended ${result.status}: ${result.reason}`);
    const wallMs = Date.now() - started;
    // The pipeline workflow records the ended execution: wait for that before counting its events.
    for (let tries = 0; (await stagecoach.pipelineState(pipelineId)).running && tries < 500; tries++) await new Promise((r) => setTimeout(r, 10));
    const count = async (id: string) => (await fetchEvents(ctx.client, id)).length;
    const prodRuns = await fetchRuns(ctx.client, rolloutWorkflowId(pipelineId, executionId, 'prod'));
    const prodEvents = prodRuns.flat();
    kinds[pairs] = {
      prodRollout: eventKinds(prodEvents),
      execution: eventKinds(await fetchEvents(ctx.client, executionWorkflowId(pipelineId, executionId))),
      prodRolloutWorkflowTaskCauses: workflowTaskCauses(prodEvents),
      prodRolloutActivities: scheduledActivityTypes(prodEvents),
    };
    rows.push({
      pairs,
      pipeline: await count(pipelineWorkflowId(pipelineId)),
      execution: await count(executionWorkflowId(pipelineId, executionId)),
      stageRollout: await count(rolloutWorkflowId(pipelineId, executionId, 'stage')),
      prodRollout: Math.max(...prodRuns.map((run) => run.length)),
      prodRolloutRuns: prodRuns.length,
      prodRolloutTotal: prodEvents.length,
      wallMs,
    });
    ctx.log(`  ${pairs} pairs: ${JSON.stringify(rows.at(-1))}`);
  }

  // Growth per Production pair, from the two largest sizes; and where each history would reach the warning.
  const [a, b] = rows.slice(-2);
  const perPair = (key: 'prodRolloutTotal' | 'execution') => (b[key] - a[key]) / (b.pairs - a.pairs);
  const pairsAtWarning = (key: 'prodRolloutTotal' | 'execution') => Math.floor(b.pairs + (WARN_EVENTS - b[key]) / perPair(key));
  const largest = rows.at(-1)!;
  const metrics: Metric[] = rows.map((r) => ({
    name: `largest history, ${r.pairs} pairs (${r.prodRollout >= r.execution ? 'prod rollout' : 'execution'})`,
    value: Math.max(r.pipeline, r.execution, r.stageRollout, r.prodRollout),
    unit: 'events',
    ...(r.pairs === 50 ? { target: { op: '<' as const, value: 4096, text: '50-pair rollout < 4,096 events per history' } } : {}),
  }));
  metrics.push(
    { name: 'prod rollout events per pair (all runs)', value: perPair('prodRolloutTotal'), unit: 'events' },
    { name: `prod rollout runs (continued as new), ${largest.pairs} pairs`, value: largest.prodRolloutRuns, unit: 'runs' },
    { name: 'execution events per prod pair', value: perPair('execution'), unit: 'events' },
    { name: 'pairs at which one rollout run would reach 10,240 without continue-as-new', value: pairsAtWarning('prodRolloutTotal'), unit: 'pairs', note: 'extrapolated' },
    { name: `all histories below 10,240 (${largest.pairs} pairs)`, value: Math.max(largest.pipeline, largest.execution, largest.stageRollout, largest.prodRollout) < WARN_EVENTS ? 1 : 0, unit: 'bool' },
  );
  return {
    id: 5,
    name: 'History size vs Production pairs',
    scale: `Production of ${sizes.join(', ')} pairs (Stage 1 pair)`,
    metrics,
    details: { rows, eventKinds: kinds, perPair: { prodRollout: perPair('prodRolloutTotal'), execution: perPair('execution') }, pairsAtWarning: { prodRollout: pairsAtWarning('prodRolloutTotal'), execution: pairsAtWarning('execution') } },
  };
}
