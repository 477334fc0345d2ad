// Debian packages whose service the tests run themselves (sshd, Prometheus): installed without starting the
// package's own system service, so nothing listens on a public port for anyone.
import { existsSync, promises as fsp } from 'node:fs';
import { aptInstall } from './docker';
import type { Log } from './util';

const POLICY_RC_D = '/usr/sbin/policy-rc.d';

/** apt-get install with a policy-rc.d answering 101 ("do not start") while it runs, unless the machine has one. */
export async function aptInstallWithoutServices(packages: string[], log: Log): Promise<void> {
  const ownPolicy = !existsSync(POLICY_RC_D);
  if (ownPolicy) await fsp.writeFile(POLICY_RC_D, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    await aptInstall(packages, log);
  } finally {
    if (ownPolicy) await fsp.rm(POLICY_RC_D, { force: true });
  }
}
