// Small process/file helpers shared by the provisioning steps. Everything long-running is async (spawn), so progress
// lines keep flowing while apt, go or debootstrap work.
import { spawn } from 'node:child_process';
import { constants as fsConstants, createWriteStream, existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { STATE_DIR } from '../config/paths';

export type Log = (line: string) => void;

export const LOG_DIR = path.join(STATE_DIR, 'logs');

/** Where system binaries live even when PATH (e.g. a non-login root shell) leaves out the sbin directories. */
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) return false;
    await fsp.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Like `which`, without spawning a process: PATH entries first, then (optionally) the usual system directories. */
export async function which(cmd: string, opts: { systemDirs?: boolean } = {}): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  if (opts.systemDirs) dirs.push(...SYSTEM_DIRS);
  for (const dir of dirs) {
    const candidate = path.join(dir, cmd);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Captured stdout (only the last 64 KiB; empty when output goes to a log file). */
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append stdout+stderr to this file (with a `$ command` header) instead of capturing it. */
  logFile?: string;
  timeoutMs?: number;
}

const CAPTURE_LIMIT = 64 * 1024;

/** Runs a command to completion. Rejects only when it cannot be started (e.g. ENOENT). */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  let sink: NodeJS.WritableStream | undefined;
  if (opts.logFile) {
    await fsp.mkdir(path.dirname(opts.logFile), { recursive: true });
    const stream = createWriteStream(opts.logFile, { flags: 'a' });
    stream.write(`\n$ ${shellQuote([cmd, ...args])}   # ${new Date().toISOString()}\n`);
    sink = stream;
  }
  try {
    return await new Promise<RunResult>((resolve, reject) => {
      const child = spawn(cmd, args, {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      const keep = (acc: string, chunk: Buffer): string => {
        const next = acc + chunk.toString('utf8');
        return next.length > CAPTURE_LIMIT ? next.slice(-CAPTURE_LIMIT) : next;
      };
      child.stdout.on('data', (c: Buffer) => (sink ? sink.write(c) : (stdout = keep(stdout, c))));
      child.stderr.on('data', (c: Buffer) => (sink ? sink.write(c) : (stderr = keep(stderr, c))));
      const timer = opts.timeoutMs
        ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs).unref()
        : undefined;
      child.on('error', (err) => {
        if (timer) clearTimeout(timer);
        reject(new Error(`cannot run ${cmd}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        sink?.write(`# exit code ${code ?? signal}\n`);
        resolve({ code, signal, stdout, stderr });
      });
    });
  } finally {
    if (sink) await new Promise<void>((resolve) => sink.end(() => resolve()));
  }
}

export function shellQuote(words: string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The last `n` non-empty lines of a file ('' if it does not exist). */
export async function tailFile(file: string, n = 20): Promise<string> {
  try {
    const text = await fsp.readFile(file, 'utf8');
    return text.split('\n').filter((l) => l.trim() !== '').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** Prints "still <doing>… Ns" every `everyMs` until the returned function is called. */
export function heartbeat(log: Log, doing: string, everyMs = 30_000): () => void {
  const started = Date.now();
  const timer = setInterval(() => {
    log(`still ${doing}… ${Math.round((Date.now() - started) / 1000)}s`);
  }, everyMs);
  return () => clearInterval(timer);
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function isDebian(): boolean {
  return existsSync('/etc/debian_version');
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Pids of live processes whose command line contains `needle` (Linux /proc scan; [] elsewhere). */
export async function findProcesses(needle: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await fsp.readdir('/proc');
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = (await fsp.readFile(`/proc/${entry}/cmdline`, 'utf8')).replace(/\0/g, ' ');
      if (cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // the process went away
    }
  }
  return found;
}

/**
 * Serialises slow provisioning work between concurrent runs (e.g. `npm test` and `npm run demo` started together):
 * a directory lock under STATE_DIR/locks holding the owner's pid. A lock whose owner is dead is taken over.
 * Callers re-check their condition inside `fn`, since another run may have done the work meanwhile.
 */
export async function withLock<T>(name: string, log: Log, fn: () => Promise<T>): Promise<T> {
  const dir = path.join(STATE_DIR, 'locks', `${name}.lock`);
  await fsp.mkdir(path.dirname(dir), { recursive: true });
  const started = Date.now();
  let lastNote = 0;
  for (;;) {
    try {
      await fsp.mkdir(dir);
      await fsp.writeFile(path.join(dir, 'pid'), `${process.pid}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await fsp.readFile(path.join(dir, 'pid'), 'utf8').catch(() => '')).trim());
      if (owner && !pidAlive(owner)) {
        await fsp.rm(dir, { recursive: true, force: true });
        continue;
      }
      if (!owner && Date.now() - started > 5_000) {
        // Created but never got its pid file (owner crashed in between): stale.
        await fsp.rm(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - lastNote >= 30_000) {
        lastNote = Date.now();
        log(`waiting for another provisioning run (pid ${owner || '?'}) to finish ${name}… ${Math.round((Date.now() - started) / 1000)}s`);
      }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
