// Provisioning: make this machine able to run Stagecoach's tests and demo (DESIGN.md, "Environment for development
// and CI"): the pinned temporal CLI, a Docker Engine, and the debian:bookworm-slim base image. Idempotent and fast
// when everything is already there.
import { DEFAULT_BASE_IMAGE, dockerEngineVersion, ensureBaseImage, ensureDockerEngine } from './docker';
import { ensureTemporalCli, temporalCliVersion } from './temporal';
import type { Log } from './util';

export { DEFAULT_BASE_IMAGE, DOCKERD_LOG, DOCKERD_PIDFILE, DOCKERD_STARTED_RECORD, debianMirror, dockerEngineVersion, ensureBaseImage, ensureDockerEngine } from './docker';
export { TEMPORAL_CLI_VERSION, ensureTemporalCli, findTemporalCli, temporalCliVersion } from './temporal';
export type { Log } from './util';

export interface ProvisionOptions {
  /** Receives each progress line, already prefixed with `[provision] `. Default: stdout. */
  log?: (line: string) => void;
  /** Docker Engine + base image (default true). */
  docker?: boolean;
  /** The temporal CLI (default true). */
  temporal?: boolean;
}

export interface ProvisionResult {
  temporalCli?: string;
  temporalVersion?: string;
  dockerVersion?: string;
  baseImage?: string;
  /** Set when this call started dockerd (also recorded in STATE_DIR/dockerd.started-by-stagecoach). */
  dockerdStartedPid?: number;
}

export async function provision(opts: ProvisionOptions = {}): Promise<ProvisionResult> {
  const sink = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log: Log = (line) => sink(`[provision] ${line}`);
  const result: ProvisionResult = {};
  if (opts.temporal !== false) {
    result.temporalCli = await ensureTemporalCli(log);
    result.temporalVersion = await temporalCliVersion(result.temporalCli);
  }
  if (opts.docker !== false) {
    const { startedPid } = await ensureDockerEngine(log);
    if (startedPid !== undefined) result.dockerdStartedPid = startedPid;
    await ensureBaseImage(log, DEFAULT_BASE_IMAGE);
    result.baseImage = DEFAULT_BASE_IMAGE;
    result.dockerVersion = await dockerEngineVersion();
  }
  return result;
}
