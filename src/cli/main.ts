/**
 * The `stagecoach` command: `./bin/stagecoach <command>` or `npm run stagecoach -- <command>`. Each verb is a file in
 * commands/; this file only dispatches (help, version, errors and exit codes: commands/usage.ts lists the codes).
 */
import { COMMANDS, findCommand } from './commands';
import { out } from './commands/context';
import { parseCommandLine, wantsHelp } from './commands/parse';
import { commandHelp, overviewHelp, usageLine } from './commands/usage';
import { versionLine } from './commands/version';
import { EXIT, UsageError, exitCodeFor, messageFor } from './errors';
import { traceCommand } from '../observability/command-tracing';

/** Parses `argv` (without node and the script) and runs the command; answers the exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    out(overviewHelp(COMMANDS));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    out(versionLine());
    return EXIT.ok;
  }
  let usageOf: string | undefined;
  try {
    if (name.startsWith('-')) {
      throw new UsageError(`"${name}" is not a command; type the command first (\`stagecoach <command> ${name}\`), or run \`stagecoach --help\``);
    }
    const command = findCommand(name);
    usageOf = usageLine(command);
    if (wantsHelp(rest)) {
      out(commandHelp(command));
      return EXIT.ok;
    }
    const { values, positionals } = parseCommandLine(command, rest);
    return await traceCommand(command.name, () => command.run(values, positionals));
  } catch (err) {
    if (process.env.STAGECOACH_DEBUG === '1') process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.stderr.write(`stagecoach: ${messageFor(err)}\n`);
    if (err instanceof UsageError && usageOf) process.stderr.write(`usage: ${usageOf}\n(\`stagecoach ${name} --help\` for every flag)\n`);
    return exitCodeFor(err);
  }
}

/** Entry point of bin/stagecoach and `tsx src/cli/main.ts`. */
export function run(argv = process.argv.slice(2)): void {
  // `stagecoach logs ... | head`: a closed pipe ends the command quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.ok);
    throw err;
  });
  main(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`stagecoach: ${(err as Error)?.message ?? String(err)}\n`);
      process.exit(EXIT.failure);
    },
  );
}

if (require.main === module) run();
