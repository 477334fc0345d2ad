/**
 * Replay: histories of real executions (recorded by the e2e tests with RECORD_FIXTURES=1, committed under
 * test/fixtures/histories) must replay against today's workflow code. A workflow change that would break running
 * executions fails here; make such changes with patched(). The negative test proves a break is caught.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { describe, expect, inject, it } from 'vitest';
import { FIXTURES_DIR } from './helpers/harness';

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

async function fixtures() {
  const files = (await fs.readdir(FIXTURES_DIR)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map(async (file) => ({
    name: file.replace(/\.json$/, ''),
    // The JSON of `temporal workflow show --output json`; runReplayHistory converts it itself.
    history: JSON.parse(await fs.readFile(path.join(FIXTURES_DIR, file), 'utf8')) as unknown,
  })));
}

describe('replay of recorded histories', () => {
  it('every committed history replays against the current workflow code', async () => {
    const all = await fixtures();
    expect(all.map((f) => f.name)).toEqual(expect.arrayContaining([
      'execution-happy-path', 'execution-reject', 'execution-approval-timeout', 'execution-signal-approve-then-cancel', 'rollout-prod', 'pipeline',
      'execution-rollback', 'rollout-rolled-back', 'execution-cancel-mid-rollout', 'rollout-cancelled', 'execution-re-execute',
      'rollout-continued-as-new-first-run', 'rollout-continued-as-new-last-run', 'execution-rollout-continued-as-new',
      'rollout-hooks-rolling', 'rollout-hooks-maintenance', 'execution-stage-gates',
      'execution-cancel-after-continue-as-new', 'rollout-cancelled-after-continue-as-new', 'rollout-spanning-engines', 'execution-signed-decisions',
      'keeper-heal-then-paused', 'execution-pauses-keeper', 'keeper-continued-as-new-first-run', 'keeper-scaled', 'keeper-scale-refusals-audited',
    ]));
    for (const { name, history } of all) {
      await expect(Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, name), name).resolves.toBeUndefined();
    }
  });

  it('a workflow changed without patched() breaks replay, and the test notices', async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(__dirname, 'fixtures', 'changed-workflows', 'index.ts'), logger: quiet });
    const happy = (await fixtures()).find((f) => f.name === 'execution-happy-path')!;
    await expect(Worker.runReplayHistory({ workflowBundle: { code } }, happy.history, happy.name)).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
