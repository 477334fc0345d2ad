/**
 * Help text, written from the command table alone: the usage line, every flag, the examples. Pure functions, so a
 * test can hold the help against the flags the parser accepts.
 */
import type { Command, Flag } from './command';
import { FOLLOW_EXIT } from '../follow';

export const EXIT_CODES_LINE = 'Exit codes: 0 ok, 1 error (or a followed execution that did not finish), 2 usage, 3 refused, ' +
  `4 not found, 5 Temporal unreachable (or no worker), ${FOLLOW_EXIT.waiting} waiting for a person (start --follow).`;

function flagWord(flag: Flag): string {
  return flag.type === 'boolean' ? `--${flag.name}` : `--${flag.name} ${flag.value ?? 'VALUE'}`;
}

/** `stagecoach schedule <pipeline> <execution> --by NAME (--at ISO-TIME | --now) [--json]`. */
export function usageLine(command: Command): string {
  const words = [`stagecoach ${command.name}`];
  for (const p of command.positionals) words.push(p.optional ? `[<${p.name}>]` : `<${p.name}>`);
  const groups = new Set<string>();
  for (const flag of command.flags) {
    if (flag.oneOf) {
      if (groups.has(flag.oneOf)) continue;
      groups.add(flag.oneOf);
      words.push(`(${command.flags.filter((f) => f.oneOf === flag.oneOf).map(flagWord).join(' | ')})`);
    } else {
      words.push(flag.required ? flagWord(flag) : `[${flagWord(flag)}]`);
    }
  }
  return words.join(' ');
}

const HELP_FLAG: Flag = { name: 'help', type: 'boolean', description: 'this help' };

/** Everything `stagecoach <command> --help` prints. */
export function commandHelp(command: Command): string {
  const rows = (entries: Array<[string, string]>) => {
    const width = Math.max(...entries.map(([left]) => left.length));
    return entries.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
  };
  const lines = [`stagecoach ${command.name}: ${command.summary}`, '', `Usage: ${usageLine(command)}`];
  if (command.details?.length) lines.push('', ...command.details);
  if (command.positionals.length) {
    lines.push('', 'Arguments:', ...rows(command.positionals.map((p) => [`<${p.name}>`, `${p.description}${p.optional ? ' (optional)' : ''}`])));
  }
  lines.push('', 'Flags:', ...rows([...command.flags, HELP_FLAG].map((f) => [
    f.name === 'help' ? '-h, --help' : flagWord(f), `${f.description}${f.required ? ' (required)' : ''}`,
  ])));
  lines.push('', command.examples.length > 1 ? 'Examples:' : 'Example:', ...command.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** `stagecoach --help`: every command in one line each. */
export function overviewHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: stagecoach <command> [arguments]      stagecoach <command> --help      stagecoach --version',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `stagecoach <command> --help` (or `stagecoach help <command>`) for its arguments, flags and an example.',
    'Temporal connection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (default localhost:7233, default).',
    EXIT_CODES_LINE,
  ].join('\n');
}
