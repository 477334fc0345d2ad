// Debian's Prometheus (2.42 in bookworm) and its promtool, for the observability test: it scrapes the worker and the
// API on 127.0.0.1 and checks the alert rules (deploy/prometheus/). Installed only when that test runs; the test
// starts its own server and stops it by pid, never the package's service.
import { aptInstallWithoutServices } from './apt-services';
import { isDebian, isRoot, which, withLock, type Log } from './util';

export interface PrometheusTools { prometheus: string; promtool: string }

async function findPrometheus(): Promise<PrometheusTools | undefined> {
  const prometheus = await which('prometheus', { systemDirs: true });
  const promtool = await which('promtool', { systemDirs: true });
  return prometheus && promtool ? { prometheus, promtool } : undefined;
}

/** The paths of prometheus and promtool, installing Debian's `prometheus` package when they are missing. */
export async function ensurePrometheus(log: Log): Promise<PrometheusTools> {
  const found = await findPrometheus();
  if (found) return found;
  if (!isRoot() || !isDebian()) throw new Error('prometheus is missing: install Debian\'s `prometheus` package (needs root on Debian to do it here)');
  return withLock('apt-prometheus', log, async () => {
    const again = await findPrometheus();
    if (again) return again;
    log('Prometheus not found; installing Debian\'s prometheus (once)');
    await aptInstallWithoutServices(['prometheus'], log);
    const installed = await findPrometheus();
    if (!installed) throw new Error('apt-get installed prometheus but prometheus or promtool is still missing');
    return installed;
  });
}
