/** The command line of one verb, read against its table entry; every mistake says what to type instead. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors';
import type { Command, Values } from './command';

/** The closest of `candidates` to `word` when it is a likely typo (edit distance at most 2), else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const distance = (a: string, b: string) => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      row = next;
    }
    return row[b.length];
  };
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d <= 2 && (!best || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** Values and positionals of `args` for `command`, or a UsageError that names the flag or argument and the fix. */
export function parseCommandLine(command: Command, args: string[]): { values: Values; positionals: string[] } {
  const name = command.name;
  const options: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(command.flags.map((f) => [f.name, { type: f.type }]));
  const seeHelp = `run \`stagecoach ${name} --help\` for its flags`;
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message)?.[1];
    if (unknown) {
      const flagName = unknown.replace(/^-+/, '').split('=')[0];
      const guess = closest(flagName, command.flags.map((f) => f.name));
      const known = command.flags.length ? `; its flags: ${command.flags.map((f) => `--${f.name}`).join(', ')}` : '; it takes no flags';
      throw new UsageError(`${name}: unknown flag ${unknown}${guess ? ` (did you mean --${guess}?)` : ''}${known}`, name);
    }
    const missingValue = /Option '(?:-\w, )?--([\w-]+) <value>' argument missing/.exec(message)?.[1];
    const flag = command.flags.find((f) => f.name === missingValue);
    if (flag) throw new UsageError(`${name}: --${flag.name} needs a value: --${flag.name} ${flag.value ?? 'VALUE'}`, name);
    // parseArgs explains '--' for values starting with a dash: noise here.
    throw new UsageError(`${name}: ${message.replace(/\. To specify a positional argument[\s\S]*$/, '')}; ${seeHelp}`, name);
  }
  const required = command.positionals.filter((p) => !p.optional);
  if (parsed.positionals.length < required.length) {
    const missing = required.slice(parsed.positionals.length).map((p) => `<${p.name}>`).join(' ');
    throw new UsageError(`${name}: missing ${missing}`, name);
  }
  if (parsed.positionals.length > command.positionals.length) {
    const extra = parsed.positionals[command.positionals.length];
    throw new UsageError(`${name}: unexpected argument "${extra}" (${command.positionals.length ? `it takes ${command.positionals.map((p) => `<${p.name}>`).join(' ')}` : 'it takes no arguments'})`, name);
  }
  return { values: parsed.values as Values, positionals: parsed.positionals };
}
