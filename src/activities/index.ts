/**
 * All activities, from one factory that receives their dependencies (Docker clients, artifact store, configuration
 * directory, secrets, the browser), so tests and the worker wire them the same way (the worker makes them:
 * src/worker.ts). Workflows import only the type.
 */
import { Context } from '@temporalio/activity';
import type { ArtifactStore } from './artifacts';
import { createAuditActivities } from './audit';
import { createConfigActivities } from './config';
import { createEventActivities } from './events';
import { createCacheActivities } from './cache';
import type { DockerProvider } from './docker-hosts';
import { createEngineCheckActivities } from './engine-checks';
import { createGitActivities } from './git';
import { createImageBuildActivities } from './image-build';
import { createHealthActivities } from './health';
import { createKeeperActivities } from './keeper';
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
  /** The deployment's shared secret: the dispatchers' purge tokens and the runtime API's credentials derive from it. */
  secret: string;
  /** Finds the Chromium binary the content audit drives; undefined when there is none. */
  chromium: () => Promise<string | undefined>;
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
    ...createEngineCheckActivities({ docker: deps.docker }),
    ...createImageBuildActivities({
      docker: deps.docker, artifacts: deps.artifacts, exportCommit: git.helpers.exportCommit, commitHasPath: git.helpers.commitHasPath,
    }),
    ...createTopologyActivities({ docker: deps.docker, secret: deps.secret }),
    ...createLoadBalancerActivities({ docker: deps.docker, secret: deps.secret }),
    ...createCacheActivities({ docker: deps.docker, secret: deps.secret }),
    ...createHealthActivities(),
    ...createTestActivities({ commitHasPath: git.helpers.commitHasPath, docker: deps.docker, artifacts: deps.artifacts }),
    ...createAuditActivities({ artifacts: deps.artifacts, chromium: deps.chromium }),
    ...createSecurityTestActivities({ artifacts: deps.artifacts }),
    ...createPerformanceTestActivities({ artifacts: deps.artifacts }),
    ...createEventActivities(),
    ...createKeeperActivities({ docker: deps.docker, secret: deps.secret }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
