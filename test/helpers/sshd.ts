/**
 * An sshd of the test's own on 127.0.0.1 (a free port, its own host key, one authorized key, its own log), so a
 * pipeline can name a "remote" Docker Engine over SSH. The far side runs `docker system dial-stdio` against this
 * machine's engine: the SSH transport, the key and the image copy are real; the engine behind them is the local one.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { STATE_DIR } from '../../src/config/paths';
import { ensureSshServer } from '../../src/provision/ssh';
import { freePort } from './free-port';

export interface Sshd { port: number; keyPath: string; logFile: string; stop(): Promise<void> }

export async function startSshd(dir: string): Promise<Sshd> {
  const { sshd, sshKeygen } = await ensureSshServer((line) => process.stdout.write(`[sshd] ${line}\n`));
  await fs.mkdir(dir, { recursive: true });
  const keygen = (file: string) => promisify(execFile)(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const hostKey = path.join(dir, 'host_ed25519');
  const keyPath = path.join(dir, 'client_ed25519');
  await keygen(hostKey);
  await keygen(keyPath);
  const authorized = path.join(dir, 'authorized_keys');
  await fs.copyFile(`${keyPath}.pub`, authorized);
  await fs.chmod(authorized, 0o600);
  await fs.mkdir('/run/sshd', { recursive: true }); // privilege separation directory sshd insists on
  const port = await freePort();
  const logFile = path.join(dir, 'sshd.log');
  const config = path.join(dir, 'sshd_config');
  await fs.writeFile(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `AuthorizedKeysFile ${authorized}`,
    'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no',
    'StrictModes no', `PidFile ${path.join(dir, 'sshd.pid')}`, 'LogLevel VERBOSE', 'MaxStartups 100:30:200', 'MaxSessions 50', '',
  ].join('\n'));
  const child: ChildProcess = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = await fs.open(logFile, 'w');
  child.stderr!.on('data', (chunk: Buffer) => void log.write(chunk));
  // CI stops by pid whatever a crashed test leaves behind.
  const pidFile = path.join(STATE_DIR, 'ci-pids', `sshd-${child.pid}`);
  await fs.mkdir(path.dirname(pidFile), { recursive: true });
  await fs.writeFile(pidFile, String(child.pid));
  const exited = new Promise<void>((resolve) => child.once('exit', () => { void fs.rm(pidFile, { force: true }); resolve(); }));
  // Ready when it accepts a connection.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`sshd did not start on 127.0.0.1:${port}; see ${logFile}:\n${await fs.readFile(logFile, 'utf8').catch(() => '')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port, keyPath, logFile,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      await log.close();
    },
  };
}
