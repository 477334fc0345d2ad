/**
 * Checks against Stage: the built-in product test (configured pages and the health endpoint) and the app's own
 * functional and UI test images when it ships them. Each says exactly what it did. (The content audit: audit.ts.)
 */
import { ApplicationFailure } from '@temporalio/common';
import { ActivityFailure, NonRetryable } from '../shared/errors';
import type { EnvironmentConfig, PageCheck } from '../shared/types';
import { LABEL, networkName, testContainerName } from '../topology/names';
import { executionRef } from '../config/paths';
import type { ArtifactStore } from './artifacts';
import { ensureImageOn, type DockerProvider } from './docker-hosts';
import { httpGet, sitePage } from './health';
import { parseJUnit } from './reports';
import { runTestContainer } from './test-containers';

export interface PageResult { path: string; status?: number; ok: boolean; ms: number; problem?: string }

export interface TestDeps {
  commitHasPath(repository: string, commitId: string, path: string): Promise<boolean>;
  docker?: DockerProvider;
  artifacts?: ArtifactStore;
}

export function createTestActivities(deps: TestDeps) {
  /** Each configured page answers 200 and contains its expected text; the app's health endpoint answers 200. */
  async function productTest(input: { baseUrl: string; pages: PageCheck[]; healthPath: string; version: string }): Promise<{ pages: PageResult[] }> {
    const base = input.baseUrl.replace(/\/$/, '');
    const checks = [...input.pages, { path: input.healthPath }];
    const pages: PageResult[] = [];
    for (const page of checks) {
      const res = await httpGet(sitePage(base, page.path).href);
      const expected = page.expect?.replaceAll('{version}', input.version);
      let problem: string | undefined;
      if (res.status !== 200) problem = res.status ? `answered HTTP ${res.status}` : `no answer (${res.error})`;
      else if (expected && !res.body?.includes(expected)) problem = `does not contain "${expected}"`;
      pages.push({ path: page.path, status: res.status, ok: !problem, ms: res.ms, problem });
    }
    const failed = pages.filter((p) => !p.ok);
    if (failed.length) {
      throw ApplicationFailure.create({
        type: NonRetryable.PageCheckFailed, nonRetryable: true,
        message: `Product test failed on Stage: ${failed.map((p) => `${p.path} ${p.problem}`).join('; ')}`,
        details: [{ pages }],
      });
    }
    return { pages };
  }

  /**
   * The app's own functional or UI tests: its test image (built by the build step) runs as a container on the
   * environment's Docker network against the load balancer (`http://lb/`), with the Stage URL in its environment;
   * its JUnit report, screenshots and other files in /out go to the artifact store. Fails naming the failing tests,
   * or when the container exceeds its time limit. An app without such tests passes, saying so.
   */
  async function customTests(input: CustomTestsInput): Promise<CustomTestsResult> {
    const what = input.kind === 'ui' ? 'UI' : 'functional';
    if (!input.image) {
      // Executions started before test images were built: the app's Dockerfile is looked for only.
      const dockerfile = `tests/${input.kind}/Dockerfile`;
      if (!(await deps.commitHasPath(input.repository, input.commitId, dockerfile))) {
        return { ran: false, reason: `the app ships no ${input.kind} tests (no ${dockerfile} at this commit): nothing to run` };
      }
      throw ApplicationFailure.nonRetryable(
        `The app ships ${dockerfile}, but this execution's build made no test image from it (it began before test images were built)`, ActivityFailure.NotImplemented);
    }
    const { pipelineId, executionId, environment } = input;
    if (!pipelineId || !executionId || !environment || !deps.docker || !deps.artifacts) throw new Error('customTests: incomplete input or dependencies');
    const artifacts = deps.artifacts;
    const step = input.kind === 'ui' ? 'uiTest' : 'functionalTest';
    const ref = (name: string) => executionRef(pipelineId, executionId, `${step}/${name}`);
    const log = await artifacts.openLog(ref('test.log'));
    const stageUrl = 'http://lb/';
    const timeoutMs = input.timeoutMs ?? 60 * 60_000;
    let run;
    try {
      log.write(`# ${what} tests: image ${input.image} on network ${networkName(pipelineId, environment.name)}, STAGE_URL=${stageUrl}, limit ${Math.round(timeoutMs / 60_000)} min`);
      await ensureImageOn(deps.docker(environment.docker), deps.docker(), input.image);
      run = await runTestContainer({
        docker: deps.docker(environment.docker),
        image: input.image,
        name: testContainerName(pipelineId, environment.name, input.kind, executionId),
        network: networkName(pipelineId, environment.name),
        env: {
          STAGE_URL: stageUrl, PUBLISH_URL: stageUrl, AUTHOR_URL: `http://author:${input.appPort ?? 8080}/`,
          APP_VERSION: input.version ?? '', REPORTS_DIR: '/out',
        },
        labels: { [LABEL.pipeline]: pipelineId, [LABEL.execution]: executionId, [LABEL.environment]: environment.name },
        timeoutMs,
        reportsDir: '/out',
        log,
      });
      log.write(`# exit code ${run.exitCode}${run.timedOut ? ' (stopped: time limit reached)' : ''} after ${Math.round(run.durationMs / 1000)} s; ${run.files.size} file(s) in /out`);
    } finally {
      await log.close();
    }
    const files: Array<{ name: string; ref: string }> = [];
    for (const [name, content] of [...run.files].sort(([a], [b]) => a.localeCompare(b)).slice(0, MAX_REPORT_FILES)) {
      if (content.length > MAX_REPORT_BYTES) continue;
      files.push({ name, ref: await artifacts.put(ref(`reports/${name}`), content) });
    }
    const junitName = [...run.files.keys()].filter((n) => /\.xml$/.test(n)).sort((a, b) => (a === 'junit.xml' ? -1 : b === 'junit.xml' ? 1 : a.localeCompare(b)))[0];
    const tests = junitName ? parseJUnit(run.files.get(junitName)!.toString('utf8')) : undefined;
    const result: CustomTestsResult = {
      ran: true, exitCode: run.exitCode, durationMs: run.durationMs, logRef: log.ref,
      reportRef: junitName ? files.find((f) => f.name === junitName)?.ref : undefined,
      tests: tests && { total: tests.total, passed: tests.passed, failed: tests.failed, skipped: tests.skipped, failures: tests.failures.slice(0, 20) },
      files,
    };
    if (run.timedOut) {
      throw ApplicationFailure.create({
        type: ActivityFailure.TestTimeLimit, nonRetryable: true, details: [result],
        message: `the ${what} tests ran longer than their ${Math.round(timeoutMs / 60_000)} minute limit and were stopped`,
      });
    }
    if ((tests?.failed ?? 0) > 0 || run.exitCode !== 0) {
      throw ApplicationFailure.create({
        type: input.kind === 'ui' ? ActivityFailure.UiTestsFailed : ActivityFailure.FunctionalTestsFailed, nonRetryable: true, details: [result],
        message: tests?.failures.length
          ? `${tests.failed} ${what} test(s) failed against Stage: ${tests.failures.join(', ')}`
          : `the ${what} test container exited with ${run.exitCode}${tests ? '' : ' and left no JUnit report in /out'}`,
      });
    }
    return result;
  }

  return { productTest, customTests };
}

/** At most this many files, each at most this big, are kept from a test container's /out. */
const MAX_REPORT_FILES = 50;
const MAX_REPORT_BYTES = 20 * 1024 * 1024;

export interface CustomTestsInput {
  repository: string;
  commitId: string;
  kind: 'functional' | 'ui';
  /** The test image built by the build step; absent for executions started before test images existed. */
  image?: string;
  pipelineId?: string;
  executionId?: string;
  /** The environment tested (Stage): its network and Docker engine. */
  environment?: EnvironmentConfig;
  appPort?: number;
  version?: string;
  timeoutMs?: number;
}

export type CustomTestsResult =
  | { ran: false; reason: string }
  | {
    ran: true;
    exitCode: number;
    durationMs: number;
    tests?: { total: number; passed: number; failed: number; skipped: number; failures: string[] };
    reportRef?: string;
    logRef: string;
    /** Every file the image left in /out (JUnit, screenshots, HTML reports), in the artifact store. */
    files: Array<{ name: string; ref: string }>;
  };
