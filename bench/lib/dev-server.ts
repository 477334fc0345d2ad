/**
 * The benchmarks' own Temporal dev server: the pinned CLI (src/provision), Stagecoach's search attributes, through
 * TestWorkflowEnvironment.createLocal as the tests start theirs.
 *
 * `tuned` starts it with DEV_SERVER_DYNAMIC_CONFIG (src/provision/temporal.ts), the history service's task queue
 * reader poll rates that `stagecoach dev`, the tests and docker-compose.yml also use. The dev server runs ONE history
 * shard, and each shard's transfer/timer/visibility queue readers load new tasks at most 20 times per second by
 * default (history.*ProcessorMaxPollRPS): past a short burst, every activity and workflow task then waits ~40 ms to
 * be loaded, so a sequence of activities runs at ~100 ms per activity whatever the workflow does. `stock` keeps the
 * server's defaults, to show what the tuning buys.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DEV_SERVER_DYNAMIC_CONFIG, devServerDynamicConfigArgs, findTemporalCli } from '../../src/provision';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/shared/search-attributes';

export type DevServerKind = 'tuned' | 'stock';

/** The tuning, as `KEY=VALUE` lines (for the log and the JSON report). */
export const TUNED_DYNAMIC_CONFIG = Object.entries(DEV_SERVER_DYNAMIC_CONFIG).map(([key, value]) => `${key}=${JSON.stringify(value)}`);

export async function startDevServer(kind: DevServerKind): Promise<{ env: TestWorkflowEnvironment; cli: string }> {
  const cli = await findTemporalCli();
  if (!cli) throw new Error('Temporal CLI not found: run `npm run provision` (npm run bench does it first).');
  const tuning = kind === 'tuned' ? devServerDynamicConfigArgs() : [];
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      extraArgs: ['--log-level', 'error', ...tuning],
    },
  });
  return { env, cli };
}
