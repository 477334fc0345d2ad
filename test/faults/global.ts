/** The fault suite's setup: the pinned Temporal CLI and one workflow bundle for every worker it starts; at the end, the tally. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { PROJECT_ROOT, STATE_DIR } from '../../src/config/paths';
import { findTemporalCli } from '../../src/provision';
import { SUMMARY_FILE, type FaultTally } from './tally';

export async function setup(project: TestProject): Promise<void> {
  const temporalCli = await findTemporalCli();
  if (!temporalCli) throw new Error('Temporal CLI not found: run `npm run provision`.');
  const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(PROJECT_ROOT, 'src', 'workflows', 'index.ts'), logger: quiet });
  const workflowBundlePath = path.join(STATE_DIR, 'faults', 'workflow-bundle.js');
  await fs.mkdir(path.dirname(workflowBundlePath), { recursive: true });
  await fs.writeFile(workflowBundlePath, code);
  await fs.rm(SUMMARY_FILE, { force: true });
  project.provide('temporalCli', temporalCli);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('temporalAddress', '');
}

export async function teardown(): Promise<void> {
  const tally: Partial<FaultTally> = JSON.parse(await fs.readFile(SUMMARY_FILE, 'utf8').catch(() => '{}'));
  console.log('\nFaults injected');
  console.log('| # | fault |\n| ---: | --- |');
  for (const [i, name] of (tally.faults ?? []).entries()) console.log(`| ${i + 1} | ${name} |`);
  const rows: Array<[string, number | undefined]> = [
    ['faults injected', tally.faultsInjected], ['executions run', tally.executionsRun],
    ['executions completed', tally.executionsCompleted], ['executions lost', tally.executionsLost],
    ['nodes checked', tally.nodesChecked], ['effects doubled (containers created, hooks run)', tally.effectsDoubled],
    ['hook runs counted', tally.hooksRun], ['nodes left detached', tally.nodesLeftDetached],
    ['bad inputs tried', tally.badInputsTried], ['bad inputs refused', tally.badInputsRefused],
  ];
  console.log('\nFault suite summary');
  console.log('| what | count |\n| --- | ---: |');
  for (const [what, n] of rows) console.log(`| ${what} | ${n ?? 0} |`);
}
