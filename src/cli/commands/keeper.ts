/** `stagecoach keeper`: an environment keeper's state: each node's condition, the last heal, the budget, its log. */
import type { KeeperState } from '../../shared/keeper';
import type { EnvironmentType } from '../../shared/types';
import { EXIT, UsageError } from '../errors';
import { jsonFlag, pipelineArg, type Command, type Positional, type Values } from './command';
import { out, withStagecoach } from './context';

export const KEEPER_ENVIRONMENTS: readonly EnvironmentType[] = ['stage', 'prod'];
export const environmentArg: Positional = { name: 'environment', description: 'stage or prod' };
const short = (image?: string) => image?.replace(/^sha256:/, '').slice(0, 12) ?? '-';

export function keeperStateLines(s: KeeperState): string[] {
  const lines = [`keeper of ${s.pipelineId} ${s.environmentType}${s.environment ? ` (${s.environment})` : ''}: ${s.status}` +
    `${s.pausedBy ? ` for execution ${s.pausedBy}` : ''}`];
  if (s.release) {
    lines.push(`release: execution ${s.release.executionId}, app ${short(s.release.images.app)}, dispatcher ${short(s.release.images.dispatcher)}, finished ${s.release.finishedAt}`);
  }
  lines.push(`checks: ${s.checks} every ${s.interval ?? '-'}${s.lastCheckAt ? `, last ${s.lastCheckAt}` : ''}`);
  lines.push(`heal budget: ${s.budget.left} of ${s.budget.perHour} left this hour`);
  for (const n of s.nodes) lines.push(`  ${n.name.padEnd(8)} ${n.condition}${n.detail ? `: ${n.detail}` : ''}`);
  if (s.lastHeal) {
    const h = s.lastHeal;
    lines.push(`last heal: ${h.id} of ${h.node} ${h.outcome} (${h.reason}), started ${h.startedAt}${h.endedAt ? `, ended ${h.endedAt}` : ''}`);
  }
  if (s.audit.length) lines.push('log:', ...s.audit.map((a) => `  ${a.at} ${a.what}${a.node ? ` ${a.node}` : ''}: ${a.detail}`));
  return lines;
}

async function keeper(values: Values, [pipelineId, environmentType]: string[]): Promise<number> {
  if (!KEEPER_ENVIRONMENTS.includes(environmentType as EnvironmentType)) {
    throw new UsageError(`keeper: the environment is one of ${KEEPER_ENVIRONMENTS.join(', ')} (got ${environmentType})`, 'keeper');
  }
  return withStagecoach('keepers cannot be queried', async (sc) => {
    const state = await sc.keeperState(pipelineId, environmentType);
    if (values.json === true) out(JSON.stringify(state, null, 2));
    else keeperStateLines(state).forEach((l) => out(l));
    return EXIT.ok;
  });
}

export const keeperCommand: Command = {
  name: 'keeper',
  summary: "an environment keeper's state: each node's health, the last heal, the heal budget left, its log",
  details: ['The keeper heals lost or unhealthy nodes from the release between deployments (docs/keeper.md).'],
  positionals: [pipelineArg, environmentArg],
  flags: [jsonFlag],
  examples: ['./bin/stagecoach keeper sample prod', './bin/stagecoach keeper sample prod --json'],
  run: keeper,
};
