/** Git is never handed an argument it could read as an option (issue 16, item 5), on a real repository. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGitActivities } from '../../src/activities/git';

let dir: string;
let repo: string;
let git: ReturnType<typeof createGitActivities>['activities'] & ReturnType<typeof createGitActivities>['helpers'];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-git-args-'));
  repo = path.join(dir, 'repo');
  const made = createGitActivities({ stateDir: dir });
  git = { ...made.activities, ...made.helpers };
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.invalid', GIT_COMMITTER_NAME: 'c', GIT_COMMITTER_EMAIL: 'c@example.invalid' };
  execFileSync('git', ['init', '-q', '-b', 'main', repo], { env });
  fs.writeFileSync(path.join(repo, 'VERSION'), '1.2.3\n');
  execFileSync('git', ['add', 'VERSION'], { cwd: repo, env });
  execFileSync('git', ['commit', '-q', '-m', 'first'], { cwd: repo, env });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('git arguments', () => {
  it('resolves an ordinary repository and reads a path after "--"', async () => {
    const { commitId, version, authorEmail } = await git.resolveBranch({ repository: repo, branch: 'main' });
    expect(version).toBe('1.2.3');
    expect(authorEmail).toBe('t@example.invalid'); // the author's, not the committer's: an ON_COMMIT execution's starter
    expect(await git.commitHasPath(repo, commitId, 'VERSION')).toBe(true);
    expect(await git.commitHasPath(repo, commitId, '--help')).toBe(false);
  });

  it('refuses a repository that git would read as an option, before running git', async () => {
    const marker = path.join(dir, 'pwned');
    const repository = `-oProxyCommand=touch ${marker}@host:x`;
    await expect(git.headCommit({ repository, branch: 'main' })).rejects.toMatchObject({ type: 'InvalidConfig', message: expect.stringContaining('begins with "-"') });
    await expect(git.resolveBranch({ repository, branch: 'main' })).rejects.toMatchObject({ type: 'InvalidConfig' });
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('refuses a pinned commit that is not a commit id', async () => {
    await expect(git.resolveBranch({ repository: repo, branch: 'main', pinnedCommit: '--output=/tmp/x' })).rejects.toMatchObject({ type: 'InvalidConfig' });
  });
});
