/**
 * The second app of docs/deploy-your-own-app.md: its pipeline file loads through the configuration parser, names
 * what examples/second-app provides, and the page's commands that make its git repository work as written.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/paths';
import { DEFAULT_PIPELINES_DIR, loadPipelineConfig } from '../../src/config/pipeline-config';
import { makeSecondAppRepo } from '../helpers/second-app';

const APP_DIR = path.join(PROJECT_ROOT, 'examples', 'second-app');
const read = (...parts: string[]) => fs.readFile(path.join(APP_DIR, ...parts), 'utf8');
const exists = (...parts: string[]) => fs.access(path.join(APP_DIR, ...parts)).then(() => true, () => false);

let tmp: string | undefined;
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('the second app (docs/deploy-your-own-app.md)', () => {
  it('has a pipeline file the configuration parser accepts, with what differs from the sample', async () => {
    const config = await loadPipelineConfig('second-app', DEFAULT_PIPELINES_DIR);
    expect(config.app).toMatchObject({ testTarget: 'checks', runtimeTarget: 'web', port: 9000, healthPath: '/healthz', imageName: 'stagecoach/second-app' });
    expect(config.tests?.ui.enabled).toBe(false);
    expect(config.environments.stage.loadBalancerPort).toBe(0);
    expect(config.approval.approvers.map((a) => a.name)).toEqual(['alice', 'bob']);
  });

  it('provides what its pipeline names: both Dockerfile targets, the port, the health path, the dispatcher, the test image', async () => {
    const config = await loadPipelineConfig('second-app', DEFAULT_PIPELINES_DIR);
    const dockerfile = await read(config.app.dockerfile);
    expect(dockerfile).toMatch(new RegExp(`^FROM \\S+ AS ${config.app.testTarget}$`, 'm'));
    expect(dockerfile).toMatch(new RegExp(`^FROM \\S+ AS ${config.app.runtimeTarget}$`, 'm'));
    expect(dockerfile).toContain(`EXPOSE ${config.app.port}`);
    expect(await read('app', 'board.py')).toContain(`"${config.app.healthPath}"`);
    // The load balancer checks every dispatcher at /health, the worker at the app's health path: the VCL maps both.
    const vcl = await read(config.app.dispatcherContext, 'board.vcl');
    expect(vcl).toContain('^/health(\\?.*)?$');
    expect(vcl).toContain(`set req.url = "${config.app.healthPath}"`);
    expect(await read(config.app.dispatcherContext, 'start.sh')).toMatch(/validate/);
    expect(await exists(String(config.tests?.functional.context), 'Dockerfile')).toBe(true);
    expect(await exists(String(config.tests?.ui.context), 'Dockerfile')).toBe(false);
  });

  it('makes its git repository with the commands the page gives', async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-second-app-'));
    const repo = await makeSecondAppRepo(tmp);
    const git = async (...args: string[]) => (await promisify(execFile)('git', ['-C', repo, ...args])).stdout.trim();
    expect(await git('rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(await git('show', 'main:VERSION')).toBe('1.0.0');
    expect(await git('ls-files')).toContain('dispatcher/board.vcl');
    const config = await loadPipelineConfig('second-app', DEFAULT_PIPELINES_DIR);
    expect(path.join(tmp, config.repository)).toBe(repo);
  });
});
