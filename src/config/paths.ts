import path from 'node:path';

/** The project checkout: two levels above this file (src/config). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/**
 * Everything Stagecoach writes at run time on this machine (git-ignored): dockerd's log and pid when we start it,
 * the dev server's SQLite file, the demo's sample git repository, the artifact store, test results.
 */
export const STATE_DIR = process.env.STAGECOACH_STATE_DIR
  ? path.resolve(process.env.STAGECOACH_STATE_DIR)
  : path.join(PROJECT_ROOT, '.stagecoach');

export const EXAMPLES_DIR = path.join(PROJECT_ROOT, 'examples');

/**
 * SSH keys Stagecoach makes on this machine: the demo's sample users (alice, bob), whose public halves the sample
 * pipeline names, and the HTTP API's own key (`api`), which signs decisions for the users it authenticated.
 */
export const KEYS_DIR = path.join(STATE_DIR, 'keys');

/** The artifact store's directory (logs, reports): STAGECOACH_ARTIFACTS_DIR, else <state dir>/artifacts. */
export function artifactsDir(stateDir = STATE_DIR): string {
  return process.env.STAGECOACH_ARTIFACTS_DIR ? path.resolve(process.env.STAGECOACH_ARTIFACTS_DIR) : path.join(stateDir, 'artifacts');
}

/** The file an artifact reference names inside the store, or undefined when the reference escapes it. */
export function artifactFile(root: string, ref: string): string | undefined {
  const file = path.resolve(root, ref);
  return file.startsWith(path.resolve(root) + path.sep) ? file : undefined;
}

/** The reference of one of an execution's artifacts in the store: `<pipeline>/<execution>/<name>`. */
export function executionRef(pipelineId: string, executionId: string, name: string): string {
  return path.posix.join(pipelineId, executionId, name);
}
