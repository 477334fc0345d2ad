/**
 * Fake activities: the names and signatures of `createActivities(deps)` (src/activities), each answering a plausible
 * result at once with no I/O, over a small in-memory world (which image each node runs, each load balancer server's
 * state). Registered under the real names on a worker that runs the REAL workflows, they test the workflows without
 * Docker (test/workflows) and isolate what Temporal and the workflow code cost in the benchmarks (bench/).
 *
 * An environment seen for the first time already runs a "previous" release on every node, so a rollback always has
 * something to restore.
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Activities } from '../../src/activities';
import { createKeeperMessaging } from '../../src/activities/keeper';
import type { PipelineConfig } from '../../src/shared/types';

export type ActivityName = keyof Activities;

/** One activity call as the fakes saw it: its name and its (typed) input, in which workflow, when (Date.now()). */
export type ActivityCall = {
  [K in ActivityName]: { activityType: K; input: Parameters<Activities[K]>[0]; workflowId: string; at: number }
}[ActivityName];

/** One container of an environment: what it runs now, and the host port its health check is reached on. */
export interface FakeNode { pipelineId: string; environment: string; node: string; image: string; port: number }

export type ServerState = 'ready' | 'drain' | 'maint';

export interface FakeWorld {
  /** Activities started, by name. */
  counts: Map<string, number>;
  /** The node behind a health check URL (by its port). */
  nodeServing(url: string): FakeNode | undefined;
  /** The environment's nodes now, by node name (`author`, `publish-1`, `dispatcher-1`, ...). */
  nodesOf(pipelineId: string, environment: string): Record<string, FakeNode>;
  /** The load balancer's servers (`pair-1`, ...) and their admin state now. */
  serversOf(pipelineId: string, environment: string): Record<string, ServerState>;
  /** The image a node ran before any fake deployment: what a complete rollback restores. */
  previousImage(pipelineId: string, environment: string, node: string): string;
  /**
   * Takes a pair out of service as HAProxy's checks would when its publish is lost from outside (`show stat` then
   * says DOWN), or brings it back. Replacing the pair's publish brings it back too.
   */
  setPairDown(pipelineId: string, environment: string, pair: number, down: boolean): void;
  /**
   * Removes a node's container as `docker rm -f` from outside would: the keeper's inspection finds none, and HAProxy
   * takes a publish's or dispatcher's pair out of service. Deploying the node brings it back.
   */
  loseNode(pipelineId: string, environment: string, node: string): void;
  /** The author email of each repository's commit (default: author@fake.invalid), as `resolveBranch` answers it. */
  commitAuthors: Map<string, string>;
}

export interface FakeActivityOptions {
  /** What `loadPipeline` answers for a pipeline id. */
  pipelineConfig(pipelineId: string): PipelineConfig;
  /**
   * Runs at the start of every activity, inside its context, before the fake answers: records the call, fails it
   * (throws) or holds it (awaits). A hold that should end with the workflow's cancellation heartbeats and awaits
   * `Context.current().cancelled`.
   */
  onStart?(call: ActivityCall): void | Promise<void>;
  /** Every activity name of the real createActivities(); those without a fake here are registered as no-ops. */
  realNames?: string[];
}

export const fakeDigest = (...parts: string[]) => `sha256:${createHash('sha256').update(parts.join('/')).digest('hex')}`;
const fakeCommit = (repository: string) => createHash('sha1').update(repository).digest('hex');

/** The image every node of an environment runs before the fakes deploy anything to it. */
export const previousReleaseImage = (pipelineId: string, environment: string, node: string) =>
  fakeDigest(pipelineId, environment, node.replace(/-\d+$/, ''), 'previous');

type FakeActivities = { [K in ActivityName]?: Activities[K] };

/**
 * The fake activities and the world they act on. Every real activity name without a fake here (one added to
 * src/activities after this file) is registered as a generic no-op answering `{}` and reported in `missing`, so a
 * worker keeps running and says what it had to guess.
 */
export function createFakeActivities(options: FakeActivityOptions): {
  activities: Record<string, (...args: never[]) => Promise<unknown>>; world: FakeWorld; missing: string[];
} {
  const counts = new Map<string, number>();
  const nodes = new Map<string, Map<string, FakeNode>>();
  const servers = new Map<string, Map<string, ServerState>>();
  const byPort = new Map<number, FakeNode>();
  /** Servers (`<pipeline>/<environment>/pair-N`) whose checks fail. */
  const down = new Set<string>();
  /** Nodes (`<pipeline>/<environment>/<node>`) whose container is gone. */
  const lost = new Set<string>();
  let nextPort = 20_000;
  const envKey = (pipelineId: string, environment: string) => `${pipelineId}/${environment}`;

  /** The environment's nodes, created on first sight running the previous release, every pair ready. */
  const environmentNodes = (pipelineId: string, environment: { name: string; pairs: number }) => {
    const key = envKey(pipelineId, environment.name);
    let env = nodes.get(key);
    if (!env) {
      env = new Map();
      servers.set(key, new Map());
      nodes.set(key, env);
    }
    const names = ['author'];
    for (let p = 1; p <= environment.pairs; p++) names.push(`publish-${p}`, `dispatcher-${p}`);
    for (const name of names) {
      if (env.has(name)) continue;
      const node = { pipelineId, environment: environment.name, node: name, image: previousReleaseImage(pipelineId, environment.name, name), port: nextPort++ };
      env.set(name, node);
      byPort.set(node.port, node);
    }
    for (let p = 1; p <= environment.pairs; p++) if (!servers.get(key)!.has(`pair-${p}`)) servers.get(key)!.set(`pair-${p}`, 'ready');
    return env;
  };
  const description = (input: { pipelineId: string; environment: { name: string; pairs: number } }) => {
    const env = environmentNodes(input.pipelineId, input.environment);
    return { url: 'http://127.0.0.1:1/', authorUrl: 'http://127.0.0.1:2/', nodes: Object.fromEntries([...env].map(([name, node]) => [name, node.image])) };
  };

  /** What HAProxy's `show stat` would say now: a server whose checks fail is DOWN, else its admin state. */
  const serversNow = (input: { pipelineId: string; environment: { name: string; pairs: number } }) => {
    environmentNodes(input.pipelineId, input.environment);
    const key = envKey(input.pipelineId, input.environment.name);
    return [...servers.get(key)!].map(([server, state]) => ({
      backend: 'dispatchers', server, sessions: 0,
      status: down.has(`${key}/${server}`) ? 'DOWN' : { drain: 'DRAIN', maint: 'MAINT', ready: 'UP' }[state],
    }));
  };

  const world: FakeWorld = {
    counts,
    nodeServing: (url) => byPort.get(Number(new URL(url).port)),
    nodesOf: (pipelineId, environment) => Object.fromEntries(nodes.get(envKey(pipelineId, environment)) ?? []),
    serversOf: (pipelineId, environment) => Object.fromEntries(servers.get(envKey(pipelineId, environment)) ?? []),
    previousImage: previousReleaseImage,
    setPairDown: (pipelineId, environment, pair, isDown) => {
      const key = `${envKey(pipelineId, environment)}/pair-${pair}`;
      if (isDown) down.add(key); else down.delete(key);
    },
    loseNode: (pipelineId, environment, node) => {
      lost.add(`${envKey(pipelineId, environment)}/${node}`);
      const pair = /-(\d+)$/.exec(node)?.[1];
      if (pair) down.add(`${envKey(pipelineId, environment)}/pair-${pair}`);
    },
    commitAuthors: new Map(),
  };

  const started = async (activityType: string, input: unknown) => {
    counts.set(activityType, (counts.get(activityType) ?? 0) + 1);
    if (!options.onStart) return;
    const workflowId = Context.current().info.workflowExecution?.workflowId ?? '(unknown)';
    await options.onStart({ activityType, input, workflowId, at: Date.now() } as ActivityCall);
  };

  const fakes = {
    async loadPipeline(input) { return options.pipelineConfig(input.pipelineId); },
    async resolveBranch(input) {
      const authorEmail = world.commitAuthors.get(input.repository) ?? 'author@fake.invalid';
      return { commitId: input.pinnedCommit ?? fakeCommit(input.repository), version: '1.0.0', authorEmail };
    },
    async headCommit(input) { return { commitId: fakeCommit(input.repository) }; },
    async deliverWebhook() { return { status: 204 }; },
    async checkDockerEngines() { return { engines: ['local engine: fake'] }; },
    async buildAndTest(input) {
      const noIssues = { total: 0, bySeverity: {} };
      const coverage = { percent: 85, lines: { covered: 850, total: 1000 }, format: 'fake' };
      return {
        unitTests: { total: 12, passed: 12, failed: 0, skipped: 0, failures: [], coverage },
        reportRef: `${input.pipelineId}/${input.executionId}/build/junit.xml`,
        logRef: `${input.pipelineId}/${input.executionId}/build/build.log`, testImageId: fakeDigest(input.commitId, 'test'),
        // What the scanners of a clean app report: every quality gate passes.
        ...(input.scan ? {
          scan: {
            issues: {
              security: noIssues, reliability: noIssues, maintainability: noIssues,
              securityRating: 'A' as const, reliabilityRating: 'A' as const, maintainabilityRating: 'A' as const,
              technicalDebtMinutes: 0, debtRatio: 0, linesOfCode: 1000, tools: ['fake'],
            },
            coverage, duplication: { lines: 1000, duplicatedLines: 0, density: 0 }, missing: [],
          },
          scanRefs: {},
        } : {}),
      };
    },
    async buildImages(input) {
      const tag = `${input.commitId.slice(0, 12)}-${input.executionId}`;
      return {
        images: {
          app: { id: fakeDigest(input.pipelineId, input.executionId, 'app'), tag: `${input.app.imageName}:${tag}` },
          dispatcher: { id: fakeDigest(input.pipelineId, input.executionId, 'dispatcher'), tag: `${input.app.imageName}-dispatcher:${tag}` },
        },
        logRef: `${input.pipelineId}/${input.executionId}/buildImage/build.log`,
      };
    },
    async prepareEnvironment(input) { return description(input); },
    async describeEnvironment(input) { return description(input); },
    async validateEnvironmentConfig() { return { checked: ['dispatcher configuration (fake)', 'load balancer configuration (fake)'] }; },
    async deployNode(input) {
      const node = environmentNodes(input.pipelineId, input.environment).get(input.node)!;
      const previousImage = node.image;
      node.image = input.image;
      lost.delete(`${envKey(input.pipelineId, input.environment.name)}/${input.node}`);
      const pair = /^publish-(\d+)$/.exec(input.node)?.[1];
      if (pair) down.delete(`${envKey(input.pipelineId, input.environment.name)}/pair-${pair}`);
      return { container: `sc-${input.pipelineId}-${input.environment.name}-${input.node}`, image: input.image, previousImage, hostPort: node.port, reused: false };
    },
    async runHook(input) { return { exitCode: 0, output: `ran ${input.command} (fake)`, durationMs: 1 }; },
    async readServers(input) { return serversNow(input); },
    async setRequestHold(input) { return { holding: input.hold, detail: input.hold ? 'holding requests (fake)' : 'released (fake)' }; },
    async setServerState(input) {
      environmentNodes(input.pipelineId, input.environment);
      servers.get(envKey(input.pipelineId, input.environment.name))!.set(input.server, input.state);
      return { status: { drain: 'DRAIN', maint: 'MAINT', ready: 'UP' }[input.state] };
    },
    async waitForSessionsDrained() { return { drained: true, sessions: 0, waitedMs: 0 }; },
    async waitForServerUp() { return { status: 'UP', waitedMs: 0 }; },
    async flushCache() { return { status: 200 }; },
    async warmCache(input) { return { pages: input.pages.map((path) => ({ path, status: 200, cached: true })) }; },
    async checkHealth() { return { attempts: 1, status: 200, ms: 1 }; },
    async inspectEnvironmentNodes(input) {
      const key = envKey(input.pipelineId, input.environment.name);
      const containers = [...environmentNodes(input.pipelineId, input.environment).values()]
        .filter((n) => input.withAuthor || n.node !== 'author')
        .map((n) => lost.has(`${key}/${n.node}`) ? { node: n.node, present: false, running: false }
          : { node: n.node, present: true, running: true, image: n.image, health: { ok: true, detail: 'HTTP 200 (fake)' } });
      const servers = serversNow(input).map(({ server, status }) => ({ server, status }));
      return { containers, servers };
    },
    async retireNodeContainers(input) {
      for (const node of input.nodes) lost.add(`${envKey(input.pipelineId, input.environment.name)}/${node}`);
      return { removed: input.nodes };
    },
    // Scaling's load balancer changes: the new server starts in maintenance, as HAProxy's runtime API adds it.
    async addPair(input) {
      environmentNodes(input.pipelineId, input.environment);
      servers.get(envKey(input.pipelineId, input.environment.name))!.set(`pair-${input.pair}`, 'maint');
      return { server: `pair-${input.pair}`, status: 'MAINT' };
    },
    async removePair(input) {
      return { removed: servers.get(envKey(input.pipelineId, input.environment.name))!.delete(`pair-${input.pair}`) };
    },
    // The real messages to the keeper: they need only the worker's client.
    ...createKeeperMessaging(),
    async productTest(input) { return { pages: [...input.pages, { path: input.healthPath }].map((p) => ({ path: p.path, status: 200, ok: true, ms: 1 })) }; },
    async customTests(input) { return { ran: false as const, reason: `the app ships no ${input.kind} tests (fake)` }; },
    async contentAudit(input) {
      if (!input.pipelineId) return { pages: input.pages.map((path) => ({ path, status: 200, ok: true, ms: 1, bytes: 1000 })) };
      const changes = { performance: 'n/a', accessibility: 'n/a', 'best-practices': 'n/a', seo: 'n/a' } as const;
      return { ran: false, reason: 'not scored (fake activities)', pages: [], average: { scores: {}, changes }, slowest: [] };
    },
  } satisfies FakeActivities;

  const activities: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, fake] of Object.entries(fakes) as Array<[string, (input: unknown) => Promise<unknown>]>) {
    activities[name] = async (input: unknown) => {
      await started(name, input);
      return fake(input);
    };
  }
  const missing = (options.realNames ?? []).filter((name) => !(name in activities));
  for (const name of missing) {
    activities[name] = async (input: unknown) => {
      await started(name, input);
      return {};
    };
  }
  return { activities, world, missing };
}
