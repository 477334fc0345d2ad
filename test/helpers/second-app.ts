/**
 * The worked example of docs/deploy-your-own-app.md, as the page gives it: its shell blocks, read from the page
 * itself, so a test that runs them runs what a reader copies.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../src/config/paths';

export const SECOND_APP_DOC = path.join(PROJECT_ROOT, 'docs', 'deploy-your-own-app.md');
export const SECOND_APP_PIPELINE = path.join(PROJECT_ROOT, 'examples', 'pipelines', 'second-app.yaml');
/** Where the page's commands put the app's repository, relative to the directory they run in. */
export const SECOND_APP_REPO = path.join('.stagecoach', 'repos', 'second-app');

const CLI_PREFIX = './bin/stagecoach ';

/** The page's ```sh blocks, each as its non-empty lines. */
async function shellBlocks(): Promise<string[][]> {
  const text = await fs.readFile(SECOND_APP_DOC, 'utf8');
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].split('\n').filter(Boolean));
}

/**
 * The page's commands for the second app: `repository` makes its git repository (the block that copies
 * examples/second-app, without its CLI line), `start` is that block's CLI line, `afterApproval` the next block's
 * CLI lines (status, approve, schedule, logs). Each CLI line is given without its `./bin/stagecoach ` prefix.
 */
export async function secondAppCommands(): Promise<{ repository: string[]; start: string; afterApproval: string[] }> {
  const blocks = await shellBlocks();
  const at = blocks.findIndex((lines) => lines.some((l) => l.startsWith('cp -R examples/second-app ')));
  if (at < 0 || !blocks[at + 1]) throw new Error(`${SECOND_APP_DOC} has no block that copies examples/second-app, followed by another`);
  const cli = (lines: string[]) => lines.filter((l) => l.startsWith(CLI_PREFIX)).map((l) => l.slice(CLI_PREFIX.length));
  const [start] = cli(blocks[at]);
  if (!start) throw new Error(`${SECOND_APP_DOC}: the block that copies examples/second-app starts no pipeline`);
  return { repository: blocks[at].filter((l) => !l.startsWith(CLI_PREFIX)), start, afterApproval: cli(blocks[at + 1]) };
}

/**
 * Runs the page's repository commands in `dir` (with examples/ linked in, as in a checkout) and returns the path of
 * the repository they made.
 */
export async function makeSecondAppRepo(dir: string): Promise<string> {
  await fs.symlink(path.join(PROJECT_ROOT, 'examples'), path.join(dir, 'examples'));
  for (const line of (await secondAppCommands()).repository) await promisify(execFile)('sh', ['-c', line], { cwd: dir });
  return path.join(dir, SECOND_APP_REPO);
}
