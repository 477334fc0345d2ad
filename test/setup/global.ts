/**
 * Starts one real Temporal dev server (the pinned CLI, through TestWorkflowEnvironment.createLocal) with Stagecoach's
 * search attributes, its task queue readers tuned as `stagecoach dev` tunes them, and its Web UI (for
 * test/e2e/webui-browser.test.ts), and bundles the workflow code once for every test file's worker.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { PROJECT_ROOT, STATE_DIR } from '../../src/config/paths';
import { devServerDynamicConfigArgs, findTemporalCli } from '../../src/provision';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/shared/search-attributes';
import { freePort } from '../helpers/free-port';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCli: string;
    /** The dev server's Web UI, e.g. http://127.0.0.1:41234 */
    temporalUiUrl: string;
    workflowBundlePath: string;
  }
}

let env: TestWorkflowEnvironment | undefined;

export async function setup(project: TestProject): Promise<void> {
  const temporalCli = await findTemporalCli();
  if (!temporalCli) throw new Error('Temporal CLI not found: run `npm run provision` (npm test does it first).');
  const uiPort = await freePort();
  env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCli },
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      ui: true,
      uiPort,
      // Fast task dispatch, as `stagecoach dev` runs it (DEV_SERVER_DYNAMIC_CONFIG in src/provision/temporal.ts).
      extraArgs: ['--log-level', 'error', ...devServerDynamicConfigArgs()],
    },
  });
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(PROJECT_ROOT, 'src', 'workflows', 'index.ts'), logger: quietLogger });
  const workflowBundlePath = path.join(STATE_DIR, 'test', 'workflow-bundle.js');
  await fs.mkdir(path.dirname(workflowBundlePath), { recursive: true });
  await fs.writeFile(workflowBundlePath, code);
  project.provide('temporalAddress', env.address);
  project.provide('temporalCli', temporalCli);
  project.provide('temporalUiUrl', `http://127.0.0.1:${uiPort}`);
  project.provide('workflowBundlePath', workflowBundlePath);
}

export async function teardown(): Promise<void> {
  await env?.teardown();
}

const quietLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m: string) => console.warn(m), error: (m: string) => console.error(m),
};
