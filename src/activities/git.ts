/**
 * Git: resolve the configured branch to a commit and export exactly that commit's files for builds. Works on any URL
 * or path git can read, through a local mirror so every build of a commit sees the same bytes.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { resolveRepository } from '../config/pipeline-config';
import { NonRetryable } from '../shared/errors';

const run = promisify(execFile);

export interface GitDeps { stateDir: string }

export interface ResolvedCommit {
  commitId: string;
  /** The repository's VERSION file at that commit, or the short commit id. */
  version: string;
  /**
   * The commit's author email as git records it: an ON_COMMIT execution's starter is the person configured with it.
   * Absent in results recorded before it existed.
   */
  authorEmail?: string;
  /** When the commit was made (committer date, ISO 8601): where lead time for changes starts. */
  committedAt?: string;
}

/**
 * The repository as git's argument. Every git call also puts `--` before it, and a repository that begins with "-"
 * is refused outright: git would read it as an option (`-oProxyCommand=…` runs a command).
 */
function repositoryArgument(repository: string): string {
  const url = resolveRepository(repository);
  if (repository.trim().startsWith('-') || url.startsWith('-')) {
    throw ApplicationFailure.create({
      type: NonRetryable.InvalidConfig, nonRetryable: true,
      message: `Repository "${repository}" begins with "-": give a URL or a path (write ./${repository.trim()} for a directory of that name)`,
    });
  }
  return url;
}

/** A commit id as git prints it (hex): anything else could be read as an option or a revision expression. */
function commitArgument(commitId: string): string {
  if (!/^[0-9a-f]{7,64}$/.test(commitId)) {
    throw ApplicationFailure.create({ type: NonRetryable.InvalidConfig, nonRetryable: true, message: `"${commitId}" is not a commit id (hex digits)` });
  }
  return commitId;
}

async function git(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await run('git', args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  return stdout;
}

export function createGitActivities({ stateDir }: GitDeps) {
  const mirrorDir = (repository: string) =>
    path.join(stateDir, 'git-mirrors', createHash('sha1').update(repository).digest('hex').slice(0, 16));

  /** Mirror syncs in flight, per mirror directory: concurrent activities on one repository share one fetch. */
  const syncing = new Map<string, Promise<string>>();

  /** Keeps a bare mirror of the repository current and answers its path. */
  function syncMirror(repository: string): Promise<string> {
    const url = repositoryArgument(repository);
    const dir = mirrorDir(url);
    const previous = syncing.get(dir) ?? Promise.resolve(dir);
    const next = previous.catch(() => dir).then(async () => {
      try {
        await fs.access(path.join(dir, 'HEAD'));
        await git(['fetch', '--prune', '--quiet', 'origin', '+refs/heads/*:refs/heads/*'], dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        // Clone beside it, then rename: another process never sees a half-made mirror.
        await fs.mkdir(path.dirname(dir), { recursive: true });
        const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
        await git(['clone', '--mirror', '--quiet', '--', url, partial]);
        await fs.rename(partial, dir).catch(async (renameErr: NodeJS.ErrnoException) => {
          await fs.rm(partial, { recursive: true, force: true });
          if (renameErr.code !== 'ENOTEMPTY' && renameErr.code !== 'EEXIST') throw renameErr;
        });
      }
      return dir;
    });
    syncing.set(dir, next);
    return next;
  }

  /** The head of the configured branch (the ON_COMMIT poller's question). */
  async function headCommit(input: { repository: string; branch: string }): Promise<{ commitId: string }> {
    return { commitId: await branchHead(input) };
  }

  /** The commit at the head of a branch, straight from the repository (no mirror): what a preflight needs. */
  async function branchHead(input: { repository: string; branch: string }): Promise<string> {
    const url = repositoryArgument(input.repository);
    let heads: string;
    try {
      heads = await git(['ls-remote', '--heads', '--', url, `refs/heads/${input.branch}`]);
    } catch (err) {
      throw ApplicationFailure.create({
        type: NonRetryable.RepositoryNotFound,
        message: `Repository ${input.repository} cannot be read: ${String((err as { stderr?: string }).stderr ?? err).trim().split('\n')[0]}`,
        nonRetryable: true,
      });
    }
    const line = heads.split('\n').find((l) => l.endsWith(`refs/heads/${input.branch}`));
    if (!line) {
      const all = await git(['ls-remote', '--heads', '--', url]).catch(() => '');
      const branches = all.split('\n').filter(Boolean).map((l) => l.split('refs/heads/')[1]);
      throw ApplicationFailure.create({
        type: NonRetryable.BranchNotFound,
        message: `Branch "${input.branch}" does not exist in ${input.repository}` +
          (branches.length ? ` (branches: ${branches.join(', ')})` : ''),
        nonRetryable: true,
      });
    }
    return line.split(/\s+/)[0];
  }

  /**
   * The commit to build: the branch's head, or `pinnedCommit` (a push update rebuilds the commit already in
   * Production) after checking that the branch still exists and the commit is in the repository.
   */
  async function resolveBranch(input: { repository: string; branch: string; pinnedCommit?: string }): Promise<ResolvedCommit> {
    const head = await branchHead(input);
    const mirror = await syncMirror(input.repository);
    const commitId = commitArgument(input.pinnedCommit ?? head);
    if (input.pinnedCommit) {
      await git(['cat-file', '-e', `${commitId}^{commit}`], mirror).catch(() => {
        throw ApplicationFailure.create({
          type: NonRetryable.BranchNotFound, nonRetryable: true,
          message: `Commit ${commitId} is no longer in ${input.repository}: a push update rebuilds the commit in Production`,
        });
      });
    }
    const version = (await git(['show', `${commitId}:VERSION`], mirror).catch(() => '')).trim() || commitId.slice(0, 12);
    const authorEmail = (await git(['log', '-1', '--format=%ae', commitId, '--'], mirror)).trim();
    const committedAt = (await git(['show', '-s', '--format=%cI', commitId], mirror).catch(() => '')).trim();
    return { commitId, version, authorEmail, ...(committedAt ? { committedAt: new Date(committedAt).toISOString() } : {}) };
  }

  /**
   * A tar stream of one directory of a commit (the repository root by default): the exact build context.
   * The caller consumes the stream; errors surface on it.
   */
  async function exportCommit(repository: string, commitId: string, subdir = ''): Promise<Readable> {
    const mirror = await syncMirror(repository);
    const treeish = subdir && subdir !== '.' ? `${commitArgument(commitId)}:${subdir}` : commitArgument(commitId);
    const child = spawn('git', ['archive', '--format=tar', treeish], { cwd: mirror, stdio: ['ignore', 'pipe', 'pipe'] });
    // A plain PassThrough, not the child's pipe socket: dockerode sends a small, already-finished socket as an empty
    // body ("Cannot locate specified Dockerfile").
    const out = new PassThrough();
    child.stdout.pipe(out);
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => {
      if (code !== 0) out.destroy(new Error(`git archive ${treeish} failed: ${stderr.trim()}`));
    });
    return out;
  }

  /** Whether a path exists in a commit (files the app may or may not ship, such as functional tests). */
  async function commitHasPath(repository: string, commitId: string, filePath: string): Promise<boolean> {
    const mirror = await syncMirror(repository);
    const out = await git(['ls-tree', '--name-only', commitArgument(commitId), '--', filePath], mirror).catch(() => '');
    return out.trim().length > 0;
  }

  return { activities: { resolveBranch, headCommit }, helpers: { branchHead, exportCommit, commitHasPath, syncMirror } };
}
