/**
 * All activities, from one factory that receives their dependencies (Docker clients, artifact store, configuration
 * directory, secrets), so tests and the worker wire them the same way. Workflows import only the type.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import Docker from 'dockerode';
import { pipelinesDir } from '../config/pipeline-config';
import { STATE_DIR, artifactsDir } from '../config/paths';
import { createDirectoryArtifactStore, type ArtifactStore } from './artifacts';
import { createAuditActivities } from './audit';
import { createConfigActivities } from './config';
import { createEventActivities } from './events';
import { createCacheActivities } from './cache';
import { createDockerBuildActivities } from './docker';
import { createDockerProvider, type DockerProvider } from './docker-hosts';
import { createGitActivities } from './git';
import { createHealthActivities } from './health';
import { createLoadBalancerActivities } from './load-balancer';
import { createTestActivities } from './tests';
import { createPerformanceTestActivities } from './performance-test';
import { createSecurityTestActivities } from './security-test';
import { createTopologyActivities } from './topology';

export interface ActivityDeps {
  docker: DockerProvider;
  artifacts: ArtifactStore;
  pipelinesDir: string;
  stateDir: string;
  /** Secret the dispatchers' purge tokens derive from. */
  secret: string;
}

/** Reads (or creates once) the worker's secret in the state directory; STAGECOACH_SECRET overrides it. */
export function workerSecret(stateDir: string): string {
  if (process.env.STAGECOACH_SECRET) return process.env.STAGECOACH_SECRET;
  const file = path.join(stateDir, 'secret');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    fs.mkdirSync(stateDir, { recursive: true });
    const secret = randomBytes(24).toString('hex');
    fs.writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
    return fs.readFileSync(file, 'utf8').trim();
  }
}

export function defaultActivityDeps(overrides: Partial<ActivityDeps> = {}): ActivityDeps {
  const stateDir = overrides.stateDir ?? STATE_DIR;
  return {
    docker: createDockerProvider(new Docker()),
    artifacts: createDirectoryArtifactStore(artifactsDir(stateDir)),
    pipelinesDir: pipelinesDir(),
    stateDir,
    secret: overrides.secret ?? workerSecret(stateDir),
    ...overrides,
  };
}

/**
 * Every activity heartbeats every 2 s while it runs, so that a crashed worker is noticed within the profiles'
 * heartbeat timeout (seconds, not the minutes of a start-to-close timeout) and cancellations arrive promptly.
 */
function withKeepAlive<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      let ctx: Context | undefined;
      try {
        ctx = Context.current();
      } catch {
        ctx = undefined; // called outside an activity (benchmarks' direct calls)
      }
      const beat = ctx ? setInterval(() => ctx!.heartbeat(), 2000) : undefined;
      try {
        return await fn(...args);
      } finally {
        if (beat) clearInterval(beat);
      }
    };
    Object.defineProperty(wrapped[name], 'name', { value: name });
  }
  return wrapped as T;
}

export function createActivities(deps: ActivityDeps) {
  return withKeepAlive(createActivityFunctions(deps));
}

function createActivityFunctions(deps: ActivityDeps) {
  const git = createGitActivities({ stateDir: deps.stateDir });
  return {
    ...createConfigActivities({ pipelinesDir: deps.pipelinesDir }),
    ...git.activities,
    ...createDockerBuildActivities({
      docker: deps.docker, artifacts: deps.artifacts, exportCommit: git.helpers.exportCommit, commitHasPath: git.helpers.commitHasPath,
    }),
    ...createTopologyActivities({ docker: deps.docker, secret: deps.secret }),
    ...createLoadBalancerActivities({ docker: deps.docker }),
    ...createCacheActivities({ docker: deps.docker, secret: deps.secret }),
    ...createHealthActivities(),
    ...createTestActivities({ commitHasPath: git.helpers.commitHasPath, docker: deps.docker, artifacts: deps.artifacts }),
    ...createAuditActivities({ artifacts: deps.artifacts }),
    ...createSecurityTestActivities({ artifacts: deps.artifacts }),
    ...createPerformanceTestActivities({ artifacts: deps.artifacts }),
    ...createEventActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
