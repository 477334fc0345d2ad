/**
 * The Temporal server stopped and started again (same SQLite file) during a wait and during a rollout; Docker Engine
 * errors (a Dockerfile that does not build, a container that exits at start, a port taken); a container killed from
 * outside during the rollout; a worker stopped with SIGTERM mid-activity. Each ends cleanly, with a clear reason.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { createLoadBalancerActivities } from '../../src/activities/load-balancer';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { commitChange, git, syncSampleRepo } from '../../src/dev/sample-repo';
import { executionWorkflowId } from '../../src/shared/ids';
import { approveSignal, scheduleSignal } from '../../src/shared/messages';
import type { ExecutionState } from '../../src/shared/types';
import { testPipeline } from '../helpers/harness';
import { eventually } from '../helpers/wait';
import { restartDockerd } from './dockerd';
import { FaultLab, tally, tallyFaults } from './lab';

const ID = 'f-restart';
const FILE = 'restarts-and-docker';
const lab = new FaultLab('restart', [ID], { accountExecutions: true });
let config: Record<string, unknown>;

beforeAll(async () => {
  await lab.start();
  config = testPipeline(ID, lab.repo, {
    environments: { stage: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '3s' }, prod: { pairs: 2, loadBalancerPort: 0, authorPort: 0, drainTimeout: '3s' } },
  });
  await lab.writePipeline(config);
  await lab.startWorker();
});
afterAll(async () => lab.close());

const ended = (s: ExecutionState) => ['FINISHED', 'FAILED', 'ERROR', 'CANCELLED'].includes(s.status);
const prodServers = () => createLoadBalancerActivities({ docker: createDockerProvider(), secret: lab.secret })
  .readServers({ pipelineId: ID, environment: parsePipelineConfig(config).environments.prod });

/** Pair 2 of Production failed its health check: the execution failed, every pair is back on its images and UP. */
async function expectPair2RolledBack(s: ExecutionState) {
  expect(s.status).toBe('FAILED');
  expect(s.reason).toMatch(/rolled back: pair-2 failed: publish of pair-2 failed its health check/);
  expect(s.steps.find((x) => x.stepId === 'deploy-prod')!.status).toBe('ROLLED_BACK');
  expect((await prodServers()).map((x) => x.status)).toEqual(['UP', 'UP']);
}

async function restartServer(when: string) {
  await lab.stopWorker('SIGKILL'); // the worker gives up on a vanished server; start a fresh one after
  await lab.stopServer();
  await new Promise((r) => setTimeout(r, 1000));
  await lab.startServer();
  await lab.startWorker();
  await tallyFaults(FILE, [`Temporal server restarted ${when}`]);
}

async function toProduction(executionId: string) {
  const wid = executionWorkflowId(ID, executionId);
  await lab.waitFor(ID, executionId, (s) => s.waiting?.action === 'approval' || ended(s), 8 * 60_000);
  await lab.client.workflow.getHandle(wid).signal(approveSignal, { by: 'alice' });
  await lab.waitFor(ID, executionId, (s) => s.waiting?.action === 'schedule' || ended(s));
  await lab.client.workflow.getHandle(wid).signal(scheduleSignal, { by: 'alice', now: true });
}

describe('Temporal server restarts', () => {
  it('during the approval wait and during a rollout: the execution resumes and finishes', async () => {
    const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
    await lab.waitFor(ID, executionId, (s) => s.waiting?.action === 'approval' || ended(s), 8 * 60_000);
    await restartServer('during the approval wait');
    let s = await lab.waitFor(ID, executionId, (x) => x.waiting?.action === 'approval' || ended(x));
    expect(s.status).toBe('RUNNING');
    await toProduction(executionId);
    await lab.waitFor(ID, executionId, (x) => x.rollouts.prod?.nodes.some((n) => n.name === 'pair-1' && n.phase !== 'pending') ?? false);
    await restartServer('during the Production rollout');
    s = await lab.waitFor(ID, executionId, ended, 5 * 60_000);
    expect(s.status, s.reason).toBe('FINISHED');
    expect((await prodServers()).map((x) => x.status)).toEqual(['UP', 'UP']);
    await tally({ executionsCompleted: 1, nodesChecked: 2 });
  });
});

describe('outside interference', () => {
  // Right after the restart test, so Production has a previous version to go back to. The container is removed once
  // (fault-worker semantics): a machine that keeps deleting it would defeat any rollback.
  it('a publish container killed from outside during the rollout: rolled back, Production whole', async () => {
    await syncSampleRepo(lab.repo, '5.3.0');
    await lab.stopWorker();
    await lab.startWorker({ FAULT_DOCKER_KILL_AFTER: 'deployNode:publish-2' });
    const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
    await toProduction(executionId);
    const s = await lab.waitFor(ID, executionId, ended, 5 * 60_000);
    // Stage has one pair only (publish-1): the kill happens in Production's pair 2.
    await expectPair2RolledBack(s);
    await lab.stopWorker();
    await lab.startWorker();
    await tallyFaults(FILE, ['Production publish-2 removed from outside during its rollout']);
    await tally({ nodesChecked: 2 });
  });

});

describe('Docker Engine errors', () => {
  it('a Dockerfile that does not build: the build step fails at once with the engine\'s message', async () => {
    await commitChange(lab.repo, 'broken Dockerfile', async (dir) => fs.appendFile(path.join(dir, 'Dockerfile'), '\nRUN exit 3\n'));
    const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
    const s = await lab.waitFor(ID, executionId, ended, 5 * 60_000);
    expect(s.status).toBe('FAILED');
    const step = s.steps.find((x) => x.action === 'buildImage' || x.action === 'build' && x.status === 'FAILED')!;
    expect(step.status).toBe('FAILED');
    expect(s.reason).toMatch(/docker build .*failed: The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);
    // Not retried: a broken Dockerfile stays broken.
    const history = await lab.client.workflow.getHandle(executionWorkflowId(ID, executionId)).fetchHistory();
    const attempts = history.events!.map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
    expect(Math.max(...attempts)).toBe(1);
    await git(lab.repo, 'revert', '--no-edit', 'HEAD');
    await tallyFaults(FILE, ['a Dockerfile that does not build']);
  });

  it('a container that exits at start: health checks notice, the rollout restores the previous version', async () => {
    await syncSampleRepo(lab.repo, '5.2.0', async (dir) => {
      const file = path.join(dir, 'app', 'server.py');
      const text = await fs.readFile(file, 'utf8');
      // This version dies at start on publish-2 (Production's second pair; Stage has one pair), as a bad node would.
      await fs.writeFile(file, text.replace('import sys\n', 'import sys\nif __import__("os").environ.get("STAGECOACH_NODE") == "publish-2":\n    sys.exit(3)\n'));
    });
    const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
    await toProduction(executionId);
    const s = await lab.waitFor(ID, executionId, ended, 5 * 60_000);
    await expectPair2RolledBack(s);
    const containers = await lab.docker.listContainers({ all: true, filters: { label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=prod'] } });
    expect(containers.every((c) => c.State === 'running')).toBe(true);
    await tallyFaults(FILE, ['a container that exits at start']);
    await tally({ nodesChecked: 5 });
  });

  it('a port taken: a clear error naming the port and the setting, nothing touched', async () => {
    const holder = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => holder.once('listening', r));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      await lab.writePipeline({ ...config, environments: { stage: { pairs: 1, loadBalancerPort: port, authorPort: 0 }, prod: { pairs: 2, loadBalancerPort: 0, authorPort: 0 } }, id: ID });
      // A new load balancer is needed for the new port: the stage one is recreated and cannot bind.
      const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
      const s = await lab.waitFor(ID, executionId, ended, 5 * 60_000);
      expect(s.status).toBe('FAILED');
      expect(s.reason).toMatch(new RegExp(`Free 127\\.0\\.0\\.1:${port} or change environments\\.stage\\.loadBalancerPort`));
      const deploy = s.steps.find((x) => x.stepId === 'deploy-stage')!;
      expect(deploy.status).toMatch(/FAILED|ROLLED_BACK/);
      expect(s.rollouts.stage?.nodes.every((n) => n.phase === 'pending' || n.phase === 'restored')).toBe(true);
    } finally {
      holder.close();
      await lab.writePipeline(config);
    }
    await tallyFaults(FILE, ['a host port taken']);
  });
});

describe('worker shutdown and an engine restart', () => {
  it('SIGTERM stops the worker gracefully, then dockerd restarts under the Production rollout: nothing is lost', async () => {
    await syncSampleRepo(lab.repo, '5.4.0');
    // Run alone (vitest -t), this is Production's first release: a rollback then has nothing to restore.
    const released = (await prodServers().catch(() => [])).length > 0;
    const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
    await lab.waitFor(ID, executionId, (x) => x.steps.find((st) => st.action === 'build')!.status === 'RUNNING' || ended(x));
    const code = await lab.stopWorker('SIGTERM');
    expect(code).toBe(0);
    await lab.startWorker();
    await tallyFaults(FILE, ['worker stopped with SIGTERM during the build']);
    await toProduction(executionId);
    // The engine goes away under the running worker while pair-1 is out of service, and comes back with every
    // container (their restart policy), the load balancer's runtime state reset to its configuration.
    await lab.waitFor(ID, executionId, (x) => x.rollouts.prod?.nodes.some((n) => n.name === 'pair-1' && n.phase !== 'pending') ?? false);
    await restartDockerd();
    // It completes, or (an engine gone for longer than the retries wait) rolls back as a failure does: either way
    // every node runs one container, all on the same version, every pair UP.
    const s = await lab.waitFor(ID, executionId, ended, 5 * 60_000);
    await tallyFaults(FILE, [`dockerd restarted during the Production rollout (${s.status === 'FINISHED' ? 'completed' : `rolled back: ${s.reason}`})`]);
    if (s.status !== 'FINISHED') expect(s.steps.find((x) => x.stepId === 'deploy-prod')!.status, s.reason).toBe('ROLLED_BACK');
    // A first release rolled back leaves its pairs out of the load balancer (nothing to restore); otherwise every pair
    // serves again: containers the engine stopped come back (their restart policy), and an HAProxy started again
    // resolves its dispatchers' names anew ("MAINT (resolution)" until Docker's DNS answers), then checks them.
    const detached = !released && s.status !== 'FINISHED';
    const expected = detached ? /^MAINT/ : /^UP$/;
    let statuses: string[] = [];
    await eventually(`every Production pair ${detached ? 'out of service' : 'UP'}`, async () => {
      statuses = (await prodServers().catch(() => [])).map((x) => x.status);
      return statuses.length === 2 && statuses.every((x) => expected.test(x)) ? statuses : undefined;
    }, 60_000).catch((err: Error) => { throw new Error(`${err.message}: ${statuses.join(', ')}`); });
    if (detached) expect(s.rollouts.prod!.nodes.some((n) => n.role === 'pair' && /no previous version/.test(n.error ?? ''))).toBe(true);
    const containers = await lab.docker.listContainers({ all: true, filters: { label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=prod'] } });
    expect(containers.map((c) => `${c.Labels['stagecoach.node']} ${c.State}`).sort())
      .toEqual(['author', 'dispatcher-1', 'dispatcher-2', 'lb', 'lb-haproxy', 'publish-1', 'publish-2'].map((n) => `${n} running`));
    const app = containers.filter((c) => /^(author|publish-\d)$/.test(c.Labels['stagecoach.node'])).map((c) => c.ImageID);
    expect(new Set(app).size).toBe(1);
    if (s.status === 'FINISHED') expect(app[0]).toBe(s.artifacts.images!.app.id);
    await tally({ executionsCompleted: s.status === 'FINISHED' ? 1 : 0, nodesChecked: 5 });
  });
});
