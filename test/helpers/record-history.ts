/** Replay fixtures from workflow tests on the shared dev server (test/replay.test.ts replays every one). */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { FIXTURES_DIR } from './harness';

/** With RECORD_FIXTURES=1, saves a workflow's history as test/fixtures/histories/<fixture>.json. */
export async function recordHistory(fixture: string, workflowId: string): Promise<void> {
  if (!process.env.RECORD_FIXTURES) return;
  const { stdout } = await promisify(execFile)(inject('temporalCli'), [
    'workflow', 'show', '--address', inject('temporalAddress'), '--workflow-id', workflowId, '--output', 'json',
  ], { maxBuffer: 64 * 1024 * 1024 });
  await fs.writeFile(path.join(FIXTURES_DIR, `${fixture}.json`), stdout);
}
