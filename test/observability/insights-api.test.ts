/**
 * Insights from real executions' histories, without Docker: on the fake worker, three executions of one pipeline
 * (finished, rolled back, finished), then the API's DORA route and `stagecoach insights --json` read them back from
 * Temporal; each figure equals what those executions' own states say.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { buildApi } from '../../src/api/server';
import { main } from '../../src/cli/main';
import { NonRetryable } from '../../src/shared/errors';
import type { ExecutionState } from '../../src/shared/types';
import { startFakeWorker, type FakeWorkerHarness } from '../helpers/fake-worker';
import { hasEnded } from '../helpers/harness';

const TOKEN = 'insights-test-token-0000';
let h: FakeWorkerHarness;
let api: ReturnType<typeof buildApi>;
const states: ExecutionState[] = [];

async function deployToProduction(pipelineId: string): Promise<ExecutionState> {
  const { executionId } = await h.startToApproval(pipelineId);
  await h.approveAndSchedule(pipelineId, executionId);
  const done = await h.waitForExecution(pipelineId, executionId, hasEnded);
  await h.waitForPipelineIdle(pipelineId);
  return done;
}

const prodEnd = (s: ExecutionState) => Date.parse(s.steps.find((st) => st.action === 'deploy' && st.environmentType === 'prod')!.finishedAt!);

beforeAll(async () => {
  h = await startFakeWorker('insights');
  const config = h.definePipeline('insights-app');
  const prod = config.environments.prod.name;
  states.push(await deployToProduction(config.id));
  // The second execution's new publish-2 fails its health check; the first execution's, restored, passes.
  const running = h.world.nodesOf(config.id, prod)['publish-2'].image;
  h.intercept((call) => {
    if (call.activityType !== 'checkHealth') return;
    const node = h.world.nodeServing(call.input.url);
    if (node?.pipelineId === config.id && node.environment === prod && node.node === 'publish-2' && node.image !== running) {
      throw ApplicationFailure.create({ type: NonRetryable.HealthCheckFailed, nonRetryable: true, message: 'publish-2 answers HTTP 500 (fake)' });
    }
  });
  states.push(await deployToProduction(config.id));
  h.intercept(undefined);
  states.push(await deployToProduction(config.id));
  api = buildApi({ stagecoach: h.stagecoach, tokens: { users: [{ name: 'ops', token: TOKEN }] }, logger: false });
});

afterAll(async () => {
  await api?.close();
  await h?.close();
});

const today = () => new Date().toISOString().slice(0, 10);

describe('insights from the executions\' histories', () => {
  it('the API answers each DORA metric with the executions it came from', async () => {
    const [first, rolledBack, restored] = states;
    expect(states.map((s) => s.steps.find((st) => st.action === 'deploy' && st.environmentType === 'prod')?.status)).toEqual(['FINISHED', 'ROLLED_BACK', 'FINISHED']);
    const get = async (query: string) => {
      const res = await api.inject({ method: 'GET', url: `/api/program/1/pipeline/insights-app/dora/metrics?${query}`, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as Array<{ date: string; value: number | null; executions: Array<{ executionId: string; seconds?: number; failed?: boolean }> }>;
    };
    const frequency = await get('metric=deployment_frequency&interval=daily');
    expect(frequency.at(-1)).toMatchObject({ date: today(), value: 2 });
    expect(frequency.at(-1)!.executions.map((c) => c.executionId)).toEqual([first.id, restored.id]);
    const failures = await get('metric=change_failure_rate&interval=all');
    expect(failures).toHaveLength(1);
    expect(failures[0].value).toBeCloseTo(1 / 3, 10);
    expect(failures[0].executions.filter((c) => c.failed).map((c) => c.executionId)).toEqual([rolledBack.id]);
    const restore = await get('metric=time_to_restore_service&interval=all');
    expect(restore[0].value).toBe((prodEnd(restored) - prodEnd(rolledBack)) / 1000);
    const refused = await api.inject({ method: 'GET', url: '/api/program/1/dora/metrics?metric=mood', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({ detail: expect.stringMatching(/metric must be one of deployment_frequency, /) });
  });

  it('`stagecoach insights --json` says the same', async () => {
    vi.stubEnv('TEMPORAL_ADDRESS', inject('temporalAddress'));
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => { printed.push(String(chunk)); return true; });
    let code: number;
    try {
      code = await main(['insights', 'insights-app', '--since', '1d', '--json']);
    } finally {
      write.mockRestore();
      vi.unstubAllEnvs();
    }
    expect(code).toBe(0);
    const report = JSON.parse(printed.join('')) as { figures: Array<{ metric: string; value: number | null; executions: Array<{ executionId: string }> }> };
    const byMetric = Object.fromEntries(report.figures.map((f) => [f.metric, f]));
    expect(byMetric.deployment_frequency.value).toBe(2);
    expect(byMetric.change_failure_rate.value).toBeCloseTo(1 / 3, 10);
    expect(byMetric.rework_rate.value).toBe(0);
    expect(byMetric.lead_time_for_changes.executions.length).toBe(0); // the fake repository has no commit times
  });
});
