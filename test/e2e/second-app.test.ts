/**
 * The worked example of docs/deploy-your-own-app.md on real parts: the second app (a Python departure board, not the
 * sample) goes through the pipeline as the page tells a reader. Its repository is made with the page's commands, its
 * pipeline is examples/pipelines/second-app.yaml as shipped (only `repository` points at where those commands ran),
 * and the page's CLI lines are run as written: `start … --follow` to the approval wait, then status, approve,
 * schedule and logs. Production must then serve the board through its load balancer from both pairs.
 *
 * Lean on purpose: nothing is skipped that the pipeline file runs (it switches UI tests off because the board has
 * none); the sample's suites prove the rest (failures, overrides, rollbacks).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/config/paths';
import { ensureChromium } from '../../src/provision';
import type { ExecutionState } from '../../src/shared/types';
import { hasEnded, isWaitingAt, startHarness, type Harness } from '../helpers/harness';
import { SECOND_APP_PIPELINE, makeSecondAppRepo, secondAppCommands } from '../helpers/second-app';

// The page's own pipeline id, so its commands run verbatim (its containers are sc-second-app-*, on ports Docker picks;
// the test removes them before and after, so it also removes a second-app a reader deployed on this machine).
const ID = 'second-app';
const MINUTE = 60_000;
let h: Harness;

beforeAll(async () => {
  // The audit drives Debian's Chromium on the worker (this machine); provisioning installs it when missing.
  await ensureChromium((line) => console.log(`[provision] ${line}`));
  h = await startHarness('second-app', [ID]);
  const repo = await makeSecondAppRepo(h.tmp);
  const shipped = await fs.readFile(SECOND_APP_PIPELINE, 'utf8');
  const pipeline = shipped.replace(/^repository: .*$/m, `repository: ${repo}`);
  expect(pipeline).not.toBe(shipped);
  await fs.writeFile(path.join(h.pipelinesDir, `${ID}.yaml`), pipeline);
}, 15 * MINUTE);
afterAll(async () => h?.close());

/** Runs a line of the page with the CLI, against this run's dev server and worker; a non-zero exit is returned. */
async function cli(line: string, timeoutMs = 2 * MINUTE): Promise<{ code: number; stdout: string }> {
  const args = line.split(' ');
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'stagecoach'), ...args], {
      cwd: PROJECT_ROOT,
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), STAGECOACH_ARTIFACTS_DIR: path.join(h.tmp, 'state', 'artifacts') },
    });
    return { code: 0, stdout };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string; killed?: boolean };
    if (failed.killed || typeof failed.code !== 'number') throw err;
    return { code: failed.code, stdout: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const statuses = (s: ExecutionState) => Object.fromEntries(s.steps.map((step) => [step.stepId, step.status]));

describe('the second app of docs/deploy-your-own-app.md', () => {
  let executionId: string;

  it('runs every Stage step for real with `start --follow`, and waits for approval', async () => {
    const { start } = await secondAppCommands();
    expect(start).toBe(`start ${ID} --by carol --follow`);
    // --follow returns when the execution waits; the exit code it uses for that is not this test's concern.
    const followed = await cli(start, 14 * MINUTE);
    executionId = /Started execution (\d+) of pipeline second-app/.exec(followed.stdout)?.[1] ?? '';
    expect(executionId, followed.stdout).not.toBe('');

    const state = await h.waitFor(ID, executionId, isWaitingAt('approval'), MINUTE);
    expect(state.status, followed.stdout).toBe('RUNNING');
    expect(statuses(state)).toEqual({
      validate: 'FINISHED', build: 'FINISHED', codeQuality: 'FINISHED', buildImage: 'FINISHED', 'deploy-stage': 'FINISHED',
      productTest: 'FINISHED', functionalTest: 'FINISHED', uiTest: 'FINISHED', contentAudit: 'FINISHED',
      approval: 'WAITING', schedule: 'NOT_STARTED', 'deploy-prod': 'NOT_STARTED',
    });
    // The board's six unit tests ran in its `checks` target; the smoke image ran against Stage's load balancer.
    expect(state.artifacts.unitTests).toMatchObject({ passed: 6, failed: 0 });
    const functional = state.steps.find((s) => s.stepId === 'functionalTest')!.details as { tests?: { passed: number } };
    expect(functional.tests?.passed).toBe(2);
    const audit = state.steps.find((s) => s.stepId === 'contentAudit')!.details as { ran: boolean; reason?: string };
    expect(audit.ran, audit.reason).toBe(true);
    const stage = await fetch(state.urls.stage!);
    expect(stage.status).toBe(200);
    expect(await stage.text()).toContain('board 1.0.0');
  }, 16 * MINUTE);

  it('reaches Production with the page\'s status, approve, schedule and logs, served by both pairs', async () => {
    const { afterApproval } = await secondAppCommands();
    expect(afterApproval.map((line) => line.split(' ')[0])).toEqual(['status', 'approve', 'schedule', 'logs']);
    const outputs: Record<string, string> = {};
    for (const line of afterApproval) {
      const command = line.split(' ')[0];
      // A reader types `schedule` once the approval has moved the execution on to its schedule step.
      if (command === 'schedule') await h.waitFor(ID, executionId, isWaitingAt('schedule'), MINUTE);
      const ran = await cli(line.replace(` ${ID} 1 `, ` ${ID} ${executionId} `));
      expect(ran.code, `${line}\n${ran.stdout}`).toBe(0);
      outputs[command] = ran.stdout;
    }
    const state = await h.waitFor(ID, executionId, hasEnded, 8 * MINUTE);
    expect(state.status).toBe('FINISHED');
    expect(state.steps.every((s) => s.status === 'FINISHED')).toBe(true);
    expect(state.audit.map((a) => [a.action, a.by, a.outcome])).toEqual([['approve', 'alice', 'accepted'], ['schedule', 'alice', 'accepted']]);
    expect(outputs.status).toContain(state.urls.stage);
    expect(outputs.logs).toContain('test_home_lists_departures_and_version'); // the build's log or its JUnit report

    const images = state.artifacts.images!;
    const pairs = state.rollouts.prod!.nodes.filter((n) => n.role === 'pair');
    expect(pairs).toHaveLength(2);
    for (const node of pairs) expect(node.currentImages).toEqual({ publish: images.app.id, dispatcher: images.dispatcher.id });
    // The load balancer takes turns: the board, and the health of each publish (never cached) through its dispatcher.
    const prod = state.urls.prod!;
    const board = await fetch(prod);
    expect(await board.text()).toContain('board 1.0.0');
    const answeredBy = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const health = await (await fetch(new URL('/healthz', prod))).json() as { status: string; version: string; node: string };
      expect(health).toMatchObject({ status: 'ok', version: '1.0.0' });
      answeredBy.add(health.node);
    }
    expect([...answeredBy].sort()).toEqual(['publish-1', 'publish-2']);
  }, 12 * MINUTE);
});
