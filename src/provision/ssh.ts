// OpenSSH's server, for the remote-engine test: Stagecoach reaching a Docker Engine over SSH, as dockerode does it
// (`docker system dial-stdio` on the far side). Installed from Debian's packages without starting the system service:
// the test starts its own sshd on 127.0.0.1 and stops it by pid.
import { aptInstallWithoutServices } from './apt-services';
import { isDebian, isRoot, which, type Log } from './util';

/** The path of sshd and ssh-keygen, installing openssh-server (and its client) when sshd is missing. */
export async function ensureSshServer(log: Log): Promise<{ sshd: string; sshKeygen: string }> {
  let sshd = await which('sshd', { systemDirs: true });
  if (!sshd) {
    if (!isRoot() || !isDebian()) throw new Error('sshd is missing: install openssh-server (needs root on Debian to do it here)');
    // Not its system service: no sshd listening on port 22 for anyone.
    await aptInstallWithoutServices(['openssh-server', 'openssh-client'], log);
    sshd = await which('sshd', { systemDirs: true });
    if (!sshd) throw new Error('openssh-server installed but sshd is still missing');
  }
  const sshKeygen = await which('ssh-keygen', { systemDirs: true });
  if (!sshKeygen) throw new Error('ssh-keygen is missing: install openssh-client');
  return { sshd, sshKeygen };
}
