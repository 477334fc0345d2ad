/**
 * Issue 4 on real parts: the sample app's scanners run inside its Docker build (SARIF linter, coverage, duplicated
 * lines) and Cloud Manager's three quality tiers gate the execution; its functional and UI test images (Selenium with
 * Debian's Chromium) run against Stage on Stage's Docker network; Lighthouse (Debian's Chromium on the worker) audits
 * Stage and compares with the previous audit; a web tier pipeline ships only the dispatcher. Reports go to the
 * artifact store, and the state carries references and summaries only.
 *
 * Executions, in order, on one pipeline (its commits are reverted after each variation):
 *   1 clean                                → approval (every step for real), cancelled
 *   2 a failing unit test                  → FAILED at build, naming the test
 *   3 a call to eval()                     → FAILED at codeQuality (security rating, critical)
 *   4 return-in-finally + untested module  → WAITING at codeQuality (reliability, coverage: important); refused
 *                                            overrides audited; alice's override → the pipeline goes on, cancelled
 *   5 same commit                          → reject at the gate → CANCELLED
 *   6 same, importantMetricFailures: fail  → FAILED at codeQuality
 *   7 same, importantMetricFailures: continue → codeQuality FINISHED, cancelled later
 *   8 same, overrideTimeout: 2s            → CANCELLED when the gate's wait ends
 *   9 the dispatcher stops caching         → FAILED at functionalTest (a real functional test, against Stage)
 *  10 the home page loses its navigation   → FAILED at uiTest (a real browser test, against Stage)
 *  11 a meta description                   → approval; the audit's SEO score went up against execution 1
 *  12 web tier: a cache rule change        → only the dispatcher is built and rolled to Stage
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StagecoachError } from '../../src/client/errors';
import { PROJECT_ROOT } from '../../src/config/paths';
import { commitChange, git } from '../../src/dev/sample-repo';
import { ensureChromium } from '../../src/provision';
import { executionWorkflowId } from '../../src/shared/ids';
import type { ExecutionState, StepState } from '../../src/shared/types';
import { hasEnded, isWaitingAt, startHarness, testPipeline, type Harness } from '../helpers/harness';

const ID = 't-quality';
const DAY = 86_400_000;
let h: Harness;

const base = (overrides: Record<string, unknown> = {}) => testPipeline(ID, h.repo, {
  tests: { functional: { enabled: true }, ui: { enabled: true } },
  environments: { stage: { loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' }, prod: { pairs: 1, loadBalancerPort: 0, authorPort: 0, drainTimeout: '5s' } },
  audit: { pages: ['/', '/about'] },
  // bob is an approver (BUSINESS_OWNER) but may not override quality gates here.
  quality: { overrideRoles: ['DEPLOYMENT_MANAGER'] },
  ...overrides,
});

beforeAll(async () => {
  // Lighthouse drives Debian's Chromium on the worker (this machine); provisioning installs it when missing.
  await ensureChromium((line) => console.log(`[provision] ${line}`));
  h = await startHarness('quality', [ID]);
  await h.writePipeline(base());
}, 15 * 60_000);
afterAll(async () => h?.close());

const step = (s: ExecutionState, id: string): StepState => s.steps.find((x) => x.stepId === id)!;
const artifact = (ref: string) => fs.readFile(path.join(h.tmp, 'state', 'artifacts', ref));
const idle = () => expect.poll(async () => (await h.stagecoach.pipelineState(ID)).running, { timeout: 60_000 }).toBeUndefined();
const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(StagecoachError);
  return (err as Error).message;
};
const run = async (until: (s: ExecutionState) => boolean, timeoutMs = 8 * 60_000) => {
  const { executionId } = await h.stagecoach.startExecution(ID, { by: 'carol' });
  return { executionId, state: await h.waitFor(ID, executionId, until, timeoutMs) };
};
const cancel = async (executionId: string) => {
  await h.stagecoach.send(ID, executionId, 'cancel', { by: 'carol' }).catch(() => undefined);
  const s = await h.waitFor(ID, executionId, hasEnded, 5 * 60_000);
  await idle();
  return s;
};
const endedAt = async (executionId: string) => {
  const s = await h.waitFor(ID, executionId, hasEnded, 8 * 60_000);
  await idle();
  return s;
};
const cli = (...args: string[]) => promisify(execFile)(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'stagecoach'), ...args], {
  env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), STAGECOACH_ARTIFACTS_DIR: path.join(h.tmp, 'state', 'artifacts') },
  cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024,
});
const edit = async (file: string, from: string | RegExp, to: string) => {
  const full = path.join(h.repo, file);
  const text = await fs.readFile(full, 'utf8');
  const changed = text.replace(from, to);
  expect(changed, `${file} contains ${String(from)}`).not.toBe(text);
  await fs.writeFile(full, changed);
};
/** Runs `body` on a commit made by `change`, then reverts that commit (also when `body` fails). */
const onCommit = async (message: string, change: (dir: string) => Promise<void>, body: () => Promise<void>) => {
  await commitChange(h.repo, message, change);
  try {
    await body();
  } finally {
    await git(h.repo, 'revert', '--no-edit', 'HEAD');
  }
};

let firstAudit: Record<string, unknown>;

describe('a clean commit', () => {
  it('runs the scanners in the build, passes the gates, runs the functional and UI tests against Stage and audits it', async () => {
    const { executionId, state: s } = await run(isWaitingAt('approval'), 12 * 60_000);
    expect(s.status, s.reason).toBe('RUNNING');
    expect(s.steps.filter((x) => x.phaseId !== 'production').every((x) => x.status === 'FINISHED')).toBe(true);

    // build: unit tests with coverage, and the test images built from the commit.
    const build = step(s, 'build').details;
    expect(build.summary).toMatch(/unit tests: \d+ passed, 0 failed, 1 skipped; coverage \d+(\.\d)?%; test images: functional, ui/);
    expect((build.coverage as { percent: number }).percent).toBeGreaterThan(50);
    // Tagged by commit, execution number and the execution's run (unique even when numbering starts again).
    expect(s.artifacts.testImages?.functional?.tag).toMatch(new RegExp(`-functional-tests:[0-9a-f]{12}-${executionId}-[0-9a-z]{8}$`));

    // codeQuality: Cloud Manager's metrics, every critical and important one passed; the SARIF in the store.
    const quality = step(s, 'codeQuality').details;
    const metrics = quality.metrics as Array<{ kpi: string; severity: string; passed: boolean; actualValue: string }>;
    expect(metrics.map((m) => m.kpi)).toEqual(['unit_tests_failed', 'security_rating', 'reliability_rating', 'sqale_rating', 'coverage',
      'skipped_tests', 'open_issues', 'duplicated_lines_density']);
    expect(metrics.filter((m) => m.severity !== 'informational').every((m) => m.passed)).toBe(true);
    expect(quality.ratings).toEqual({ security: 'A', reliability: 'A', maintainability: 'A' });
    const sarif = JSON.parse((await artifact(quality.sarifRef as string)).toString());
    expect(sarif).toMatchObject({ version: '2.1.0', runs: [{ tool: { driver: { name: 'stagecoach-sample-lint' } } }] });
    expect(JSON.parse((await artifact(quality.coverageRef as string)).toString()).totals.percent_covered).toBeGreaterThan(50);

    // functionalTest and uiTest: the app's images, run on Stage's network, their reports collected.
    const functional = step(s, 'functionalTest').details as { ran: boolean; tests: { passed: number; failed: number }; reportRef: string; logRef: string };
    expect(functional).toMatchObject({ ran: true, tests: { failed: 0 } });
    expect(functional.tests.passed).toBeGreaterThanOrEqual(5);
    expect((await artifact(functional.reportRef)).toString()).toMatch(/<testcase classname="functional_test.StageSiteTest"/);
    expect((await artifact(functional.logRef)).toString()).toMatch(/STAGE_URL=http:\/\/lb\//);
    const ui = step(s, 'uiTest').details as { tests: { passed: number }; screenshots: Array<{ name: string; ref: string }> };
    expect(ui.tests.passed).toBe(1);
    expect(ui.screenshots.map((f) => f.name).sort()).toEqual(['about.png', 'home.png']);
    expect((await artifact(ui.screenshots[0].ref)).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a'); // a PNG

    // contentAudit: Lighthouse scores for both pages, nothing to compare with yet, full reports in the store.
    firstAudit = step(s, 'contentAudit').details;
    const audit = firstAudit as { ran: boolean; scores: Record<string, number>; changes: Record<string, string>; pages: Array<{ path: string; reportRefs: { html: string; json: string } }>; slowest: unknown[] };
    expect(audit.ran, String(firstAudit.reason)).toBe(true);
    for (const c of ['performance', 'accessibility', 'best-practices', 'seo']) {
      expect(audit.scores[c]).toBeGreaterThanOrEqual(0);
      expect(audit.scores[c]).toBeLessThanOrEqual(100);
      expect(audit.changes[c]).toBe('n/a');
    }
    expect(audit.pages.map((p) => p.path)).toEqual(['/', '/about']);
    expect((await artifact(audit.pages[0].reportRefs.html)).toString()).toMatch(/Lighthouse/);
    expect(JSON.parse((await artifact(audit.pages[1].reportRefs.json)).toString()).finalDisplayedUrl).toMatch(/\/about$/);
    expect(audit.slowest.length).toBe(2);

    // The state carries references and summaries, never the reports: it and the history stay small.
    expect(JSON.stringify(s).length).toBeLessThan(48 * 1024);
    const description = await h.client.workflow.getHandle(executionWorkflowId(ID, executionId)).describe();
    expect(description.historySize ?? 0).toBeLessThan(400 * 1024);

    // `stagecoach logs` prints a step's logs from the artifact store.
    const logs = await cli('logs', ID, executionId, '--step', 'build');
    expect(logs.stdout).toMatch(/# unit tests: \d+ passed, 0 failed, 1 skipped/);
    expect(logs.stdout).toMatch(/# scanners: \d+ issue\(s\) \(stagecoach-sample-lint\); coverage/);
    const uiLogs = await cli('logs', ID, executionId, '--step', 'uiTest');
    expect(uiLogs.stdout).toMatch(/test_home_page_shows_version_and_navigates_to_about .* ok/);
    await cancel(executionId);
    await h.recordHistory('execution-stage-tests', executionWorkflowId(ID, executionId));
  });
});

describe('build and code quality gates', () => {
  it('a failing unit test fails build, naming the test', async () => {
    await onCommit('a unit test that fails', () => edit('tests/test_server.py', 'self.assertEqual(resp.getheader("X-App-Version"), "9.8.7")', 'self.assertEqual(resp.getheader("X-App-Version"), "0.0.0")'), async () => {
      const { executionId } = await run(hasEnded);
      const s = await endedAt(executionId);
      expect(s.status).toBe('FAILED');
      expect(step(s, 'build').status).toBe('FAILED');
      expect(s.reason).toBe('build failed: 1 unit test(s) failed: test_server.PublishTest.test_version_header');
      // The failed build still points at its log and test report.
      expect((await artifact(step(s, 'build').details.logRef as string)).toString()).toMatch(/# unit tests: \d+ passed, 1 failed, 1 skipped/);
      expect(step(s, 'codeQuality').status).toBe('NOT_STARTED');
    });
  });

  it('a critical metric (a call to eval: security rating D) fails codeQuality', async () => {
    await onCommit('evaluate expressions', () => edit('app/server.py', 'def make_handler(mode, version):',
      'def evaluate(expression):\n    return eval(expression)\n\n\ndef make_handler(mode, version):'), async () => {
      const { executionId } = await run(hasEnded);
      const s = await endedAt(executionId);
      expect(s.status).toBe('FAILED');
      expect(step(s, 'codeQuality').status).toBe('FAILED');
      expect(s.reason).toBe('critical quality metric failed: security_rating D (needs LTE B)');
      expect(step(s, 'codeQuality').details.metrics).toEqual(expect.arrayContaining([
        expect.objectContaining({ kpi: 'security_rating', severity: 'critical', passed: false, actualValue: 'D', expectedValue: 'B', comparator: 'LTE' }),
      ]));
      expect(step(s, 'buildImage').status).toBe('NOT_STARTED');
    });
  });
});

describe('important metric failures', () => {
  // A bug (return in finally: reliability D) in a module no unit test covers (coverage far below 50%).
  beforeAll(() => commitChange(h.repo, 'legacy helpers', async (dir) => {
    const functions = Array.from({ length: 30 }, (_, i) => `def scale_${i}(x):\n    if x > ${i}:\n        return x * ${i + 2}\n    return x + ${i}\n`);
    await fs.writeFile(path.join(dir, 'app', 'legacy.py'), '"""Legacy report helpers (no tests yet)."""\n\n\n' +
      'def lookup(table, key):\n    try:\n        value = table[key]\n    finally:\n        return None\n\n\n' + functions.join('\n\n'));
  }));
  afterAll(async () => {
    await git(h.repo, 'revert', '--no-edit', 'HEAD');
    await h.writePipeline(base());
  });

  it('important metrics wait; an override must list every failing one, from an allowed role; then the pipeline goes on', async () => {
    const { executionId, state: waiting } = await run(isWaitingAt('codeQuality'));
    expect(step(waiting, 'codeQuality').status).toBe('WAITING');
    expect(waiting.waiting).toMatchObject({ accepts: ['override', 'reject', 'cancel'], allowed: ['alice'], metrics: ['reliability_rating', 'coverage'] });
    expect(Date.parse(waiting.waiting!.expiresAt) - Date.parse(waiting.waiting!.since)).toBe(14 * DAY);
    expect(step(waiting, 'codeQuality').details.summary).toMatch(/important metric\(s\) failed: reliability_rating D \(needs LTE C\); coverage \d+(\.\d)? \(needs GTE 50\); waiting for an override/);

    expect(await refusal(h.stagecoach.send(ID, executionId, 'override', { by: 'bob', metrics: ['reliability_rating', 'coverage'] })))
      .toMatch(/bob \(BUSINESS_OWNER\) may not override quality gates of pipeline t-quality: that needs the role DEPLOYMENT_MANAGER \(allowed: alice\)/);
    expect(await refusal(h.stagecoach.send(ID, executionId, 'override', { by: 'alice', metrics: ['coverage'] })))
      .toMatch(/an override must list every failing important metric: reliability_rating is missing \(failing: reliability_rating, coverage\)/);
    // The same refusal through a signal (the Web UI's way) is recorded in the audit log.
    await h.client.workflow.getHandle(executionWorkflowId(ID, executionId)).signal('override', { by: 'alice', metrics: ['reliability_rating'] });
    await expect.poll(async () => (await h.stagecoach.executionState(ID, executionId)).audit.length).toBe(3);

    await h.stagecoach.send(ID, executionId, 'override', { by: 'alice', metrics: ['coverage', 'reliability_rating'] });
    const s = await h.waitFor(ID, executionId, (x) => step(x, 'buildImage').status !== 'NOT_STARTED' || hasEnded(x));
    const gate = step(s, 'codeQuality');
    expect(gate.status).toBe('FINISHED');
    expect(gate.details).toMatchObject({ decision: 'overridden', overriddenBy: 'alice' });
    expect((gate.details.metrics as Array<{ kpi: string; override: boolean }>).filter((m) => m.override).map((m) => m.kpi)).toEqual(['reliability_rating', 'coverage']);
    expect(s.audit.map((a) => [a.action, a.by, a.via, a.outcome, a.reason ?? ''])).toEqual([
      ['override', 'bob', 'update', 'refused', expect.stringMatching(/may not override/)],
      ['override', 'alice', 'update', 'refused', expect.stringMatching(/reliability_rating is missing/)],
      ['override', 'alice', 'signal', 'refused', expect.stringMatching(/coverage is missing/)],
      ['override', 'alice', 'update', 'accepted', ''],
    ]);
    await cancel(executionId);
    await h.recordHistory('execution-quality-override', executionWorkflowId(ID, executionId));
  });

  it('a reject at the gate cancels the execution', async () => {
    const { executionId } = await run(isWaitingAt('codeQuality'));
    expect(await refusal(h.stagecoach.send(ID, executionId, 'reject', { by: 'bob' }))).toMatch(/bob \(BUSINESS_OWNER\) may not override/);
    await h.stagecoach.send(ID, executionId, 'reject', { by: 'alice', reason: 'add tests first' });
    const s = await endedAt(executionId);
    expect(s.status).toBe('CANCELLED');
    expect(s.reason).toBe('quality gate rejected by alice: add tests first (failing: reliability_rating, coverage)');
    expect(step(s, 'codeQuality').status).toBe('CANCELLED');
  });

  it('importantMetricFailures "fail" fails at once; "continue" goes on, reporting them', async () => {
    await h.writePipeline(base({ quality: { overrideRoles: ['DEPLOYMENT_MANAGER'], importantMetricFailures: 'fail' } }));
    const failed = await run(hasEnded);
    let s = await endedAt(failed.executionId);
    expect(s.status).toBe('FAILED');
    expect(s.reason).toMatch(/^important quality metric\(s\) failed: reliability_rating D \(needs LTE C\); coverage \d+(\.\d)? \(needs GTE 50\) \(importantMetricFailures: fail\)$/);

    await h.writePipeline(base({ quality: { overrideRoles: ['DEPLOYMENT_MANAGER'], importantMetricFailures: 'continue' } }));
    const continued = await run((x) => step(x, 'codeQuality').status === 'FINISHED' || hasEnded(x));
    s = continued.state;
    expect(step(s, 'codeQuality').details).toMatchObject({ continued: true, summary: expect.stringMatching(/continuing as configured/) });
    expect(s.audit).toEqual([]);
    await cancel(continued.executionId);

    // The override wait has a limit of its own (14 days by default): a short one here, to see it end.
    await h.writePipeline(base({ quality: { overrideRoles: ['DEPLOYMENT_MANAGER'], overrideTimeout: '2s' } }));
    const timedOut = await run(hasEnded);
    s = await endedAt(timedOut.executionId);
    expect(s.status).toBe('CANCELLED');
    expect(s.reason).toBe('no override within 2s: the quality gate timed out (failing: reliability_rating, coverage)');
    expect(s.waiting).toBeUndefined();
  });
});

describe('functional and UI tests against Stage', () => {
  it('a functional test fails for real: the dispatcher stopped caching', async () => {
    await onCommit('pass everything through', () => edit('dispatcher/default.vcl', /unset req\.http\.Cookie;\n {4}return \(hash\);/, 'unset req.http.Cookie;\n    return (pass);'), async () => {
      const { executionId } = await run(hasEnded, 10 * 60_000);
      const s = await endedAt(executionId);
      expect(s.status).toBe('FAILED');
      expect(step(s, 'productTest').status).toBe('FINISHED');
      expect(step(s, 'functionalTest').status).toBe('FAILED');
      expect(s.reason).toBe('functionalTest failed: 1 functional test(s) failed against Stage: functional_test.StageSiteTest.test_dispatcher_caches_pages');
      const details = step(s, 'functionalTest').details as { tests: { passed: number; failed: number }; reportRef: string };
      expect(details.tests).toMatchObject({ failed: 1 });
      expect((await artifact(details.reportRef)).toString()).toMatch(/the dispatcher should serve a cached copy/);
    });
  });

  it('a UI test fails for real: the home page lost its navigation', async () => {
    await onCommit('no navigation', () => edit('app/server.py', /links = " \| "\.join\([^\n]*\n/, 'links = ""\n'), async () => {
      const { executionId } = await run(hasEnded, 10 * 60_000);
      const s = await endedAt(executionId);
      expect(s.status).toBe('FAILED');
      expect(step(s, 'functionalTest').status).toBe('FINISHED');
      expect(step(s, 'uiTest').status).toBe('FAILED');
      expect(s.reason).toBe('uiTest failed: 1 UI test(s) failed against Stage: ui_test.HomePageUiTest.test_home_page_shows_version_and_navigates_to_about');
      const details = step(s, 'uiTest').details as { screenshots: Array<{ name: string }>; logRef: string };
      expect(details.screenshots.map((f) => f.name)).toEqual(['home.png']);
      expect((await artifact(details.logRef)).toString()).toMatch(/the home page has no link to About/);
      expect(step(s, 'contentAudit').status).toBe('NOT_STARTED');
    });
  });
});

describe('the content audit across executions', () => {
  it("compares each score with the previous execution's audit", async () => {
    await commitChange(h.repo, 'describe the pages', () => edit('app/server.py', '<title>%s - Stagecoach sample (%s)</title></head>',
      '<title>%s - Stagecoach sample (%s)</title><meta name=\\"description\\" content=\\"Sample site.\\"></head>'));
    const { executionId, state: s } = await run(isWaitingAt('approval'), 10 * 60_000);
    expect(s.status, s.reason).toBe('RUNNING');
    const audit = step(s, 'contentAudit').details as { previousExecutionId: string; scores: Record<string, number>; changes: Record<string, string>; pages: Array<{ changes: Record<string, string> }> };
    expect(audit.previousExecutionId).toBe('1');
    const before = firstAudit.scores as Record<string, number>;
    expect(audit.scores.seo).toBeGreaterThan(before.seo);
    expect(audit.changes.seo).toBe('positive');
    for (const c of ['performance', 'accessibility', 'best-practices']) {
      expect(audit.changes[c]).toBe(audit.scores[c] > before[c] ? 'positive' : audit.scores[c] < before[c] ? 'negative' : 'no change');
    }
    expect(audit.pages.every((p) => p.changes.seo === 'positive')).toBe(true);
    expect(step(s, 'contentAudit').details.summary).toMatch(/SEO \d+ \(positive\)/);
    await cancel(executionId);
  });
});

describe('web tier pipeline', () => {
  it('ships a dispatcher change alone: validate, dispatcher image, the same rollout; no scanning, tests or audit', async () => {
    await h.writePipeline(base({ type: 'webTier' }));
    await commitChange(h.repo, 'a new cache rule header', () => edit('dispatcher/default.vcl', 'unset resp.http.Via;', 'set resp.http.X-Cache-Rule = "v2";\n    unset resp.http.Via;'));
    const started = Date.now();
    const { executionId, state: s } = await run(isWaitingAt('approval'));
    const tookMs = Date.now() - started;
    expect(s.status, s.reason).toBe('RUNNING');
    expect(s.steps.map((x) => x.stepId)).toEqual(['validate', 'buildImage', 'deploy-stage', 'approval', 'schedule', 'deploy-prod']);
    expect(Object.keys(step(s, 'buildImage').details.images as object)).toEqual(['dispatcher']);
    const pair = s.rollouts.stage!.nodes.find((n) => n.role === 'pair')!;
    expect(pair.currentImages?.dispatcher).toBe(s.artifacts.images!.dispatcher.id);
    expect(s.rollouts.stage!.nodes.map((n) => n.name)).not.toContain('author');
    const res = await fetch(s.urls.stage!);
    expect(res.headers.get('x-cache-rule')).toBe('v2');
    expect(res.headers.get('x-app-version')).toBe('2.0.0'); // the publish instance was left as it was
    console.log(`web tier execution reached the approval in ${Math.round(tookMs / 1000)} s`);
    expect(tookMs).toBeLessThan(3 * 60_000);
    await cancel(executionId);
    await h.writePipeline(base());
  });
});
