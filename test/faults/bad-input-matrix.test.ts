/**
 * The bad input matrix: each bad request gets a clear message and changes nothing anywhere (no workflow started, no
 * decision taken, nothing deployed); refused messages are in the audit log.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '../../src/api/server';
import { PROJECT_ROOT } from '../../src/config/paths';
import { executionWorkflowId, pipelineWorkflowId } from '../../src/shared/ids';
import { approveSignal } from '../../src/shared/messages';
import { testPipeline } from '../helpers/harness';
import { FaultLab, tally } from './lab';

const ID = 'f-badinput';
const lab = new FaultLab('badinput', [ID]);
let tried = 0;
let refused = 0;

beforeAll(async () => {
  await lab.start();
  await lab.writePipeline(testPipeline(ID, lab.repo, { environments: { stage: { loadBalancerPort: 0, authorPort: 0 }, prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0 } } }));
  await lab.startWorker();
});
afterAll(async () => {
  await tally({ badInputsTried: tried, badInputsRefused: refused });
  await lab.close();
});

/** Expects a refusal whose message matches; counts it. */
async function refusedWith(action: Promise<unknown>, message: RegExp): Promise<void> {
  tried += 1;
  const err = await action.then(() => undefined, (e: unknown) => e);
  expect(err, String(message)).toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(message);
  refused += 1;
}
const noWorkflow = (pipelineId: string) =>
  expect(lab.client.workflow.getHandle(pipelineWorkflowId(pipelineId)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

describe('bad configuration and unknown names', () => {
  it('malformed YAML, schema errors, unknown and ill-formed pipeline ids: nothing starts', async () => {
    await fs.writeFile(path.join(lab.pipelinesDir, 'f-yaml.yaml'), 'id: f-yaml\nrepository: [unclosed\n');
    await refusedWith(lab.stagecoach.startExecution('f-yaml', { by: 'carol' }), /f-yaml\.yaml:\n {2}- not valid YAML/);
    await lab.writePipeline({ id: 'f-schema', repository: lab.repo, environments: { prod: { pairs: 0 } }, approval: { approvers: [{ name: 'x', roles: ['ROOT'] }] } });
    await refusedWith(lab.stagecoach.startExecution('f-schema', { by: 'carol' }), /environments\.prod\.pairs[\s\S]*approval\.approvers\.0\.roles\.0/);
    await refusedWith(lab.stagecoach.startExecution('f-none', { by: 'carol' }), /Unknown pipeline "f-none"/);
    await refusedWith(lab.stagecoach.startExecution('../../etc/passwd', { by: 'carol' }), /Unknown pipeline/);
    await lab.writePipeline(testPipeline('f-branch', lab.repo, { branch: 'nope' }));
    await refusedWith(lab.stagecoach.startExecution('f-branch', { by: 'carol' }), /Branch "nope" does not exist/);
    await lab.writePipeline(testPipeline('f-repo', '/nonexistent/repo'));
    await refusedWith(lab.stagecoach.startExecution('f-repo', { by: 'carol' }), /Repository \/nonexistent\/repo cannot be read/);
    for (const id of ['f-yaml', 'f-schema', 'f-none', 'f-branch', 'f-repo']) await noWorkflow(id);
    await refusedWith(lab.stagecoach.executionState(ID, '999'), /execution 999 of pipeline f-badinput does not exist/);
    await refusedWith(lab.stagecoach.send(ID, '999', 'approve', { by: 'alice' }), /does not exist/);
  });

  it('an unreachable Docker Engine: validate fails saying which engine and what to do; nothing deployed', async () => {
    await lab.writePipeline(testPipeline('f-docker', lab.repo, { environments: { stage: { docker: { host: '127.0.0.1', port: 1, protocol: 'http' } } } }));
    tried += 1;
    const { executionId } = await lab.stagecoach.startExecution('f-docker', { by: 'carol' });
    const s = await lab.waitFor('f-docker', executionId, (x) => x.status !== 'RUNNING' && x.status !== 'NOT_STARTED');
    expect(s.status).toBe('FAILED');
    expect(s.reason).toMatch(/validate failed: Docker Engine \(http:\/\/127\.0\.0\.1:1\) does not answer/);
    expect(s.steps.filter((x) => x.status !== 'NOT_STARTED').map((x) => x.stepId)).toEqual(['validate']);
    refused += 1;
  });

  it('an unreachable Temporal server: the CLI says what to check, exit 5', async () => {
    tried += 1;
    const result = await promisify(execFile)(path.join(PROJECT_ROOT, 'bin', 'stagecoach'), ['status', ID], {
      env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/Cannot reach Temporal at 127\.0\.0\.1:1[\s\S]*TEMPORAL_ADDRESS/);
    refused += 1;
  });
});

describe('bad messages', () => {
  it('malformed and oversized payloads are rejected; signals are audited as refused; nothing is decided', async () => {
    const { executionId } = await lab.stagecoach.startExecution(ID, { by: 'carol' });
    await lab.waitFor(ID, executionId, (s) => s.waiting?.action === 'approval' || s.status !== 'RUNNING', 8 * 60_000);
    const send = (action: 'approve' | 'schedule' | 'override' | 'cancel', body: unknown) =>
      lab.stagecoach.send(ID, executionId, action, body as Record<string, unknown>);
    await refusedWith(send('approve', {}), /approve needs "by"/);
    await refusedWith(send('approve', { by: 'x'.repeat(5000) }), /longer than 100 characters/);
    await refusedWith(send('approve', { by: 'alice', comment: 'y'.repeat(100_000) }), /at most 1000 characters/);
    await refusedWith(send('schedule', { by: 'alice', now: true, at: '2030-01-01T00:00:00Z' }), /exactly one of/);
    await refusedWith(send('schedule', { by: 'alice', at: 'next tuesday' }), /not an ISO 8601 time/);
    await refusedWith(send('override', { by: 'alice', metrics: 'all' }), /override needs "metrics"/);
    // The same junk as signals (a Web UI user's typo): recorded as refused, with the reason.
    const handle = lab.client.workflow.getHandle(executionWorkflowId(ID, executionId));
    for (const junk of [{}, { by: 42 }, 'approve please']) {
      tried += 1;
      await handle.signal(approveSignal, junk as never);
    }
    await expect.poll(async () => (await lab.stagecoach.executionState(ID, executionId)).audit.filter((a) => a.via === 'signal').length).toBe(3);
    const state = await lab.stagecoach.executionState(ID, executionId);
    const signals = state.audit.filter((a) => a.via === 'signal');
    expect(signals.every((a) => a.outcome === 'refused' && /one object argument|needs "by"/.test(a.reason ?? ''))).toBe(true);
    refused += 3;
    expect(state.audit.some((a) => a.outcome === 'accepted')).toBe(false);
    expect(state.waiting?.action).toBe('approval');
    await lab.stagecoach.send(ID, executionId, 'cancel', { by: 'carol' });
  });

  it('the API answers bad JSON with 400 and a clear message', async () => {
    const app = buildApi({ stagecoach: lab.stagecoach, logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as { port: number };
      const tokens = await fs.readFile(path.join(PROJECT_ROOT, 'examples', 'api-tokens.yaml'), 'utf8');
      const token = /token:\s*"?([^"\s]+)"?/.exec(tokens)![1];
      tried += 1;
      const res = await fetch(`http://127.0.0.1:${port}/api/program/1/pipeline/${ID}/execution`, {
        method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"mode": ',
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(await res.json())).toMatch(/JSON/i);
      refused += 1;
    } finally {
      await app.close();
    }
  });
});
