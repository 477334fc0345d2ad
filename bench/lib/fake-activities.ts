/**
 * Bench-only activities: the same names and signatures as `createActivities(deps)` (src/activities), each answering a
 * plausible result at once, with no I/O. Registered under the real names on a worker that runs the REAL workflows,
 * they isolate what Temporal and the workflow code cost from what Docker, HAProxy and Varnish cost.
 *
 * The pipeline configuration comes from the pipeline id (see `benchPipelineConfig`), so a benchmark chooses the
 * Production topology by naming its pipeline, e.g. `hist-p50` has 50 Production pairs.
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Activities } from '../../src/activities';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import type { PipelineConfig } from '../../src/shared/types';
import { AUTHOR_NODE, containerName, dispatcherNodeName, executionImageTag, publishNodeName } from '../../src/topology/names';

/** Production pairs named by the pipeline id: `...-p<N>` or `p<N>-...`; 2 (the sample's) otherwise. */
export function prodPairsOf(pipelineId: string): number {
  const match = /(?:^|-)p(\d+)(?:-|$)/.exec(pipelineId);
  return match ? Number(match[1]) : 2;
}

/** A valid configuration (through the real parser, so every default is the real one) for a bench pipeline. */
export function benchPipelineConfig(pipelineId: string): PipelineConfig {
  return parsePipelineConfig({
    id: pipelineId,
    repository: 'bench://fake-repository',
    branch: 'main',
    environments: {
      stage: { pairs: 1, drainTimeout: '5s' },
      prod: { pairs: prodPairsOf(pipelineId), drainTimeout: '5s' },
    },
    approval: {
      approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }],
      timeout: '30 minutes',
    },
    schedule: { timeout: '30 minutes' },
    productTest: { pages: [{ path: '/', expect: 'version {version}' }, { path: '/about' }] },
    cache: { warmPages: ['/', '/about'] },
    audit: { pages: ['/', '/about'] },
  }, `bench pipeline ${pipelineId}`);
}

const fakeDigest = (...parts: string[]) => `sha256:${createHash('sha256').update(parts.join('/')).digest('hex')}`;

/** First activity start per workflow (wall clock, Date.now()): what the latency benchmark reads. */
export interface ActivityStart { workflowId: string; activityType: string; at: number }

export interface FakeActivityLog {
  /** The first activity that started in each workflow, by workflow id. */
  firstStarts: Map<string, ActivityStart>;
  /** Activities started, by type. */
  counts: Map<string, number>;
}

type FakeActivities = { [K in keyof Activities]?: Activities[K] };

/**
 * The fake activities, and a log of when each workflow's first activity started. Every real activity name without
 * a fake here (one added to src/activities after this file) is registered as a generic no-op answering `{}`, and
 * reported in `missing`, so the harness keeps running and says what it had to guess.
 */
export function createFakeActivities(realNames: string[] = []): {
  activities: Record<string, (...args: never[]) => Promise<unknown>>; log: FakeActivityLog; missing: string[];
} {
  const log: FakeActivityLog = { firstStarts: new Map(), counts: new Map() };
  const record = () => {
    const info = Context.current().info;
    const workflowId = info.workflowExecution?.workflowId ?? '(unknown)';
    log.counts.set(info.activityType, (log.counts.get(info.activityType) ?? 0) + 1);
    if (!log.firstStarts.has(workflowId)) log.firstStarts.set(workflowId, { workflowId, activityType: info.activityType, at: Date.now() });
  };
  const environmentDescription = (input: { pipelineId: string; environment: { name: string; pairs: number } }) => {
    const nodes: Record<string, string | undefined> = { [AUTHOR_NODE]: fakeDigest(input.pipelineId, input.environment.name, 'author', 'previous') };
    for (let p = 1; p <= input.environment.pairs; p++) {
      nodes[publishNodeName(p)] = fakeDigest(input.pipelineId, input.environment.name, 'app', 'previous');
      nodes[dispatcherNodeName(p)] = fakeDigest(input.pipelineId, input.environment.name, 'dispatcher', 'previous');
    }
    return { url: 'http://127.0.0.1:1/', authorUrl: 'http://127.0.0.1:2/', nodes };
  };

  const fakes = {
    async loadPipeline(input) { record(); return benchPipelineConfig(input.pipelineId); },
    async resolveBranch(input) { record(); return { commitId: createHash('sha1').update(input.repository).digest('hex'), version: '1.0.0' }; },
    async headCommit(input) { record(); return { commitId: createHash('sha1').update(input.repository).digest('hex') }; },
    async deliverWebhook() { record(); return { status: 204 }; },
    async checkDockerEngines() { record(); return { engines: ['local engine: fake (bench)'] }; },
    async buildAndTest(input) {
      record();
      const noIssues = { total: 0, bySeverity: {} };
      const coverage = { percent: 85, lines: { covered: 850, total: 1000 }, format: 'bench' };
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
              technicalDebtMinutes: 0, debtRatio: 0, linesOfCode: 1000, tools: ['bench'],
            },
            coverage, duplication: { lines: 1000, duplicatedLines: 0, density: 0 }, missing: [],
          },
          scanRefs: {},
        } : {}),
      };
    },
    async buildImages(input) {
      record();
      const tag = (image: 'app' | 'dispatcher') => executionImageTag(input.app.imageName, image, input.commitId, input.executionId);
      return {
        images: {
          app: { id: fakeDigest(input.pipelineId, input.executionId, 'app'), tag: tag('app') },
          dispatcher: { id: fakeDigest(input.pipelineId, input.executionId, 'dispatcher'), tag: tag('dispatcher') },
        },
        logRef: `${input.pipelineId}/${input.executionId}/buildImage/build.log`,
      };
    },
    async prepareEnvironment(input) { record(); return environmentDescription(input); },
    async describeEnvironment(input) { record(); return environmentDescription(input); },
    async validateEnvironmentConfig() { record(); return { checked: ['dispatcher configuration (bench)', 'load balancer configuration (bench)'] }; },
    async deployNode(input) {
      record();
      return { container: containerName(input.pipelineId, input.environment.name, input.node), image: input.image, previousImage: fakeDigest(input.node, 'previous'), hostPort: 1, reused: false };
    },
    async readServers() { record(); return []; },
    async setServerState(input) { record(); return { status: { drain: 'DRAIN', maint: 'MAINT', ready: 'UP' }[input.state] }; },
    async waitForSessionsDrained() { record(); return { drained: true, sessions: 0, waitedMs: 0 }; },
    async waitForServerUp() { record(); return { status: 'UP', waitedMs: 0 }; },
    async flushCache() { record(); return { status: 200 }; },
    async warmCache(input) { record(); return { pages: input.pages.map((path) => ({ path, status: 200, cached: true })) }; },
    async checkHealth() { record(); return { attempts: 1, status: 200, ms: 1 }; },
    async productTest(input) { record(); return { pages: [...input.pages, { path: input.healthPath }].map((p) => ({ path: p.path, status: 200, ok: true, ms: 1 })) }; },
    async customTests(input) { record(); return { ran: false as const, reason: `the app ships no ${input.kind} tests (bench)` }; },
    async contentAudit(input) {
      record();
      if (!input.pipelineId) return { pages: input.pages.map((path) => ({ path, status: 200, ok: true, ms: 1, bytes: 1000 })) };
      const changes = { performance: 'n/a', accessibility: 'n/a', 'best-practices': 'n/a', seo: 'n/a' } as const;
      return { ran: false, reason: 'not scored (bench: fake activities)', pages: [], average: { scores: {}, changes }, slowest: [] };
    },
  } satisfies FakeActivities;

  const activities: Record<string, (...args: never[]) => Promise<unknown>> = { ...fakes };
  const missing = realNames.filter((name) => !(name in activities));
  for (const name of missing) activities[name] = async () => { record(); return {}; };
  return { activities, log, missing };
}
