/**
 * The command table: one entry per verb, each in its own file. The parser and the help read only this table.
 * `dev`, `worker` and `api` load the worker or server side (native SDK, activities, fastify) only when they run, so
 * the client commands start fast.
 */
import { EXIT, UsageError } from '../errors';
import { apiCommand } from './api';
import { approveCommand } from './approve';
import { cancelCommand } from './cancel';
import type { Command } from './command';
import { out } from './context';
import { devCommand } from './dev';
import { evidenceCommand } from './evidence';
import { keeperCommand } from './keeper';
import { scaleCommand } from './scale';
import { insightsCommand } from './insights';
import { listCommand } from './list';
import { logsCommand } from './logs';
import { notifyCommitCommand } from './notify-commit';
import { closest } from './parse';
import { overrideCommand } from './override';
import { pushUpgradeCommand } from './push-upgrade';
import { reExecuteCommand } from './re-execute';
import { rejectCommand } from './reject';
import { scheduleCommand } from './schedule';
import { signCommand } from './sign';
import { startCommand } from './start';
import { statusCommand } from './status';
import { verifyCommand } from './verify';
import { commandHelp, overviewHelp } from './usage';
import { versionCommand } from './version';
import { workerCommand } from './worker';

const helpCommand: Command = {
  name: 'help',
  summary: 'this list, or one command\'s usage, flags and example',
  positionals: [{ name: 'command', description: 'the command to explain', optional: true }],
  flags: [],
  examples: ['./bin/stagecoach help start'],
  run: async (_values, [name]) => {
    if (name === undefined) {
      out(overviewHelp(COMMANDS));
      return EXIT.ok;
    }
    out(commandHelp(findCommand(name)));
    return EXIT.ok;
  },
};

/** In the order `stagecoach --help` lists them. */
export const COMMANDS: readonly Command[] = [
  devCommand, workerCommand, apiCommand, startCommand, statusCommand, listCommand, approveCommand, rejectCommand,
  scheduleCommand, overrideCommand, cancelCommand, signCommand, reExecuteCommand, notifyCommitCommand, pushUpgradeCommand,
  logsCommand, keeperCommand, scaleCommand, insightsCommand, evidenceCommand, verifyCommand, versionCommand, helpCommand,
];

/** The command called `name`; else a usage error naming the closest command and where the list is. */
export function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command) return command;
  const guess = closest(name, COMMANDS.map((c) => c.name));
  throw new UsageError(`unknown command "${name}"${guess ? ` (did you mean \`stagecoach ${guess}\`?)` : ''}; ` +
    'run `stagecoach --help` for the list of commands');
}
