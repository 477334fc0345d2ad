/**
 * Checks against Stage: the built-in product test (configured pages and the health endpoint), the app's own
 * functional and UI tests when it ships them, and the content audit. Each says exactly what it did.
 */
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryable } from '../shared/errors';
import type { PageCheck } from '../shared/types';
import { httpGet } from './health';

export interface PageResult { path: string; status?: number; ok: boolean; ms: number; problem?: string }

export function createTestActivities(deps: { commitHasPath(repository: string, commitId: string, path: string): Promise<boolean> }) {
  /** Each configured page answers 200 and contains its expected text; the app's health endpoint answers 200. */
  async function productTest(input: { baseUrl: string; pages: PageCheck[]; healthPath: string; version: string }): Promise<{ pages: PageResult[] }> {
    const base = input.baseUrl.replace(/\/$/, '');
    const checks = [...input.pages, { path: input.healthPath }];
    const pages: PageResult[] = [];
    for (const page of checks) {
      const res = await httpGet(`${base}${page.path}`);
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
   * Custom tests the app ships as a test image. Answers what was found; an app without them passes, saying so, as
   * Cloud Manager does. Running a shipped test image is not implemented yet, and says so by failing.
   */
  async function customTests(input: { repository: string; commitId: string; kind: 'functional' | 'ui' }): Promise<{ ran: false; reason: string }> {
    const dockerfile = `tests/${input.kind}/Dockerfile`;
    if (!(await deps.commitHasPath(input.repository, input.commitId, dockerfile))) {
      return { ran: false, reason: `the app ships no ${input.kind} tests (no ${dockerfile} at this commit): nothing to run` };
    }
    throw ApplicationFailure.nonRetryable(
      `The app ships ${dockerfile}, but running custom ${input.kind} test images is not implemented yet in this Stagecoach version`,
      'NotImplemented');
  }

  /** Measures the configured pages of Stage (status, response time, size). Never fails the execution. */
  async function contentAudit(input: { baseUrl: string; pages: string[] }): Promise<{ pages: Array<PageResult & { bytes: number }> }> {
    const base = input.baseUrl.replace(/\/$/, '');
    const pages = [];
    for (const path of input.pages.slice(0, 25)) {
      const res = await httpGet(`${base}${path}`);
      pages.push({ path, status: res.status, ok: res.ok, ms: res.ms, bytes: res.body?.length ?? 0, problem: res.error });
    }
    return { pages };
  }

  return { productTest, customTests, contentAudit };
}
