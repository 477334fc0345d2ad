// OpenSSH's server, for the remote-engine test: Stagecoach reaching a Docker Engine over SSH, as dockerode does it
// (`docker system dial-stdio` on the far side). Installed from Debian's packages without starting the system service:
// the test starts its own sshd on 127.0.0.1 and stops it by pid.
import { existsSync, promises as fsp } from 'node:fs';
import { aptInstall } from './docker';
import { isDebian, isRoot, which, type Log } from './util';

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

/** The path of sshd and ssh-keygen, installing openssh-server (and its client) when sshd is missing. */
export async function ensureSshServer(log: Log): Promise<{ sshd: string; sshKeygen: string }> {
  let sshd = await which('sshd', { systemDirs: true });
  if (!sshd) {
    if (!isRoot() || !isDebian()) throw new Error('sshd is missing: install openssh-server (needs root on Debian to do it here)');
    // policy-rc.d exit 101 tells the package not to start its service: no sshd listening on port 22 for anyone.
    const ownPolicy = !existsSync(POLICY_RC_D);
    if (ownPolicy) await fsp.writeFile(POLICY_RC_D, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      await aptInstall(['openssh-server', 'openssh-client'], log);
    } finally {
      if (ownPolicy) await fsp.rm(POLICY_RC_D, { force: true });
    }
    sshd = await which('sshd', { systemDirs: true });
    if (!sshd) throw new Error('openssh-server installed but sshd is still missing');
  }
  const sshKeygen = await which('ssh-keygen', { systemDirs: true });
  if (!sshKeygen) throw new Error('ssh-keygen is missing: install openssh-client');
  return { sshd, sshKeygen };
}
