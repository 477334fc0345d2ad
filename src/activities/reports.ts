/**
 * The reports an app's tests and scanners leave in /out, turned into what the steps and their gates read: JUnit XML
 * (every test runner's results), SARIF 2.1.0 (any linter or security scanner), coverage (coverage.py JSON or
 * Cobertura XML) and duplicated lines (our JSON, or jscpd's report). Pure parsers plus one helper that stores the
 * scanners' reports in the artifact store; the ratings follow SonarQube's definitions, which Cloud Manager's code
 * quality uses.
 */
import type { CodeScanSummary, CoverageSummary, IssueCounts, IssueSeverity, Rating } from '../shared/types';
import type { ArtifactStore } from './artifacts';

export interface UnitTestResults {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  /** `classname.name` of each failing test. */
  failures: string[];
}

/** Counts a JUnit XML report (the format every test runner can write). */
export function parseJUnit(xml: string): UnitTestResults {
  const results: UnitTestResults = { total: 0, passed: 0, failed: 0, skipped: 0, failures: [] };
  const testcase = /<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  const attr = (attrs: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(attrs)?.[1] ?? '';
  for (const match of xml.matchAll(testcase)) {
    const [, attrs, body = ''] = match;
    results.total += 1;
    if (/<(failure|error)\b/.test(body)) {
      results.failed += 1;
      results.failures.push([attr(attrs, 'classname'), attr(attrs, 'name')].filter(Boolean).join('.'));
    } else if (/<skipped\b/.test(body)) {
      results.skipped += 1;
    } else {
      results.passed += 1;
    }
  }
  return results;
}

const SEVERITIES: IssueSeverity[] = ['blocker', 'critical', 'major', 'minor', 'info'];
type IssueType = 'security' | 'reliability' | 'maintainability';

/** Minutes to fix one finding when the report does not say (per severity). */
const DEFAULT_REMEDIATION: Record<IssueSeverity, number> = { blocker: 60, critical: 30, major: 10, minor: 5, info: 0 };

const asObject = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asStrings = (v: unknown): string[] => asArray(v).filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase());

/** What kind of issue a SARIF rule reports, from its tags (security, reliability/bug/correctness, else maintainability). */
function issueType(tags: string[]): IssueType {
  if (tags.some((t) => t === 'security' || t.startsWith('cwe') || t === 'vulnerability' || t.startsWith('external/cwe'))) return 'security';
  if (tags.some((t) => ['reliability', 'bug', 'correctness', 'error-prone'].includes(t))) return 'reliability';
  return 'maintainability';
}

/**
 * A finding's severity: an explicit `severity` property (blocker … info), else GitHub's numeric `security-severity`
 * (≥ 9 blocker, ≥ 7 critical, ≥ 4 major, else minor), else the SARIF level (error major, warning minor, note info).
 */
function severityOf(props: Record<string, unknown>, level: unknown): IssueSeverity {
  const explicit = typeof props.severity === 'string' ? props.severity.toLowerCase() : undefined;
  if (explicit && (SEVERITIES as string[]).includes(explicit)) return explicit as IssueSeverity;
  const score = Number(props['security-severity']);
  if (props['security-severity'] !== undefined && Number.isFinite(score)) return score >= 9 ? 'blocker' : score >= 7 ? 'critical' : score >= 4 ? 'major' : 'minor';
  return level === 'error' ? 'major' : level === 'warning' ? 'minor' : 'info';
}

/** SonarQube's security and reliability ratings: A none, B minor, C major, D critical, E blocker (info never counts). */
export function ratingFromIssues(counts: IssueCounts): Rating {
  const has = (s: IssueSeverity) => (counts.bySeverity[s] ?? 0) > 0;
  if (has('blocker')) return 'E';
  if (has('critical')) return 'D';
  if (has('major')) return 'C';
  if (has('minor')) return 'B';
  return 'A';
}

/** SonarQube's maintainability rating from the technical debt ratio (percent): ≤5 A, ≤10 B, ≤20 C, ≤50 D, else E. */
export function ratingFromDebtRatio(ratio: number): Rating {
  if (ratio <= 5) return 'A';
  if (ratio <= 10) return 'B';
  if (ratio <= 20) return 'C';
  if (ratio <= 50) return 'D';
  return 'E';
}

const emptyCounts = (): IssueCounts => ({ total: 0, bySeverity: {} });

/** Summarizes one or more SARIF logs. `linesOfCode` is the fallback when no run's properties carry it. */
export function summarizeSarif(logs: unknown[], linesOfCodeFallback = 0): NonNullable<CodeScanSummary['issues']> {
  const counts: Record<IssueType, IssueCounts> = { security: emptyCounts(), reliability: emptyCounts(), maintainability: emptyCounts() };
  let debt = 0;
  let loc = 0;
  const tools = new Set<string>();
  for (const log of logs) {
    for (const run of asArray(asObject(log).runs).map(asObject)) {
      const driver = asObject(asObject(run.tool).driver);
      if (typeof driver.name === 'string') tools.add(driver.name);
      const rules = asArray(driver.rules).map(asObject);
      const byId = new Map(rules.map((r) => [String(r.id), r]));
      loc += Number(asObject(run.properties).linesOfCode) || 0;
      for (const result of asArray(run.results).map(asObject)) {
        if (result.suppressions && asArray(result.suppressions).length) continue;
        if (result.baselineState === 'absent') continue;
        const rule = (typeof result.ruleIndex === 'number' ? rules[result.ruleIndex] : undefined) ?? byId.get(String(result.ruleId)) ?? {};
        const ruleProps = asObject(rule.properties);
        const props = { ...ruleProps, ...asObject(result.properties) };
        const tags = [...asStrings(ruleProps.tags), ...asStrings(asObject(result.properties).tags)];
        const level = result.level ?? asObject(rule.defaultConfiguration).level ?? 'warning';
        const severity = severityOf(props, level);
        const type = issueType(tags);
        counts[type].total += 1;
        counts[type].bySeverity[severity] = (counts[type].bySeverity[severity] ?? 0) + 1;
        if (type === 'maintainability') {
          const minutes = Number(props.remediationMinutes);
          debt += Number.isFinite(minutes) && props.remediationMinutes !== undefined ? minutes : DEFAULT_REMEDIATION[severity];
        }
      }
    }
  }
  const linesOfCode = loc || linesOfCodeFallback;
  const debtRatio = linesOfCode > 0 ? Math.round((1000 * debt) / (linesOfCode * 30)) / 10 : (debt > 0 ? 100 : 0);
  return {
    ...counts,
    securityRating: ratingFromIssues(counts.security),
    reliabilityRating: ratingFromIssues(counts.reliability),
    maintainabilityRating: ratingFromDebtRatio(debtRatio),
    technicalDebtMinutes: debt,
    debtRatio,
    linesOfCode,
    tools: [...tools].sort(),
  };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Cloud Manager's coverage: (covered branches + covered lines) / (branches + lines), percent. */
function combined(lines?: { covered: number; total: number }, branches?: { covered: number; total: number }): number {
  const covered = (lines?.covered ?? 0) + (branches?.covered ?? 0);
  const total = (lines?.total ?? 0) + (branches?.total ?? 0);
  return total > 0 ? round1((100 * covered) / total) : 0;
}

/** coverage.py's `coverage json` report. */
export function parseCoveragePyJson(text: string): CoverageSummary {
  const totals = asObject(asObject(JSON.parse(text)).totals);
  const lines = { covered: Number(totals.covered_lines) || 0, total: Number(totals.num_statements) || 0 };
  const branches = totals.num_branches !== undefined ? { covered: Number(totals.covered_branches) || 0, total: Number(totals.num_branches) || 0 } : undefined;
  return { percent: combined(lines, branches), lines, ...(branches ? { branches } : {}), format: 'coverage.py JSON' };
}

/** A Cobertura XML report (most coverage tools can write one). */
export function parseCobertura(xml: string): CoverageSummary {
  const root = /<coverage\b([^>]*)>/.exec(xml)?.[1] ?? '';
  const attr = (name: string) => {
    const v = new RegExp(`\\b${name}="([^"]*)"`).exec(root)?.[1];
    return v === undefined ? undefined : Number(v);
  };
  const lv = attr('lines-valid');
  const bv = attr('branches-valid');
  if (lv !== undefined) {
    const lines = { covered: attr('lines-covered') ?? 0, total: lv };
    const branches = bv ? { covered: attr('branches-covered') ?? 0, total: bv } : undefined;
    return { percent: combined(lines, branches), lines, ...(branches ? { branches } : {}), format: 'Cobertura XML' };
  }
  return { percent: round1(100 * (attr('line-rate') ?? 0)), format: 'Cobertura XML' };
}

/** Duplicated lines: the sample's duplication.json ({lines, duplicatedLines, density}) or jscpd's JSON report. */
export function parseDuplication(text: string): NonNullable<CodeScanSummary['duplication']> {
  const data = asObject(JSON.parse(text));
  const jscpd = asObject(asObject(data.statistics).total);
  if (Object.keys(jscpd).length) {
    const lines = Number(jscpd.lines) || 0;
    const duplicatedLines = Number(jscpd.duplicatedLines) || 0;
    return { lines, duplicatedLines, density: Number(jscpd.percentage) || (lines ? round1((100 * duplicatedLines) / lines) : 0) };
  }
  const lines = Number(data.lines) || 0;
  const duplicatedLines = Number(data.duplicatedLines) || 0;
  const density = data.density !== undefined ? Number(data.density) : lines ? round1((100 * duplicatedLines) / lines) : 0;
  return { lines, duplicatedLines, density };
}

/** The names in /out each kind of report is read from. */
export const SCAN_FILES = {
  sarif: /\.sarif(\.json)?$/,
  coverage: ['coverage.json', 'coverage.xml', 'cobertura.xml'],
  duplication: ['duplication.json', 'jscpd-report.json'],
} as const;

export interface StoredScan {
  summary: CodeScanSummary;
  /** Artifact store references of the reports found. */
  refs: { sarif?: string[]; coverage?: string; duplication?: string };
  /** Reports present but unreadable, with why. */
  problems: string[];
}

/**
 * Reads the scanners' reports among the files of /out, stores each in the artifact store under `prefix`, and
 * answers their summaries. A missing report is named in `summary.missing`; an unreadable one in `problems`.
 */
export async function storeScanReports(files: Map<string, Buffer>, store: ArtifactStore, prefix: string): Promise<StoredScan> {
  const summary: CodeScanSummary = { missing: [] };
  const refs: StoredScan['refs'] = {};
  const problems: string[] = [];
  const put = (name: string) => store.put(`${prefix}/${name}`, files.get(name)!);

  const sarifNames = [...files.keys()].filter((n) => !n.includes('/') && SCAN_FILES.sarif.test(n)).sort();
  const duplicationName = SCAN_FILES.duplication.find((n) => files.has(n));
  let duplication: CodeScanSummary['duplication'];
  if (duplicationName) {
    refs.duplication = await put(duplicationName);
    try {
      duplication = parseDuplication(files.get(duplicationName)!.toString('utf8'));
    } catch (err) {
      problems.push(`${duplicationName}: ${(err as Error).message}`);
    }
  } else summary.missing.push(`a duplication report (${SCAN_FILES.duplication.join(' or ')})`);
  if (duplication) summary.duplication = duplication;

  if (sarifNames.length) {
    refs.sarif = [];
    const logs: unknown[] = [];
    for (const name of sarifNames) {
      refs.sarif.push(await put(name));
      try {
        logs.push(JSON.parse(files.get(name)!.toString('utf8')));
      } catch (err) {
        problems.push(`${name}: not JSON (${(err as Error).message})`);
      }
    }
    if (logs.length) summary.issues = summarizeSarif(logs, duplication?.lines ?? 0);
  } else summary.missing.push('a SARIF report (*.sarif)');

  const coverageName = SCAN_FILES.coverage.find((n) => files.has(n));
  if (coverageName) {
    refs.coverage = await put(coverageName);
    try {
      const text = files.get(coverageName)!.toString('utf8');
      summary.coverage = coverageName.endsWith('.json') ? parseCoveragePyJson(text) : parseCobertura(text);
    } catch (err) {
      problems.push(`${coverageName}: ${(err as Error).message}`);
    }
  } else summary.missing.push(`a coverage report (${SCAN_FILES.coverage.join(' or ')})`);
  return { summary, refs, problems };
}
