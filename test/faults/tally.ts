/** The fault suite's tally, kept in a file: test files add to it, the global teardown prints it. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { STATE_DIR } from '../../src/config/paths';

export const SUMMARY_FILE = path.join(STATE_DIR, 'faults', 'summary.json');
export interface FaultCounts {
  faultsInjected: number; executionsRun: number; executionsCompleted: number; executionsLost: number; nodesChecked: number;
  effectsDoubled: number; hooksRun: number; nodesLeftDetached: number; badInputsTried: number; badInputsRefused: number;
}
/** The counts, and each injected fault by name (test file: what was done), in the order they happened. */
export interface FaultTally extends FaultCounts { faults: string[] }

/** Adds to the suite's tally (printed as a table when the suite ends). */
export async function tally(add: Partial<FaultCounts>): Promise<void> {
  await update((current) => {
    const counts = current as unknown as Record<string, number>;
    for (const [k, v] of Object.entries(add)) counts[k] = (counts[k] ?? 0) + (v ?? 0);
  });
}

/** Records injected faults by name; each counts as one fault injected. */
export async function tallyFaults(file: string, names: string[]): Promise<void> {
  await update((current) => {
    current.faults = [...(current.faults ?? []), ...names.map((n) => `${file}: ${n}`)];
    current.faultsInjected = (current.faultsInjected ?? 0) + names.length;
  });
}

async function update(change: (current: Partial<FaultTally>) => void): Promise<void> {
  await fs.mkdir(path.dirname(SUMMARY_FILE), { recursive: true });
  const current: Partial<FaultTally> = JSON.parse(await fs.readFile(SUMMARY_FILE, 'utf8').catch(() => '{}'));
  change(current);
  await fs.writeFile(SUMMARY_FILE, JSON.stringify(current, null, 2));
}
