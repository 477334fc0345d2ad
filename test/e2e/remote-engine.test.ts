/**
 * A remote Docker Engine over SSH, as dockerode supports it: Stage's nodes, its load balancer and its test containers
 * run on the engine named in the pipeline (ssh://root@127.0.0.1:<port>, an sshd of the test's own), Production on the
 * local socket. Every Docker call for Stage crosses SSH (counted in sshd's log); the images the build made locally are
 * used there by the same IDs. A key the far side does not accept fails validation with a message naming the engine.
 */
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';
import { startSshd, type Sshd } from '../helpers/sshd';

const ID = 't-remote';
const BAD = 't-remote-badkey';
let h: Harness;
let sshd: Sshd;

beforeAll(async () => {
  h = await startHarness('remote', [ID, BAD]);
  sshd = await startSshd(path.join(h.tmp, 'sshd'));
}, 5 * 60_000);
afterAll(async () => {
  await h?.close();
  await sshd?.stop();
});

const sshSessions = async () => (await fs.readFile(sshd.logFile, 'utf8')).match(/Accepted publickey for root from 127\.0\.0\.1/g)?.length ?? 0;

describe('a remote Docker Engine over SSH', () => {
  it('deploys and tests Stage on the SSH engine with the images built locally', async () => {
    const remote = { protocol: 'ssh', host: '127.0.0.1', port: sshd.port, username: 'root', sshKeyPath: sshd.keyPath };
    const base = testPipeline(ID, h.repo);
    const environments = base.environments as Record<string, Record<string, unknown>>;
    await h.writePipeline({ ...base, environments: { ...environments, stage: { ...environments.stage, docker: remote } } });
    const before = await sshSessions();
    const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
    const s = await h.waitFor(ID, executionId, isWaitingAt('approval'), 8 * 60_000);
    expect(s.status, s.reason).toBe('RUNNING');
    const validate = s.steps.find((x) => x.action === 'validate')!;
    expect(validate.details.dockerEngines).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^ssh://root@127\\.0\\.0\\.1:${sshd.port}: Docker `))]));
    expect(s.rollouts.stage?.status).toBe('FINISHED');
    expect(s.steps.find((x) => x.action === 'functionalTest')!.status).toBe('FINISHED');
    // Stage's containers exist (the far side's engine is this machine's) and run the image the build made.
    const stage = await h.docker.listContainers({ filters: { label: [`stagecoach.pipeline=${ID}`, 'stagecoach.environment=stage'] } });
    expect(stage.map((c) => c.Labels['stagecoach.node']).sort()).toEqual(['author', 'dispatcher-1', 'lb', 'lb-haproxy', 'publish-1']);
    expect(stage.find((c) => c.Labels['stagecoach.node'] === 'publish-1')!.ImageID).toBe(s.artifacts.images!.app.id);
    // Every Docker request for Stage is its own SSH session: dozens of them, none for Production yet.
    expect((await sshSessions()) - before).toBeGreaterThan(20);
    await h.stagecoach.send(ID, executionId, 'reject', { by: 'bob', reason: 'remote engine test done' });
    expect((await h.waitFor(ID, executionId, hasEnded)).status).toBe('CANCELLED');
  });

  it('a key the remote engine does not accept: validation fails naming the engine, nothing is built', async () => {
    const keyDir = path.join(h.tmp, 'other-key');
    const { execFile } = await import('node:child_process');
    await fs.mkdir(keyDir, { recursive: true });
    const other = path.join(keyDir, 'id_ed25519');
    await new Promise<void>((resolve, reject) => execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other], (err) => (err ? reject(err) : resolve())));
    const base = testPipeline(BAD, h.repo);
    const environments = base.environments as Record<string, Record<string, unknown>>;
    await h.writePipeline({
      ...base,
      environments: { ...environments, prod: { ...environments.prod, docker: { protocol: 'ssh', host: '127.0.0.1', port: sshd.port, username: 'root', sshKeyPath: other } } },
    });
    const { executionId } = await h.stagecoach.startExecution(BAD, { by: 'carol' });
    const s = await h.waitFor(BAD, executionId, hasEnded, 2 * 60_000);
    expect(s.status).toBe('FAILED');
    expect(s.reason).toMatch(new RegExp(`Docker Engine \\(ssh://root@127\\.0\\.0\\.1:${sshd.port}\\) does not answer: .*authentication`, 'i'));
    expect(s.steps.find((x) => x.action === 'build')!.status).toBe('NOT_STARTED');
  });
});
