/**
 * Code quality and audit, without servers: the scanners' report parsers (SARIF, coverage, duplication), SonarQube's
 * ratings, Cloud Manager's three tiers with the configured thresholds, the override rules, the configuration's
 * defaults, the audit's change computation, and the sample app's own linter read back through the SARIF parser.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { averageOf, changeOf, changesOf, slowestOf, slug } from '../../src/activities/audit';
import {
  parseCobertura, parseCoveragePyJson, parseDuplication, ratingFromDebtRatio, ratingFromIssues, storeScanReports, summarizeSarif,
} from '../../src/activities/reports';
import { createDirectoryArtifactStore } from '../../src/activities/artifacts';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { EXAMPLES_DIR } from '../../src/config/paths';
import type { CodeScanSummary, ExecutionState } from '../../src/shared/types';
import { payloadProblem, refusalReason } from '../../src/workflows/execution/message-rules';
import { DEFAULT_QUALITY } from '../../src/shared/config-defaults';
import { evaluateQualityMetrics, failing } from '../../src/workflows/execution/quality-gates';
import { usersHolding } from '../../src/workflows/execution/roles';
import { initialState } from '../../src/workflows/execution/state';

const sarif = (results: Array<{ ruleId: string; level?: string; properties?: Record<string, unknown> }>, rules: Array<Record<string, unknown>>, loc?: number) => ({
  version: '2.1.0',
  runs: [{ tool: { driver: { name: 'lint', rules } }, results: results.map((r) => ({ ...r, message: { text: r.ruleId } })), ...(loc ? { properties: { linesOfCode: loc } } : {}) }],
});

describe('SARIF summaries and SonarQube ratings', () => {
  it('rates security and reliability by the worst finding, maintainability by the debt ratio', () => {
    const rules = [
      { id: 'S1', properties: { tags: ['security'], severity: 'critical' } },
      { id: 'R1', properties: { tags: ['correctness'] }, defaultConfiguration: { level: 'error' } },
      { id: 'M1', properties: { tags: ['style'], severity: 'major', remediationMinutes: 60 } },
      { id: 'G1', properties: { tags: ['security', 'external/cwe/cwe-79'], 'security-severity': '9.3' } },
    ];
    const summary = summarizeSarif([sarif([{ ruleId: 'S1' }, { ruleId: 'R1' }, { ruleId: 'M1' }, { ruleId: 'M1' }], rules, 20)]);
    expect(summary).toMatchObject({
      securityRating: 'D', reliabilityRating: 'C', maintainabilityRating: 'C', technicalDebtMinutes: 120, debtRatio: 20, linesOfCode: 20,
      security: { total: 1, bySeverity: { critical: 1 } }, reliability: { total: 1, bySeverity: { major: 1 } }, tools: ['lint'],
    });
    // GitHub's numeric security-severity: 9.3 is a blocker (E); a suppressed result does not count.
    const github = summarizeSarif([{ runs: [{ tool: { driver: { name: 'codeql', rules } }, results: [
      { ruleId: 'G1', message: { text: 'xss' } },
      { ruleId: 'S1', message: { text: 'x' }, suppressions: [{ kind: 'inSource' }] },
    ] }] }], 1000);
    expect(github).toMatchObject({ securityRating: 'E', maintainabilityRating: 'A', linesOfCode: 1000 });
    expect(summarizeSarif([sarif([], [], 10)])).toMatchObject({ securityRating: 'A', reliabilityRating: 'A', maintainabilityRating: 'A' });
  });

  it('maps severities and debt ratios to ratings as SonarQube does', () => {
    expect(ratingFromIssues({ total: 2, bySeverity: { info: 2 } })).toBe('A');
    expect(ratingFromIssues({ total: 1, bySeverity: { minor: 1 } })).toBe('B');
    expect(ratingFromIssues({ total: 1, bySeverity: { blocker: 1, minor: 3 } })).toBe('E');
    expect([5, 5.1, 10, 20, 50, 50.1].map(ratingFromDebtRatio)).toEqual(['A', 'B', 'B', 'C', 'D', 'E']);
  });

  it('reads coverage.py JSON, Cobertura XML and duplication reports', () => {
    expect(parseCoveragePyJson(JSON.stringify({ totals: { covered_lines: 67, num_statements: 80, covered_branches: 13, num_branches: 14 } })))
      .toEqual({ percent: 85.1, lines: { covered: 67, total: 80 }, branches: { covered: 13, total: 14 }, format: 'coverage.py JSON' });
    expect(parseCobertura('<?xml version="1.0"?><coverage line-rate="0.5" branch-rate="0.25" lines-covered="50" lines-valid="100" branches-covered="5" branches-valid="20">'))
      .toMatchObject({ percent: 45.8, lines: { covered: 50, total: 100 } });
    expect(parseCobertura('<coverage line-rate="0.731">').percent).toBe(73.1);
    expect(parseDuplication('{"lines": 200, "duplicatedLines": 12, "density": 6.0}')).toEqual({ lines: 200, duplicatedLines: 12, density: 6 });
    expect(parseDuplication('{"statistics": {"total": {"lines": 400, "duplicatedLines": 10, "percentage": 2.5}}}')).toEqual({ lines: 400, duplicatedLines: 10, density: 2.5 });
  });

  it('stores the reports found in /out and names those missing', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-quality-'));
    const store = createDirectoryArtifactStore(dir);
    const files = new Map([
      ['lint.sarif', Buffer.from(JSON.stringify(sarif([], [], 50)))],
      ['junit.xml', Buffer.from('<testsuite/>')],
    ]);
    const stored = await storeScanReports(files, store, 'p/1/build');
    expect(stored.refs).toEqual({ sarif: ['p/1/build/lint.sarif'] });
    expect(stored.summary.issues?.securityRating).toBe('A');
    expect(stored.summary.missing).toEqual([expect.stringMatching(/duplication/), expect.stringMatching(/coverage/)]);
    expect(JSON.parse((await store.get('p/1/build/lint.sarif')).toString()).version).toBe('2.1.0');
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("reads the sample app's own linter output: a call to eval() is a critical vulnerability", async () => {
    const python = await promisify(execFile)('python3', ['--version']).then(() => true, () => false);
    if (!python) return; // the linter runs in the app's Docker test stage; here it is only a cross-check
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-lint-'));
    await fs.writeFile(path.join(dir, 'ok.py'), 'def add(a, b):\n    return a + b\n');
    await fs.writeFile(path.join(dir, 'bad.py'), 'def run(code):\n    return eval(code)\n\n\ndef f(x=[]):\n    try:\n        return x\n    finally:\n        return None\n');
    const lint = path.join(EXAMPLES_DIR, 'app', 'tests', 'lint.py');
    const { stdout } = await promisify(execFile)('python3', [lint, '--config', '/nonexistent', path.join(dir, 'ok.py')]);
    expect(summarizeSarif([JSON.parse(stdout)])).toMatchObject({ securityRating: 'A', reliabilityRating: 'A', linesOfCode: 2 });
    const bad = await promisify(execFile)('python3', [lint, '--config', '/nonexistent', path.join(dir, 'bad.py')]);
    expect(summarizeSarif([JSON.parse(bad.stdout)])).toMatchObject({ securityRating: 'D', reliabilityRating: 'D' });
    await fs.rm(dir, { recursive: true, force: true });
  });
});

const scan = (over: Partial<NonNullable<CodeScanSummary['issues']>> = {}, coverage = 85, density = 0): CodeScanSummary => ({
  issues: {
    security: { total: 0, bySeverity: {} }, reliability: { total: 0, bySeverity: {} }, maintainability: { total: 1, bySeverity: { minor: 1 } },
    securityRating: 'A', reliabilityRating: 'A', maintainabilityRating: 'A', technicalDebtMinutes: 2, debtRatio: 0.1, linesOfCode: 100, tools: ['lint'],
    ...over,
  },
  coverage: { percent: coverage, format: 'coverage.py JSON' },
  duplication: { lines: 100, duplicatedLines: density, density },
  missing: [],
});

describe("Cloud Manager's three tiers", () => {
  const t = DEFAULT_QUALITY.thresholds;

  it('passes the critical and important metrics of a clean scan; informational ones only report', () => {
    const metrics = evaluateQualityMetrics({ scan: scan(), unitTests: { failed: 0, skipped: 2 } }, t);
    expect(metrics.map((m) => [m.kpi, m.severity, m.passed])).toEqual([
      ['unit_tests_failed', 'critical', true],
      ['security_rating', 'critical', true],
      ['reliability_rating', 'important', true],
      ['sqale_rating', 'important', true],
      ['coverage', 'important', true],
      ['skipped_tests', 'informational', false],
      ['open_issues', 'informational', false],
      ['duplicated_lines_density', 'informational', true],
    ]);
    expect(metrics.find((m) => m.kpi === 'coverage')).toEqual({
      id: 'coverage', kpi: 'coverage', severity: 'important', passed: true, override: false, actualValue: '85', expectedValue: '50', comparator: 'GTE',
    });
  });

  it('fails security below B as critical; reliability, maintainability and coverage as important', () => {
    const metrics = evaluateQualityMetrics({ scan: scan({ securityRating: 'C', reliabilityRating: 'D', maintainabilityRating: 'B' }, 49.9), unitTests: { failed: 0, skipped: 0 } }, t);
    expect(failing(metrics, 'critical').map((m) => m.kpi)).toEqual(['security_rating']);
    expect(failing(metrics, 'important').map((m) => m.kpi)).toEqual(['reliability_rating', 'sqale_rating', 'coverage']);
    // Thresholds are configuration.
    const lenient = evaluateQualityMetrics({ scan: scan({ securityRating: 'C' }, 30), unitTests: { failed: 0, skipped: 0 } },
      { ...t, securityRating: 'C', coverage: 25 });
    expect(failing(lenient, 'critical')).toEqual([]);
    expect(failing(lenient, 'important')).toEqual([]);
  });

  it('a metric without a report is "not measured" and fails at its tier', () => {
    const metrics = evaluateQualityMetrics({ scan: { missing: ['a SARIF report (*.sarif)'] }, unitTests: { failed: 0, skipped: 0 } }, t);
    expect(metrics.find((m) => m.kpi === 'security_rating')).toMatchObject({ passed: false, actualValue: 'not measured' });
    expect(failing(metrics, 'important').map((m) => m.kpi)).toEqual(['reliability_rating', 'sqale_rating', 'coverage']);
  });

  it('who may override: users holding an override role', () => {
    const config = parsePipelineConfig({
      id: 'unit', repository: 'r', identity: 'declared',
      approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }] },
    });
    expect(usersHolding(config, DEFAULT_QUALITY.overrideRoles)).toEqual(['alice', 'bob']);
    expect(usersHolding(config, ['DEPLOYMENT_MANAGER'])).toEqual(['alice']);
  });
});

describe('override rules', () => {
  const config = parsePipelineConfig({
    id: 'unit', repository: '/tmp/repo', identity: 'declared',
    approval: { approvers: [{ name: 'alice', roles: ['DEPLOYMENT_MANAGER'] }, { name: 'bob', roles: ['BUSINESS_OWNER'] }] },
    quality: { overrideRoles: ['DEPLOYMENT_MANAGER'] },
  });
  const atGate = (): ExecutionState => {
    const state = initialState({ pipelineId: 'unit', executionId: '4', trigger: 'MANUAL', mode: 'NORMAL', user: 'carol', config }, '2030-01-01T00:00:00Z');
    state.status = 'RUNNING';
    state.currentStepId = 'codeQuality';
    state.waiting = {
      stepId: 'codeQuality', action: 'codeQuality', since: '2030-01-01T00:00:00Z', expiresAt: '2030-01-15T00:00:00Z',
      accepts: ['override', 'reject', 'cancel'], allowed: ['alice'], metrics: ['reliability_rating', 'coverage'],
    };
    return state;
  };
  const refuse = (action: 'override' | 'reject', request: Record<string, unknown>, state = atGate()) =>
    payloadProblem(action, request) ?? refusalReason(action, request, state, config, Date.parse('2030-01-02T00:00:00Z'))?.message;

  it('accepts an override listing every failing important metric, by a permitted role', () => {
    expect(refuse('override', { by: 'alice', metrics: ['coverage', 'reliability_rating'] })).toBeUndefined();
    expect(refuse('reject', { by: 'alice', reason: 'fix it first' })).toBeUndefined();
  });

  it('refuses an override missing a failing metric, naming it', () => {
    expect(refuse('override', { by: 'alice', metrics: ['coverage'] }))
      .toBe('an override must list every failing important metric: reliability_rating is missing (failing: reliability_rating, coverage)');
    expect(refuse('override', { by: 'alice', metrics: ['coverage', 'reliability_rating', 'security_rating'] }))
      .toMatch(/security_rating is not a failing important metric of execution 4/);
    expect(refuse('override', { by: 'alice' })).toMatch(/override needs "metrics"/);
  });

  it('refuses an override or a reject by a role without the right, and by strangers', () => {
    expect(refuse('override', { by: 'bob', metrics: ['coverage', 'reliability_rating'] }))
      .toBe('bob (BUSINESS_OWNER) may not override quality gates of pipeline unit: that needs the role DEPLOYMENT_MANAGER (allowed: alice)');
    expect(refuse('reject', { by: 'bob' })).toMatch(/bob \(BUSINESS_OWNER\) may not override/);
    expect(refuse('override', { by: 'mallory', metrics: ['coverage', 'reliability_rating'] })).toMatch(/mallory is not a user of pipeline unit/);
  });

  it('refuses an override when no gate waits for one', () => {
    const state = atGate();
    state.waiting = undefined;
    expect(refuse('override', { by: 'alice', metrics: ['coverage'] }, state)).toMatch(/execution 4 is not waiting for a quality gate override/);
  });
});

describe('configuration of the gates, the test images and the audit', () => {
  it("defaults to Cloud Manager's thresholds, ask, every role, 14 days; 60 and 30 minute test limits", () => {
    const config = parsePipelineConfig({ id: 'unit', repository: '/tmp/repo' });
    expect(config.quality).toEqual(DEFAULT_QUALITY);
    expect(config.tests).toEqual({
      functional: { enabled: true, context: 'tests/functional', timeout: '60 minutes' },
      ui: { enabled: true, context: 'tests/ui', timeout: '30 minutes' },
    });
  });

  it('refuses unknown behaviours, ratings and roles with their paths', () => {
    expect(() => parsePipelineConfig({
      id: 'unit', repository: '/tmp/repo',
      quality: { importantMetricFailures: 'maybe', thresholds: { securityRating: 'F', coverage: 120 }, overrideRoles: ['ADMIN'] },
      tests: { ui: { timeout: 'soon' } },
    })).toThrow(/quality\.thresholds\.securityRating[\s\S]*quality\.thresholds\.coverage[\s\S]*quality\.importantMetricFailures[\s\S]*quality\.overrideRoles\.0[\s\S]*tests\.ui\.timeout/);
  });
});

describe('audit changes', () => {
  it('compares each score with the previous audit: positive, negative, no change, n/a', () => {
    expect([changeOf(90, 80), changeOf(80, 90), changeOf(85, 85), changeOf(85, undefined), changeOf(undefined, 85)])
      .toEqual(['positive', 'negative', 'no change', 'n/a', 'n/a']);
    expect(changesOf({ performance: 99, seo: 90 }, { performance: 100, seo: 82, accessibility: 100 }))
      .toEqual({ performance: 'negative', accessibility: 'n/a', 'best-practices': 'n/a', seo: 'positive' });
    expect(averageOf([{ performance: 90, seo: 80 }, { performance: 71 }])).toEqual({ performance: 81, seo: 80 });
  });

  it('names the slowest pages, worst performance first', () => {
    const page = (p: string, performance: number, lcp: number) => ({ path: p, scores: { performance }, changes: changesOf({}, undefined), timings: { largestContentfulPaintMs: lcp } });
    expect(slowestOf([page('/', 99, 500), page('/about', 70, 2000), page('/x', 99, 900), { path: '/broken', scores: {}, changes: changesOf({}, undefined) }]).map((p) => p.path))
      .toEqual(['/about', '/x', '/']);
    expect([slug('/'), slug('/about/team/'), slug('/a b?c')]).toEqual(['home', 'about-team', 'a-b-c']);
  });
});
