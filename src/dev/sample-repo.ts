/**
 * Turns examples/app into a real git repository, so that `validate` and `build` work on a real commit. The demo
 * commits a new VERSION on every run; tests commit variations (a failing unit test, a broken image).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { EXAMPLES_DIR } from '../config/paths';

const run = promisify(execFile);
export const SAMPLE_APP_DIR = path.join(EXAMPLES_DIR, 'app');

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'Stagecoach sample', GIT_AUTHOR_EMAIL: 'sample@stagecoach.invalid',
  GIT_COMMITTER_NAME: 'Stagecoach sample', GIT_COMMITTER_EMAIL: 'sample@stagecoach.invalid',
};

export async function git(repo: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd: repo, env: { ...process.env, ...GIT_ENV } });
  return stdout.trim();
}

/**
 * Makes `repo` hold the sample app's current files on branch `main`, with `version` in VERSION, and commits when
 * anything changed. Creates the repository if missing. Answers the head commit.
 */
export async function syncSampleRepo(repo: string, version: string, edit?: (dir: string) => Promise<void>): Promise<string> {
  await fs.mkdir(repo, { recursive: true });
  try {
    await fs.access(path.join(repo, '.git'));
  } catch {
    await git(repo, 'init', '--quiet', '--initial-branch=main');
  }
  // Replace the tracked files with the sample's (keeping .git), so removed files disappear too.
  for (const entry of await fs.readdir(repo)) {
    if (entry !== '.git') await fs.rm(path.join(repo, entry), { recursive: true, force: true });
  }
  await fs.cp(SAMPLE_APP_DIR, repo, { recursive: true });
  await fs.writeFile(path.join(repo, 'VERSION'), `${version}\n`);
  if (edit) await edit(repo);
  await git(repo, 'add', '--all');
  const changed = (await git(repo, 'status', '--porcelain')).length > 0;
  if (changed) await git(repo, 'commit', '--quiet', '-m', `Sample app ${version}`);
  return git(repo, 'rev-parse', 'HEAD');
}

/** Commits a change on top of the repository's head (tests: a failing unit test, a broken health endpoint). */
export async function commitChange(repo: string, message: string, edit: (dir: string) => Promise<void>): Promise<string> {
  await edit(repo);
  await git(repo, 'add', '--all');
  await git(repo, 'commit', '--quiet', '--allow-empty', '-m', message);
  return git(repo, 'rev-parse', 'HEAD');
}
