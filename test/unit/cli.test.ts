/**
 * The CLI's command table against its help: every flag the parser accepts is in `--help`, every example parses, and
 * mistakes say what to type. No server: only parsing, help text and `--version`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, findCommand } from '../../src/cli/commands';
import { parseCommandLine } from '../../src/cli/commands/parse';
import { commandHelp, usageLine } from '../../src/cli/commands/usage';
import { main } from '../../src/cli/main';
import { PROJECT_ROOT } from '../../src/config/paths';

/** Shell words of an example line (double quotes only, which is all the examples use). */
const words = (line: string) => [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);

/** Runs main() and answers its exit code with what it wrote. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const code = await main(argv);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

afterEach(() => vi.restoreAllMocks());

describe('the command table is the help', () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))('%s: its help lists every flag, and every example parses', (_name, command) => {
    const help = commandHelp(command);
    for (const flag of command.flags) expect(help).toContain(`--${flag.name}`);
    for (const p of command.positionals) expect(help).toContain(`<${p.name}>`);
    expect(command.examples.length).toBeGreaterThan(0);
    for (const example of command.examples) {
      const [, verb, ...args] = words(example.replace(/^(\w+=\S+\s+)+/, ''));
      if (verb.startsWith('-')) continue; // `./bin/stagecoach --version`
      expect(verb).toBe(command.name);
      expect(() => parseCommandLine(command, args), example).not.toThrow();
    }
  });

  it('shows alternatives and required flags in the usage line', () => {
    expect(usageLine(findCommand('schedule'))).toBe('stagecoach schedule <pipeline> <execution> [--by NAME] [--key FILE] (--at ISO-TIME | --now) [--json]');
    expect(usageLine(findCommand('status'))).toBe('stagecoach status <pipeline> [<execution>] [--json]');
  });
});

describe('mistakes say what to type', () => {
  it('an unknown flag names the closest one and the accepted ones (exit 2)', async () => {
    const { code, stderr } = await run(['start', 'sample', '--folow']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/start: unknown flag --folow \(did you mean --follow\?\); its flags: --by, --key, --mode, --trigger, --follow, --json/);
    expect(stderr).toMatch(/usage: stagecoach start <pipeline>/);
  });

  it('an unknown command names the closest one', async () => {
    const { code, stderr } = await run(['aprove', 'sample', '1']);
    expect([code, stderr]).toEqual([2, expect.stringMatching(/unknown command "aprove" \(did you mean `stagecoach approve`\?\); run `stagecoach --help`/)]);
  });

  it('a flag without its value, and a missing argument', async () => {
    expect((await run(['approve', 'sample', '1', '--by'])).stderr).toMatch(/approve: --by needs a value: --by NAME/);
    expect((await run(['approve', 'sample'])).stderr).toMatch(/approve: missing <execution>/);
  });
});

describe('help and version', () => {
  it('`<command> --help` and `help <command>` print the same text, with an example', async () => {
    const viaFlag = await run(['override', '--help']);
    const viaHelp = await run(['help', 'override']);
    expect(viaFlag.code).toBe(0);
    expect(viaFlag.stdout).toBe(viaHelp.stdout);
    expect(viaFlag.stdout).toMatch(/Usage: stagecoach override <pipeline> <execution> \[--by NAME\] \[--key FILE\] --metrics a,b \[--json\]/);
    expect(viaFlag.stdout).toMatch(/Example:\n {2}\.\/bin\/stagecoach override sample 3/);
  });

  it('`--help` lists every command and the exit codes, waiting included', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const c of COMMANDS) expect(stdout).toContain(`  ${c.name} `);
    expect(stdout).toMatch(/6 waiting for a person/);
  });

  it('`--version` gives package.json\'s version and the Temporal SDK\'s', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
    const { code, stdout } = await run(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(`stagecoach ${pkg.version} (Temporal TypeScript SDK ${pkg.dependencies['@temporalio/client']}, Node ${process.versions.node})`);
  });
});
