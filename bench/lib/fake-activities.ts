/**
 * The benchmarks' fake activities: the shared fakes of test/helpers/fake-activities.ts (the real activity names, no
 * I/O), on a worker that runs the REAL workflows, so a benchmark measures what Temporal and the workflow code cost
 * apart from what Docker, HAProxy and Varnish cost.
 *
 * The pipeline configuration comes from the pipeline id (see `benchPipelineConfig`), so a benchmark chooses the
 * Production topology by naming its pipeline, e.g. `hist-p50` has 50 Production pairs.
 */
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import type { PipelineConfig } from '../../src/shared/types';
import { createFakeActivities } from '../../test/helpers/fake-activities';

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
    // Names as given: the bench measures the workflows, not signature checks.
    identity: 'declared',
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

/** First activity start per workflow (wall clock, Date.now()): what the latency benchmark reads. */
export interface ActivityStart { workflowId: string; activityType: string; at: number }

export interface FakeActivityLog {
  /** The first activity that started in each workflow, by workflow id. */
  firstStarts: Map<string, ActivityStart>;
  /** Activities started, by type. */
  counts: Map<string, number>;
}

/**
 * The shared fake activities (test/helpers/fake-activities.ts) configured by pipeline id, and a log of when each
 * workflow's first activity started. Real activity names without a fake are registered as no-ops and listed in `missing`.
 */
export function createBenchActivities(realNames: string[] = []): {
  activities: Record<string, (...args: never[]) => Promise<unknown>>; log: FakeActivityLog; missing: string[];
} {
  const firstStarts = new Map<string, ActivityStart>();
  const { activities, world, missing } = createFakeActivities({
    pipelineConfig: benchPipelineConfig,
    realNames,
    onStart({ workflowId, activityType, at }) {
      if (!firstStarts.has(workflowId)) firstStarts.set(workflowId, { workflowId, activityType, at });
    },
  });
  return { activities, log: { firstStarts, counts: world.counts }, missing };
}
