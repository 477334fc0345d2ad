/**
 * kill -9 the worker at every step boundary and inside every phase of a node's rollout cycle, right after an effect
 * and before Temporal hears of it; restart it each time. The executions complete, every node ends with exactly one
 * container on the expected image, nothing is left drained or in maintenance, and no effect happened twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { createLoadBalancerActivities } from '../../src/activities/load-balancer';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { syncSampleRepo } from '../../src/dev/sample-repo';
import { approveSignal, scheduleSignal } from '../../src/shared/messages';
import { executionWorkflowId } from '../../src/shared/ids';
import type { ExecutionState } from '../../src/shared/types';
import { testPipeline } from '../helpers/harness';
import { FaultLab, tally } from './lab';

const ID = 'f-crash';
const lab = new FaultLab('crash', [ID]);
const config = () => testPipeline(ID, lab.repo, {
  environments: { stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '3s' }, prod: { pairs: 2, loadBalancerPort: 0, authorPort: 0, drainTimeout: '3s' } },
});

beforeAll(async () => {
  await lab.start();
  await lab.writePipeline(config());
});
afterAll(async () => lab.close());

const ended = (s?: ExecutionState) => !!s && ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'].includes(s.status);

/**
 * Runs the execution with the worker killed after each fault in turn (restarting it each time), sending the approval
 * and the schedule as signals (recorded even while no worker runs) when the execution waits for them.
 */
async function runThroughFaults(faults: string[]): Promise<ExecutionState> {
  let injected = 0;
  // The first worker is armed with the first fault before the execution starts.
  await lab.startWorker({ FAULT_KILL_AFTER: faults[0] });
  const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
  const wid = executionWorkflowId(ID, executionId);
  let last: ExecutionState | undefined;
  const answerWaits = async () => {
    const s = await lab.state(ID, executionId);
    last = s ?? last;
    if (s?.waiting?.action === 'approval' && s.waiting.accepts.includes('approve')) await lab.client.workflow.getHandle(wid).signal(approveSignal, { by: 'alice' });
    if (s?.waiting?.action === 'schedule' && !s.waiting.scheduledAt) await lab.client.workflow.getHandle(wid).signal(scheduleSignal, { by: 'alice', now: true });
    return ended(s);
  };
  for (const [i, fault] of faults.entries()) {
    if (i > 0) await lab.startWorker({ FAULT_KILL_AFTER: fault });
    const killed = await lab.waitForKill(answerWaits);
    expect(killed, `the worker was to be killed after ${fault}; the execution: ${last?.status} ${last?.reason ?? ''}`).toBe(true);
    injected += 1;
  }
  await lab.startWorker();
  // Every answer sent while polling is awaited before the test moves on: a signal still retrying when the lab closes
  // its connection would throw from a timer ("Channel has been shut down") after the test has passed.
  const answers: Array<Promise<unknown>> = [];
  const final = await lab.waitFor(ID, executionId, (s) => { answers.push(answerWaits().catch(() => undefined)); return ended(s); }, 5 * 60_000);
  await Promise.all(answers);
  await lab.stopWorker();
  await tally({ faultsInjected: injected });
  return final;
}

/**
 * Watches Docker's own event stream for creations of Production's containers (live: the engine keeps only its last
 * 256 events, and image builds alone produce more). stop() answers the creations per node.
 */
async function watchCreations(): Promise<{ stop(): Promise<Record<string, number>> }> {
  const stream = await lab.docker.getEvents({
    filters: JSON.stringify({ type: ['container'], event: ['create'], label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=prod'] }) as never,
  }) as NodeJS.ReadableStream & { destroy(): void };
  const counts: Record<string, number> = {};
  let buffered = '';
  stream.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      const node = JSON.parse(line).Actor.Attributes['stagecoach.node'] as string;
      counts[node] = (counts[node] ?? 0) + 1;
    }
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 500));
      stream.destroy();
      return counts;
    },
  };
}

async function checkProduction(expectedImages: { app: string; dispatcher: string }) {
  const containers = await lab.docker.listContainers({ all: true, filters: { label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=prod'] } });
  const byNode = new Map<string, typeof containers>();
  for (const c of containers) byNode.set(c.Labels['stagecoach.node'], [...(byNode.get(c.Labels['stagecoach.node']) ?? []), c]);
  for (const node of ['author', 'publish-1', 'publish-2', 'dispatcher-1', 'dispatcher-2']) {
    const list = byNode.get(node) ?? [];
    expect(list, node).toHaveLength(1);
    expect(list[0].State, node).toBe('running');
    expect(list[0].ImageID, node).toBe(node.startsWith('dispatcher') ? expectedImages.dispatcher : expectedImages.app);
  }
  const servers = await createLoadBalancerActivities({ docker: createDockerProvider(), secret: lab.secret })
    .readServers({ pipelineId: ID, environment: parsePipelineConfig(config()).environments.prod });
  const detached = servers.filter((s) => s.status !== 'UP');
  await tally({ nodesChecked: 5, nodesLeftDetached: detached.length });
  expect(servers.map((s) => s.status)).toEqual(['UP', 'UP']);
}

describe('worker killed (SIGKILL) and restarted', () => {
  it('at each step boundary of a first execution, which still reaches Production', async () => {
    const final = await runThroughFaults([
      'resolveBranch', 'buildAndTest', 'buildImages', 'prepareEnvironment', 'productTest', 'customTests', 'contentAudit',
      'deployNode@prod@author', 'describeEnvironment@prod',
    ]);
    expect(final.status, final.reason).toBe('FINISHED');
    await tally({ executionsCompleted: 1 });
    await checkProduction(final.artifacts.images!.app.id ? { app: final.artifacts.images!.app.id, dispatcher: final.artifacts.images!.dispatcher.id } : { app: '', dispatcher: '' });
  });

  it('inside every phase of a node\'s cycle, without doubling any effect', async () => {
    await syncSampleRepo(lab.repo, '5.1.0');
    const watch = await watchCreations();
    const final = await runThroughFaults([
      // pair-2 of Production: draining, detached, deploying, health-checking, flushing, warming, attaching
      'setServerState@prod@pair-2@drain', 'waitForSessionsDrained@prod@pair-2', 'setServerState@prod@pair-2@maint',
      'deployNode@prod@publish-2', 'deployNode@prod@dispatcher-2', 'checkHealth', 'flushCache@prod',
      'warmCache@prod', 'setServerState@prod@pair-2@ready', 'waitForServerUp@prod@pair-2',
    ]);
    expect(final.status, final.reason).toBe('FINISHED');
    await tally({ executionsCompleted: 1 });
    const images = final.artifacts.images!;
    await checkProduction({ app: images.app.id, dispatcher: images.dispatcher.id });
    // Each production node was created exactly once by this execution, although the worker died right after most
    // of the replacements: the retried activity found its own effect and did not redo it.
    const created = await watch.stop();
    const doubled = Object.values(created).filter((n) => n > 1).length;
    await tally({ effectsDoubled: doubled });
    expect(created).toEqual({ author: 1, 'publish-1': 1, 'dispatcher-1': 1, 'publish-2': 1, 'dispatcher-2': 1 });
    const cycle = final.rollouts.prod!;
    expect(cycle.nodes.map((n) => n.phase)).toEqual(['done', 'done', 'done']);
  });
});
