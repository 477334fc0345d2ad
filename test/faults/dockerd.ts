/**
 * The Docker Engine restarted under a running rollout: stopped (SIGTERM, as a host's service manager stops it) and
 * brought back the way provisioning starts it (src/provision: detached, its log and pid file in the state directory).
 * Only inside the fault suite, which holds the machine's Docker lock for its whole run.
 */
import fs from 'node:fs/promises';
import { DOCKERD_PIDFILE, ensureDockerEngine } from '../../src/provision';
import { findProcesses, pidAlive, sleep } from '../../src/provision/util';

/** The running dockerd: the one provisioning started (its pid file), else the only process of that name. */
async function enginePid(): Promise<number> {
  const recorded = Number((await fs.readFile(DOCKERD_PIDFILE, 'utf8').catch(() => '')).trim());
  if (recorded && pidAlive(recorded)) return recorded;
  const named: number[] = [];
  for (const pid of await findProcesses('dockerd')) {
    if ((await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim() === 'dockerd') named.push(pid);
  }
  if (named.length !== 1) throw new Error(`cannot tell which dockerd runs the engine (found ${named.length}): this fault needs the engine provisioning starts`);
  return named[0];
}

/** Stops the engine, waits until it is gone, and starts it again as provisioning does; answers when it answers. */
export async function restartDockerd(): Promise<{ stopped: number; started?: number }> {
  const stopped = await enginePid();
  process.kill(stopped, 'SIGTERM');
  for (let waited = 0; pidAlive(stopped); waited += 250) {
    if (waited > 90_000) throw new Error(`dockerd pid ${stopped} did not stop within 90 s of SIGTERM`);
    await sleep(250);
  }
  const { startedPid } = await ensureDockerEngine((line) => process.stdout.write(`[provision] ${line}\n`));
  return { stopped, started: startedPid };
}
