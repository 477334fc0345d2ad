/**
 * The codeQuality step's gates, as Cloud Manager defines them (three tiers; SonarQube's metrics). Pure: the
 * summaries come from the build step (the scanners ran inside it), the thresholds from the pipeline configuration.
 *
 * | kpi                      | tier          | passes when (comparator)           | default |
 * | ------------------------ | ------------- | ---------------------------------- | ------- |
 * | security_rating          | critical      | rating LTE threshold (A best)      | B       |
 * | reliability_rating       | important     | rating LTE threshold               | C       |
 * | sqale_rating             | important     | maintainability rating LTE         | A       |
 * | coverage                 | important     | percent GTE threshold              | 50      |
 * | skipped_tests            | informational | count LTE threshold                | 1       |
 * | open_issues              | informational | count LTE threshold                | 0       |
 * | duplicated_lines_density | informational | percent LTE threshold              | 1       |
 *
 * `comparator` says what passing means (Cloud Manager's convention: coverage passes when actual GTE expected). A
 * metric the build's reports do not measure is recorded as "not measured" and fails at its tier.
 */
import type { CodeScanSummary, QualityConfig, Rating } from '../../shared/types';

export type MetricSeverity = 'critical' | 'important' | 'informational';

/** Cloud Manager's Metric (reference/cloudmanager-api.yaml). */
export interface Metric {
  id: string;
  kpi: string;
  severity: MetricSeverity;
  passed: boolean;
  override: boolean;
  actualValue: string;
  expectedValue: string;
  comparator: 'GT' | 'GTE' | 'LT' | 'LTE' | 'EQ' | 'NEQ';
}

/** Display names of the KPIs (Cloud Manager's). */
export const KPI_NAMES: Record<string, string> = {
  unit_tests_failed: 'Failed unit tests',
  security_rating: 'Security Rating',
  reliability_rating: 'Reliability Rating',
  sqale_rating: 'Maintainability Rating',
  coverage: 'Coverage',
  skipped_tests: 'Skipped Unit Tests',
  open_issues: 'Open Issues',
  duplicated_lines_density: 'Duplicated Lines',
};

const NOT_MEASURED = 'not measured';

function metric(kpi: string, severity: MetricSeverity, actual: string | undefined, expected: string, comparator: Metric['comparator'], passes: () => boolean): Metric {
  const measured = actual !== undefined;
  return {
    id: kpi, kpi, severity, passed: measured && passes(), override: false,
    actualValue: measured ? actual : NOT_MEASURED, expectedValue: expected, comparator,
  };
}

const ratingAtMost = (actual: Rating, threshold: Rating) => actual <= threshold;

export interface QualityInput {
  scan?: CodeScanSummary;
  unitTests?: { failed: number; skipped: number };
}

/** Every metric of the gate, with its tier and whether it passed. */
export function evaluateQualityMetrics(input: QualityInput, thresholds: QualityConfig['thresholds']): Metric[] {
  const issues = input.scan?.issues;
  const coverage = input.scan?.coverage;
  const duplication = input.scan?.duplication;
  const tests = input.unitTests;
  const t = thresholds;
  const openIssues = issues ? issues.security.total + issues.reliability.total + issues.maintainability.total : undefined;
  return [
    // The build fails on a failing unit test, so this one always passes here; kept for the API's metric list.
    metric('unit_tests_failed', 'critical', String(tests?.failed ?? 0), '0', 'EQ', () => (tests?.failed ?? 0) === 0),
    metric('security_rating', 'critical', issues?.securityRating, t.securityRating, 'LTE', () => ratingAtMost(issues!.securityRating, t.securityRating)),
    metric('reliability_rating', 'important', issues?.reliabilityRating, t.reliabilityRating, 'LTE', () => ratingAtMost(issues!.reliabilityRating, t.reliabilityRating)),
    metric('sqale_rating', 'important', issues?.maintainabilityRating, t.maintainabilityRating, 'LTE', () => ratingAtMost(issues!.maintainabilityRating, t.maintainabilityRating)),
    metric('coverage', 'important', coverage ? String(coverage.percent) : undefined, String(t.coverage), 'GTE', () => coverage!.percent >= t.coverage),
    metric('skipped_tests', 'informational', tests ? String(tests.skipped) : undefined, String(t.skippedTests), 'LTE', () => tests!.skipped <= t.skippedTests),
    metric('open_issues', 'informational', openIssues !== undefined ? String(openIssues) : undefined, String(t.openIssues), 'LTE', () => openIssues! <= t.openIssues),
    metric('duplicated_lines_density', 'informational', duplication ? String(duplication.density) : undefined, String(t.duplicatedLines), 'LTE',
      () => duplication!.density <= t.duplicatedLines),
  ];
}

/** "coverage 31.2 (needs GTE 50)" */
export function describeMetric(m: Metric): string {
  if (m.actualValue === NOT_MEASURED) return `${m.kpi} not measured`;
  return `${m.kpi} ${m.actualValue} (needs ${m.comparator} ${m.expectedValue})`;
}

export function failing(metrics: Metric[], severity: MetricSeverity): Metric[] {
  return metrics.filter((m) => m.severity === severity && !m.passed);
}
