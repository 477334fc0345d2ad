/** The fault suite's tally, kept in a file: test files add to it, the global teardown prints it. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { STATE_DIR } from '../../src/config/paths';

export const SUMMARY_FILE = path.join(STATE_DIR, 'faults', 'summary.json');
export interface FaultTally {
  faultsInjected: number; executionsCompleted: number; nodesChecked: number; effectsDoubled: number;
  nodesLeftDetached: number; badInputsTried: number; badInputsRefused: number;
}

/** Adds to the suite's tally (printed as a table when the suite ends). */
export async function tally(add: Partial<FaultTally>): Promise<void> {
  await fs.mkdir(path.dirname(SUMMARY_FILE), { recursive: true });
  const current: FaultTally = JSON.parse(await fs.readFile(SUMMARY_FILE, 'utf8').catch(() => '{}'));
  for (const [k, v] of Object.entries(add)) (current as unknown as Record<string, number>)[k] = ((current as unknown as Record<string, number>)[k] ?? 0) + (v ?? 0);
  await fs.writeFile(SUMMARY_FILE, JSON.stringify(current, null, 2));
}

