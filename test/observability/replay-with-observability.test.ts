/**
 * The workflow interceptors observability adds to a worker's bundle (the step header, and Temporal's OpenTelemetry
 * interceptors when tracing is on) change no command for the committed histories (test/fixtures/histories) but the
 * ones listed in REORDERED_BY_TRACING: there the OpenTelemetry outbound interceptor sends an external signal a tick
 * later than plain code does, after a search attribute upsert made in the same activation, so a history recorded
 * with tracing off does not replay with it on. That is why tracing is switched on or off only with a new worker
 * version, never under open executions (docs/operations.md, Traces); the list is exact, so a change either way fails.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { logContextPlugin } from '../../src/observability/activity-context';
import { startTracing, tracingPlugins } from '../../src/observability/tracing';
import { FIXTURES_DIR } from '../helpers/harness';

const REORDERED_BY_TRACING = ['execution-pauses-keeper.json'];

describe('replay with observability in the bundle', () => {
  it('every committed history replays with the step header and the OpenTelemetry interceptors, but those tracing reorders', async () => {
    startTracing('stagecoach-replay-test', { spanProcessor: new SimpleSpanProcessor(new InMemorySpanExporter()) });
    const files = (await fs.readdir(FIXTURES_DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThan(10);
    async function* histories() {
      for (const file of files) {
        yield { workflowId: file, history: JSON.parse(await fs.readFile(path.join(FIXTURES_DIR, file), 'utf8')) as never };
      }
    }
    const failures: string[] = [];
    const reordered: string[] = [];
    const results = Worker.runReplayHistories({
      workflowsPath: path.join(__dirname, '..', '..', 'src', 'workflows', 'index.ts'),
      plugins: [...tracingPlugins(), logContextPlugin],
    }, histories());
    for await (const result of results) {
      if (!result.error) continue;
      if (REORDERED_BY_TRACING.includes(result.workflowId) && /Nondeterminism/.test(result.error.message)) reordered.push(result.workflowId);
      else failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(reordered).toEqual(REORDERED_BY_TRACING);
  });
});
