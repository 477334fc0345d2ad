/**
 * A fresh Temporal server against a running topology (issue 16, item 1): execution numbering starts again at 1, as
 * after a new dev server, `docker-compose down -v` or a move to a cluster. The second life's execution 1 must deploy
 * every node again, never find the first life's containers under the same execution number and skip them.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitChange } from '../../src/dev/sample-repo';
import { executionWorkflowId, rolloutWorkflowId } from '../../src/shared/ids';
import { approveSignal, rolloutStateQuery, scheduleSignal } from '../../src/shared/messages';
import type { ExecutionState } from '../../src/shared/types';
import { containerName, environmentNodeNames } from '../../src/topology/names';
import { testPipeline } from '../helpers/harness';
import { FaultLab, tally, tallyFaults } from './lab';

const ID = 'f-fresh';
const lab = new FaultLab('fresh', [ID], { accountExecutions: true });
const docker = new Docker();

beforeAll(async () => {
  await lab.start();
  await lab.writePipeline(testPipeline(ID, lab.repo, { tests: { ui: { enabled: false }, functional: { enabled: false } } }));
  await lab.startWorker();
});
afterAll(async () => lab.close());

const ended = (s: ExecutionState) => ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'].includes(s.status);

/** Starts an execution and takes it to its end in Production, approving and scheduling it at once. */
async function release(): Promise<ExecutionState> {
  const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
  const handle = lab.client.workflow.getHandle(executionWorkflowId(ID, executionId));
  await lab.waitFor(ID, executionId, (s) => s.waiting?.action === 'approval' || ended(s), 8 * 60_000);
  await handle.signal(approveSignal, { by: 'alice' });
  await lab.waitFor(ID, executionId, (s) => s.waiting?.action === 'schedule' || ended(s));
  await handle.signal(scheduleSignal, { by: 'alice', now: true });
  return lab.waitFor(ID, executionId, ended, 5 * 60_000);
}

/** The image each Production node's container runs now. */
async function productionImages(): Promise<Record<string, string>> {
  const images: Record<string, string> = {};
  for (const node of environmentNodeNames({ pairs: 2 })) {
    images[node] = (await docker.getContainer(containerName(ID, 'prod', node)).inspect()).Image;
  }
  return images;
}

describe('a fresh Temporal server against a running topology', () => {
  it('numbering starts again at 1, and execution 1 of the second life deploys every node', async () => {
    const first = await release();
    expect(first.id).toBe('1');
    expect(first.status, first.reason).toBe('FINISHED');
    const firstImages = await productionImages();

    // The server's state is gone; the topology runs on.
    await lab.stopWorker('SIGKILL');
    await lab.stopServer();
    await fs.rm(path.join(lab.tmp, 'temporal.db'), { force: true });
    await lab.startServer();
    await lab.startWorker();
    await tallyFaults('fresh-server', ['a fresh Temporal server (its state removed) against the running topology']);
    await commitChange(lab.repo, 'a new version', (dir) => fs.writeFile(path.join(dir, 'VERSION'), '5.0.1\n'));

    const second = await release();
    expect(second.id).toBe('1');
    expect(second.status, second.reason).toBe('FINISHED');
    const images = second.artifacts.images!;
    expect(images.app.id).not.toBe(first.artifacts.images!.app.id);
    expect(images.app.tag).not.toBe(first.artifacts.images!.app.tag);
    const now = await productionImages();
    for (const node of Object.keys(now)) {
      expect(now[node], node).toBe(node.startsWith('dispatcher') ? images.dispatcher.id : images.app.id);
      if (!node.startsWith('dispatcher')) expect(now[node], node).not.toBe(firstImages[node]);
    }
    // Every app node was really replaced in this life, none skipped as "already done" under a matching key.
    const rollout = await lab.client.workflow.getHandle(rolloutWorkflowId(ID, second.id, 'prod')).query(rolloutStateQuery);
    const appReplacements = rollout.cycle.filter((r) => !r.restore && (r.op === 'replacePublish' || r.op === 'replaceAuthor'));
    expect(appReplacements).toHaveLength(3);
    expect(appReplacements.filter((r) => /already done/.test(r.detail ?? ''))).toEqual([]);
    await tally({ executionsCompleted: 2, nodesChecked: Object.keys(now).length });
  });
});
