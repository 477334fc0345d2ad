/**
 * The workflow interceptors observability adds to a worker's bundle (the step header, and Temporal's OpenTelemetry
 * interceptors when tracing is on) change no command: every committed history (test/fixtures/histories) replays
 * on a worker bundled with them.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { logContextPlugin } from '../../src/observability/activity-context';
import { startTracing, tracingPlugins } from '../../src/observability/tracing';
import { FIXTURES_DIR } from '../helpers/harness';

describe('replay with observability in the bundle', () => {
  it('every committed history replays with the step header and the OpenTelemetry interceptors', async () => {
    startTracing('stagecoach-replay-test', { spanProcessor: new SimpleSpanProcessor(new InMemorySpanExporter()) });
    const files = (await fs.readdir(FIXTURES_DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThan(10);
    async function* histories() {
      for (const file of files) {
        yield { workflowId: file, history: JSON.parse(await fs.readFile(path.join(FIXTURES_DIR, file), 'utf8')) as never };
      }
    }
    const failures: string[] = [];
    const results = Worker.runReplayHistories({
      workflowsPath: path.join(__dirname, '..', '..', 'src', 'workflows', 'index.ts'),
      plugins: [...tracingPlugins(), logContextPlugin],
    }, histories());
    for await (const result of results) if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    expect(failures).toEqual([]);
  });
});
