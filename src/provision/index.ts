// Provisioning: make this machine able to run Stagecoach's tests and demo (DESIGN.md, "Environment for development
// and CI"): the pinned temporal CLI, a Docker Engine, and the debian:bookworm-slim base image. Idempotent and fast
// when everything is already there.
import { ensureChromium } from './chromium';
import { ensureCompose, ensureComposeImages } from './compose';
import { DEFAULT_BASE_IMAGE, dockerEngineVersion, ensureBaseImage, ensureDockerEngine } from './docker';
import { ensureTemporalCli, temporalCliVersion } from './temporal';
import type { Log } from './util';

export { DEBIAN_MIRROR_ENV, debianMirror } from './apt-sources';
export { DEFAULT_BASE_IMAGE, DOCKERD_LOG, DOCKERD_PIDFILE, DOCKERD_STARTED_RECORD, dockerEngineVersion, ensureBaseImage, ensureDockerEngine } from './docker';
export {
  DEV_SERVER_DYNAMIC_CONFIG, TEMPORAL_CLI_VERSION, devServerDynamicConfigArgs, ensureTemporalCli, findTemporalCli, temporalCliVersion,
} from './temporal';
export { DEBIAN_CHROMIUM, ensureChromium, findChromium, provisionAuditBrowser } from './chromium';
export { COMPOSE_FILE, NODE_IMAGE, TEMPORAL_IMAGE, WORKER_IMAGE, ensureCompose, ensureComposeImages, findCompose, type ComposeCommand } from './compose';
export type { Log } from './util';

export interface ProvisionOptions {
  /** Receives each progress line, already prefixed with `[provision] `. Default: stdout. */
  log?: (line: string) => void;
  /** Docker Engine + base image (default true). */
  docker?: boolean;
  /** The temporal CLI (default true). */
  temporal?: boolean;
  /** Debian's chromium, for the browser tests (default false: only when asked). */
  chromium?: boolean;
  /** docker compose and the images docker-compose.yml cannot pull here (default false; implies docker and temporal). */
  compose?: boolean;
}

export interface ProvisionResult {
  temporalCli?: string;
  temporalVersion?: string;
  dockerVersion?: string;
  baseImage?: string;
  /** Set when this call started dockerd (also recorded in STATE_DIR/dockerd.started-by-stagecoach). */
  dockerdStartedPid?: number;
  chromium?: string;
  /** The compose command, e.g. `/usr/bin/docker-compose` or `/usr/bin/docker compose`. */
  compose?: string;
  composeVersion?: string;
}

export async function provision(opts: ProvisionOptions = {}): Promise<ProvisionResult> {
  const sink = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log: Log = (line) => sink(`[provision] ${line}`);
  const result: ProvisionResult = {};
  if (opts.temporal !== false || opts.compose) {
    result.temporalCli = await ensureTemporalCli(log);
    result.temporalVersion = await temporalCliVersion(result.temporalCli);
  }
  if (opts.docker !== false || opts.compose) {
    const { startedPid } = await ensureDockerEngine(log);
    if (startedPid !== undefined) result.dockerdStartedPid = startedPid;
    await ensureBaseImage(log, DEFAULT_BASE_IMAGE);
    result.baseImage = DEFAULT_BASE_IMAGE;
    result.dockerVersion = await dockerEngineVersion();
  }
  if (opts.compose) {
    const compose = await ensureCompose(log);
    result.compose = [compose.file, ...compose.args].join(' ');
    result.composeVersion = compose.version;
    await ensureComposeImages(log, { temporalCli: result.temporalCli! });
  }
  if (opts.chromium) result.chromium = await ensureChromium(log);
  return result;
}
