/**
 * Every command line in a shell block of README.md and docs/*.md is checked, so the docs cannot drift from the code:
 * - `stagecoach` / `./bin/stagecoach` lines (also inside `docker-compose exec … stagecoach …`) must name a command
 *   that exists, only flags that command has, as many arguments as its usage allows, and a configured pipeline.
 *   The commands and flags come from the CLI itself (`./bin/stagecoach <command> --help`), not from its source.
 * - `npm run X` / `npm test` must name a script of package.json.
 * - anything else must match an entry of ALLOWED below, which names the test that runs it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'stagecoach');

/** Commands the docs show that this test cannot run itself, and what runs them. */
const ALLOWED: Array<{ pattern: RegExp; runBy: string; reason: string }> = [
  { pattern: /^docker-compose /, runBy: 'test/e2e/compose.test.ts', reason: 'runs the compose commands of docs/operations.md verbatim' },
  { pattern: /^temporal workflow signal /, runBy: 'test/e2e/approval-control.test.ts', reason: 'approves and schedules through `temporal workflow signal`' },
  { pattern: /^curl .*\/api\/program\/1\/pipeline\/sample\/executions$/, runBy: 'test/e2e/api.test.ts', reason: 'sends GET …/executions with the sample tokens over real HTTP' },
  { pattern: /^(printf stagecoach-decision|ssh-keygen -Y (sign|verify) |echo alice ssh-ed25519 )/, runBy: 'test/unit/identity.test.ts', reason: 'signs a decision text with `ssh-keygen -Y sign` and verifies signatures with `ssh-keygen -Y verify`' },
  { pattern: /^(mkdir -p|cp -R|git -C) /, runBy: 'test/e2e/second-app.test.ts', reason: "makes the second app's repository with the commands of docs/deploy-your-own-app.md, then deploys it" },
];

interface DocCommand { file: string; line: number; text: string }

/** The command lines of the ```sh (shell, bash, console) blocks: comments dropped, continuations joined. */
function documentedCommands(): DocCommand[] {
  const files = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const commands: DocCommand[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
    let inShell = false;
    let pending: DocCommand | undefined;
    lines.forEach((raw, index) => {
      const fence = /^```(\w*)\s*$/.exec(raw);
      if (fence) {
        inShell = !inShell && ['sh', 'shell', 'bash', 'console'].includes(fence[1]);
        return;
      }
      if (!inShell) return;
      const text = withoutComment(raw.replace(/^\$ /, '')).trim();
      if (!text) return;
      const joined: DocCommand = pending ? { ...pending, text: `${pending.text} ${text}` } : { file, line: index + 1, text };
      pending = joined.text.endsWith('\\') ? { ...joined, text: joined.text.slice(0, -1).trim() } : undefined;
      if (!pending) commands.push(joined);
    });
  }
  return commands;
}

/** A line without its trailing `# comment` (a `#` inside quotes, or not after a space, is not one). */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i);
    }
  }
  return line;
}

/** Shell words, quotes removed; leading `NAME=value` assignments dropped. */
function words(text: string): string[] {
  const found = [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
  while (found.length && /^[A-Z_][A-Z0-9_]*=/.test(found[0])) found.shift();
  return found;
}

/** What a command's `--help` says: its flags (and which take a value) and how many arguments it takes. */
interface Usage { flags: Map<string, boolean>; required: number; optional: number; firstArgument?: string }

function parseUsage(command: string, help: string): Usage {
  const flags = new Map<string, boolean>([['--help', false], ['-h', false]]);
  for (const m of help.matchAll(/(--[a-z][a-z-]*)(?:[ =]([^\s\])|]+(?:\|[^\s\])]+)*))?/g)) {
    // A value placeholder: NAME, ISO-TIME, 8080, NORMAL|EMERGENCY, 127.0.0.1, a,b.
    const takesValue = m[2] !== undefined && /^([A-Z0-9][A-Za-z0-9_.|:-]*|[a-z]+(,[a-z]+)+)$/.test(m[2]);
    flags.set(m[1], (flags.get(m[1]) ?? false) || takesValue);
  }
  const lines = help.split('\n');
  const usageLine = lines.find((l) => l.startsWith('Usage:') && l.includes(`stagecoach ${command}`))
    ?? lines.find((l) => l.includes(`stagecoach ${command}`)) ?? '';
  const args = [...usageLine.matchAll(/(\[)?<([a-z-]+)>/g)];
  return {
    flags,
    required: args.filter((a) => !a[1]).length,
    optional: args.filter((a) => a[1]).length,
    firstArgument: args[0]?.[2],
  };
}

/** The `stagecoach …` part of a line: a direct call, or the CLI inside the compose worker container. */
function stagecoachWords(text: string): string[] | undefined {
  const w = words(text);
  const at = w.findIndex((word, i) => (word === './bin/stagecoach' || word === 'stagecoach') && (i === 0 || w[i - 1] === 'worker'));
  return at >= 0 ? w.slice(at + 1) : undefined;
}

const usages = new Map<string, Usage | undefined>();

async function helpOf(command: string): Promise<Usage | undefined> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, command, '--help'], { cwd: ROOT, timeout: 60_000 });
    return parseUsage(command, stdout);
  } catch {
    return undefined; // not a command: the CLI exits 2 with "unknown command"
  }
}

function problemsOf(command: DocCommand): string[] {
  const where = `${command.file}:${command.line}: ${command.text}`;
  const cli = stagecoachWords(command.text);
  if (cli) {
    const [name, ...rest] = cli;
    const usage = usages.get(name);
    if (!usage) return [`${where}: "${name}" is not a stagecoach command`];
    const problems: string[] = [];
    const positionals: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      if (!rest[i].startsWith('-')) {
        positionals.push(rest[i]);
        continue;
      }
      const flag = rest[i].split('=')[0];
      if (!usage.flags.has(flag)) problems.push(`${where}: ${name} has no flag ${flag}`);
      else if (usage.flags.get(flag) && !rest[i].includes('=')) i++; // its value
    }
    if (positionals.length < usage.required || positionals.length > usage.required + usage.optional) {
      problems.push(`${where}: ${name} takes ${usage.required}–${usage.required + usage.optional} arguments, got ${positionals.length}`);
    }
    const pipelines = path.join(ROOT, 'examples', 'pipelines');
    if (usage.firstArgument === 'pipeline' && positionals[0] && !fs.existsSync(path.join(pipelines, `${positionals[0]}.yaml`))) {
      problems.push(`${where}: no pipeline ${positionals[0]} in examples/pipelines`);
    }
    return problems;
  }
  const w = words(command.text);
  if (w[0] === 'npm') {
    const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const script = w[1] === 'run' ? w[2] : w[1];
    return script in scripts ? [] : [`${where}: package.json has no script "${script}"`];
  }
  const allowed = ALLOWED.find((a) => a.pattern.test(w.join(' ')));
  return allowed ? [] : [`${where}: not a stagecoach or npm command, and not in ALLOWED (add it with the test that runs it)`];
}

describe('commands in README.md and docs/*.md', () => {
  const commands = documentedCommands();

  beforeAll(async () => {
    const names = [...new Set(commands.map((c) => stagecoachWords(c.text)?.[0]).filter((n): n is string => n !== undefined))];
    for (let i = 0; i < names.length; i += 4) {
      await Promise.all(names.slice(i, i + 4).map(async (name) => usages.set(name, await helpOf(name))));
    }
  }, 5 * 60_000);

  it('finds the commands (a sanity check of the extraction)', () => {
    const texts = commands.map((c) => c.text);
    expect(texts).toContain('npm run demo');
    expect(texts).toContain('./bin/stagecoach approve sample 1 --key .stagecoach/keys/alice');
    expect(texts.some((t) => t.includes('#'))).toBe(false);
  });

  it('every command exists with the flags and arguments it is given', () => {
    expect(commands.flatMap(problemsOf)).toEqual([]);
  });

  it('reads flags and arguments from the CLI itself, so a wrong one fails', () => {
    const wrong = (text: string) => problemsOf({ file: 'example', line: 1, text });
    expect(wrong('./bin/stagecoach approve sample 1 --by alice --force')).toHaveLength(1);
    expect(wrong('./bin/stagecoach approve sample --by alice')).toHaveLength(1);
    expect(wrong('./bin/stagecoach start nosuch-pipeline')).toHaveLength(1);
    expect(wrong('./bin/stagecoach deploy sample')).toHaveLength(1);
    expect(wrong('npm run nosuch')).toHaveLength(1);
    expect(wrong('rm -rf /')).toHaveLength(1);
  });

  it('names, for each allowed command, a test that exists', () => {
    for (const a of ALLOWED) expect(fs.existsSync(path.join(ROOT, a.runBy)), `${a.runBy} (${a.reason})`).toBe(true);
    const used = ALLOWED.filter((a) => commands.some((c) => !stagecoachWords(c.text) && a.pattern.test(words(c.text).join(' '))));
    expect(used.map((a) => a.runBy), 'ALLOWED entries no doc uses').toEqual(ALLOWED.map((a) => a.runBy));
  });
});
