/**
 * The benchmarks' own Temporal dev server: the pinned CLI (src/provision), Stagecoach's search attributes, through
 * TestWorkflowEnvironment.createLocal as the tests start theirs.
 *
 * `tuned` raises the history service's task-queue reader poll rates. The dev server runs ONE history shard, and each
 * shard's transfer/timer/visibility queue readers load new tasks at most 20 times per second by default
 * (history.*ProcessorMaxPollRPS): past a short burst, every activity and workflow task then waits ~40 ms to be
 * loaded, so a sequence of activities runs at ~100 ms per activity whatever the workflow does. `stock` keeps the
 * defaults (what `stagecoach dev` and the tests run today).
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { findTemporalCli } from '../../src/provision';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/shared/search-attributes';

export type DevServerKind = 'tuned' | 'stock';

export const TUNED_DYNAMIC_CONFIG = [
  'history.transferProcessorMaxPollRPS=1000',
  'history.timerProcessorMaxPollRPS=1000',
  'history.visibilityProcessorMaxPollRPS=1000',
];

export async function startDevServer(kind: DevServerKind): Promise<{ env: TestWorkflowEnvironment; cli: string }> {
  const cli = await findTemporalCli();
  if (!cli) throw new Error('Temporal CLI not found: run `npm run provision` (npm run bench does it first).');
  const tuning = kind === 'tuned' ? TUNED_DYNAMIC_CONFIG.flatMap((value) => ['--dynamic-config-value', value]) : [];
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli },
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      extraArgs: ['--log-level', 'error', ...tuning],
    },
  });
  return { env, cli };
}
