/**
 * Benchmarks 2 and 6, on the same executions (pipeline `lat`, fake activities, the real workflows), one at a time:
 *
 * 2. Update to action: an execution waits at `approval`; `Stagecoach.send(approve)` is accepted, then
 *    `send(schedule, now)`; the next activity is the Production rollout's first (prepareEnvironment, in the
 *    rollingDeployment child), whose start the fake activity records with Date.now() in the worker process.
 *    Reported: approve accepted → that activity (the whole path, including the schedule message's round trip) and
 *    schedule accepted → that activity (one update to its action).
 * 6. Re-execute vs full execution: after some of those executions, `Stagecoach.reExecute` (validate, build = copy
 *    of the previous artifacts, deploy prod); wall times from the workflows' own start and close times.
 */
import { Stagecoach } from '../../src/client/operations';
import { executionWorkflowId, rolloutWorkflowId } from '../../src/shared/ids';
import type { ExecutionResult } from '../../src/workflows/execution/state';
import { STARTED_BY, fetchEvents, release, scheduledActivityTypes, startExecution, waitForState, waitingFor } from '../lib/drive';
import { sleep, summarize } from '../lib/stats';
import type { BenchContext, BenchResult } from '../lib/types';

const PIPELINE = 'lat';

async function workflowSpanMs(stagecoach: Stagecoach, workflowId: string): Promise<number> {
  const d = await stagecoach.client.workflow.getHandle(workflowId).describe();
  if (!d.closeTime) throw new Error(`${workflowId} is still running`);
  return d.closeTime.getTime() - d.startTime.getTime();
}

const stepMs = (state: ExecutionResult['state'], action: string) => {
  const step = state.steps.find((s) => s.action === action);
  return step?.startedAt && step.finishedAt ? Date.parse(step.finishedAt) - Date.parse(step.startedAt) : Number.NaN;
};

export async function benchLatency(ctx: BenchContext): Promise<BenchResult[]> {
  const reps = ctx.size === 'small' ? 5 : 20;
  const reExecutions = ctx.size === 'small' ? 2 : 5;
  const worker = await ctx.sharedWorker();
  const stagecoach = new Stagecoach(ctx.client);

  const approveToActivity: number[] = [];
  const scheduleToActivity: number[] = [];
  const full: Array<{ executionId: string; spanMs: number; busyMs: number; clientMs: number }> = [];
  const reExec: Array<{ executionId: string; spanMs: number; clientMs: number; copyStepMs: number; activities: Record<string, number> }> = [];

  // The pipeline workflow records an ended execution just after it ends: a start before that is refused as busy.
  const waitIdle = async () => {
    for (let tries = 0; (await stagecoach.pipelineState(PIPELINE).catch(() => undefined))?.running && tries < 500; tries++) await sleep(10);
  };
  // One warm-up execution (not measured): the first pays for loading workflow code into the worker.
  for (let i = 0; i <= reps; i++) {
    const warmUp = i === 0;
    await waitIdle();
    const clientStarted = Date.now();
    const { executionId } = await startExecution(ctx.client, PIPELINE);
    const atApproval = await waitForState(stagecoach, PIPELINE, executionId, waitingFor('approval'));
    if (atApproval.status !== 'RUNNING') throw new Error(`execution ${executionId} ended ${atApproval.status} before its approval: ${atApproval.reason}`);
    const { approveAcceptedAt, scheduleAcceptedAt } = await release(stagecoach, PIPELINE, executionId, atApproval);
    const handle = ctx.client.workflow.getHandle(executionWorkflowId(PIPELINE, executionId));
    const result = await handle.result() as ExecutionResult;
    const clientMs = Date.now() - clientStarted;
    if (result.status !== 'FINISHED') throw new Error(`execution ${executionId} ended ${result.status}: ${result.reason}`);
    const [first] = await worker.firstStarts([rolloutWorkflowId(PIPELINE, executionId, 'prod')]);
    if (!first) throw new Error(`no activity recorded for the production rollout of execution ${executionId}`);
    if (warmUp) continue;
    approveToActivity.push(first.at - approveAcceptedAt);
    scheduleToActivity.push(first.at - scheduleAcceptedAt);

    const spanMs = await workflowSpanMs(stagecoach, handle.workflowId);
    // The time the execution waited for people (here: for this harness's immediate approve and schedule).
    const approval = result.state.steps.find((s) => s.action === 'approval');
    const schedule = result.state.steps.find((s) => s.action === 'schedule');
    const waitedMs = Date.parse(schedule!.finishedAt!) - Date.parse(approval!.startedAt!);
    full.push({ executionId, spanMs, busyMs: spanMs - waitedMs, clientMs });

    if (reExec.length < reExecutions) {
      await waitIdle();
      const reStarted = Date.now();
      const again = await stagecoach.reExecute(PIPELINE, { by: 'alice' });
      const reHandle = ctx.client.workflow.getHandle(again.workflowId);
      const reResult = await reHandle.result() as ExecutionResult;
      const reClientMs = Date.now() - reStarted;
      if (reResult.status !== 'FINISHED') throw new Error(`re-execution ${again.executionId} ended ${reResult.status}: ${reResult.reason}`);
      const activities = scheduledActivityTypes(await fetchEvents(ctx.client, again.workflowId));
      reExec.push({ executionId: again.executionId, spanMs: await workflowSpanMs(stagecoach, again.workflowId), clientMs: reClientMs, copyStepMs: stepMs(reResult.state, 'build'), activities });
    }
  }

  const approveSummary = summarize(approveToActivity);
  const scheduleSummary = summarize(scheduleToActivity);
  const fullSpan = summarize(full.map((f) => f.spanMs));
  const fullBusy = summarize(full.map((f) => f.busyMs));
  const reSpan = summarize(reExec.map((r) => r.spanMs));
  const buildActivitiesInReExec = reExec.map((r) => (r.activities.buildAndTest ?? 0) + (r.activities.buildImages ?? 0));
  return [{
    id: 2,
    name: 'Update to action latency',
    scale: `M = ${reps} executions, one at a time`,
    metrics: [
      { name: 'approve accepted → next activity p50', value: approveSummary.p50, unit: 'ms' },
      { name: 'approve accepted → next activity p95', value: approveSummary.p95, unit: 'ms', target: { op: '<=', value: 250, text: 'p95 ≤ 250 ms' }, note: 'includes sending schedule --now right after' },
      { name: 'schedule accepted → next activity p50', value: scheduleSummary.p50, unit: 'ms' },
      { name: 'schedule accepted → next activity p95', value: scheduleSummary.p95, unit: 'ms', target: { op: '<=', value: 250, text: 'p95 ≤ 250 ms' } },
    ],
    details: { approveToActivityMs: approveToActivity, scheduleToActivityMs: scheduleToActivity, approve: approveSummary, schedule: scheduleSummary, startedBy: STARTED_BY },
  }, {
    id: 6,
    name: 'Re-execute vs full execution',
    scale: `${full.length} full executions, ${reExec.length} re-executions (fake activities)`,
    metrics: [
      { name: 'full execution p50 (minus approval/schedule waits)', value: fullBusy.p50, unit: 'ms' },
      { name: 're-execution p50', value: reSpan.p50, unit: 'ms' },
      { name: 're-execution / full execution', value: reSpan.p50 / fullBusy.p50, unit: 'ratio' },
      { name: 'build (copy) step of a re-execution, max', value: Math.max(...reExec.map((r) => r.copyStepMs)), unit: 'ms', note: 'workflow time; the copy schedules no activity' },
      { name: 'build activities scheduled by re-executions', value: buildActivitiesInReExec.reduce((a, b) => a + b, 0), unit: 'activities' },
    ],
    details: { full, fullSpan, fullBusy, reExecutions: reExec, reSpan },
  }];
}
