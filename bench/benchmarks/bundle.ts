/**
 * Benchmark 7: workflow bundle build time. Workers and the test suite build the bundle of src/workflows once
 * (test/setup/global.ts) and pass it to every worker; this measures that one build, cold (the first in a process,
 * as a worker or a test run pays it) and warm (repeated in the same process).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../src/config/paths';
import { summarize } from '../lib/stats';
import type { BenchResult, BenchSize } from '../lib/types';

const quietLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m: string) => console.warn(m), error: (m: string) => console.error(m),
};

export async function benchBundle(size: BenchSize, tmpDir: string): Promise<{ result: BenchResult; bundlePath: string; noopBundlePath: string }> {
  const runs = size === 'small' ? 2 : 4;
  const times: number[] = [];
  let code = '';
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    ({ code } = await bundleWorkflowCode({ workflowsPath: path.join(PROJECT_ROOT, 'src', 'workflows', 'index.ts'), logger: quietLogger }));
    times.push(performance.now() - started);
  }
  const bundlePath = path.join(tmpDir, 'workflow-bundle.js');
  await fs.writeFile(bundlePath, code);

  const noopStarted = performance.now();
  const noop = await bundleWorkflowCode({ workflowsPath: path.join(__dirname, '..', 'workflows', 'noop.ts'), logger: quietLogger });
  const noopMs = performance.now() - noopStarted;
  const noopBundlePath = path.join(tmpDir, 'noop-bundle.js');
  await fs.writeFile(noopBundlePath, noop.code);

  const warm = summarize(times.slice(1));
  return {
    bundlePath,
    noopBundlePath,
    result: {
      id: 7,
      name: 'Workflow bundle build',
      scale: `src/workflows, ${runs} builds in one process`,
      metrics: [
        { name: 'bundle build, cold (first in process)', value: times[0], unit: 'ms', note: 'paid once per worker process and once per test run' },
        { name: 'bundle build, warm (p50)', value: warm.p50, unit: 'ms' },
        { name: 'bundle size', value: code.length / 1024, unit: 'KiB' },
      ],
      details: { buildsMs: times, warm, bundleBytes: code.length, noopBundleMs: noopMs, noopBundleBytes: noop.code.length },
    },
  };
}
