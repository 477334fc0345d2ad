/**
 * What a CLI verb is: its arguments, flags, an example and what it runs. The argument parser (parse.ts) and the help
 * (help.ts) both read these, so `--help` always lists exactly the flags a command accepts.
 */

export type Values = Record<string, string | boolean | undefined>;

export interface Flag {
  name: string;
  /** A boolean flag takes no value. */
  type: 'string' | 'boolean';
  /** The value's placeholder in help, e.g. NAME or NORMAL|EMERGENCY. */
  value?: string;
  description: string;
  /** Shown in the usage line without brackets; the command itself checks it (its message names the flag). */
  required?: boolean;
  /** Flags of one group are alternatives: the usage line shows `(--at ISO-TIME | --now)`. */
  oneOf?: string;
}

export interface Positional {
  name: string;
  description: string;
  optional?: boolean;
}

export interface Command {
  name: string;
  /** One line, for the command list. */
  summary: string;
  /** More lines for `<command> --help` (defaults, what happens, exit codes that are its own). */
  details?: string[];
  positionals: Positional[];
  flags: Flag[];
  /** Whole command lines, starting `./bin/stagecoach <name>`; a unit test parses each of them. */
  examples: string[];
  run(values: Values, positionals: string[]): Promise<number>;
}

export const jsonFlag: Flag = { name: 'json', type: 'boolean', description: 'machine-readable output (JSON)' };

export function byFlag(description: string, opts: { required?: boolean } = {}): Flag {
  return { name: 'by', type: 'string', value: 'NAME', description, required: opts.required };
}

export const pipelineArg: Positional = { name: 'pipeline', description: 'the pipeline id (examples/pipelines/<id>.yaml)' };
export const executionArg: Positional = { name: 'execution', description: 'the execution number, as `start` and `list` show it' };
