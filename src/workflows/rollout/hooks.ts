/**
 * The app's deploy and post-deploy hooks (Adobe Commerce's phases), run in order in the new author container. A
 * failing deploy hook fails the rollout (and so rolls it back); a failing post-deploy hook, run once traffic is back on
 * the new version, is recorded and reported but changes nothing.
 */
import type { HookRun } from '../../shared/types';
import { containerActivities } from '../activity-profiles';
import type { RolloutContext } from './context';
import { AUTHOR_NODE } from '../../topology/names';

/** A deploy hook that exited non-zero: the rollout fails and rolls back (not an activity failure: nothing to retry). */
export class HookFailed extends Error {
  override name = 'HookFailed';
}

/** Runs one hook phase's commands; each run is recorded in the cycle. Hooks run forward only, never in a rollback. */
export async function runHooks(ctx: RolloutContext, phase: HookRun['phase']): Promise<void> {
  const { input, record } = ctx;
  const commands = input.app.hooks?.[phase] ?? [];
  if (!commands.length || !input.images.app) return;
  for (const [index, command] of commands.entries()) {
    const run = await containerActivities.runHook({
      ...ctx.target, node: AUTHOR_NODE, phase, index, command, hookKey: ctx.effectKey(AUTHOR_NODE, `${phase}-hook-${index}`, 'deploy'),
    });
    const hook: HookRun = { phase, index, command, exitCode: run.exitCode, output: run.output, durationMs: run.durationMs };
    const detail = `${phase} hook #${index + 1} exited ${run.exitCode}${run.output ? `: ${run.output.split('\n').slice(-3).join(' | ')}` : ''}`;
    record.recordEffect({ node: AUTHOR_NODE, op: phase === 'deploy' ? 'deployHook' : 'postDeployHook', restore: false, detail, hook });
    if (run.exitCode !== 0) {
      if (phase === 'deploy') throw new HookFailed(`deploy hook "${command}" exited ${run.exitCode}: ${run.output.split('\n').slice(-5).join('\n')}`);
      record.state.reason = `the post-deploy hook "${command}" exited ${run.exitCode} (the new version is serving)`;
      return;
    }
  }
}
