/**
 * The securityTest and performanceTest gates' ratings. Pure: the activities measure Stage, this turns what they
 * measured into Cloud Manager's Metrics (kpi, severity, passed, actual/expected value, comparator) with the tiers and
 * thresholds of the pipeline configuration. A critical failure fails the execution; an important one waits for an
 * override (the same `override` message and rules as the quality gate).
 */
import type {
  LoadMeasurement, PerformanceTestConfig, SecurityCheckResult, SecurityTestConfig,
} from '../../shared/stage-gates';
import { DEFAULT_PERFORMANCE_TEST, DEFAULT_SECURITY_TEST } from '../../shared/stage-gates';
import type { PipelineConfig, StepAction } from '../../shared/types';
import { DEFAULT_QUALITY } from '../../shared/config-defaults';
import type { Metric } from './quality-gates';

/** The gates that wait for an override on important failures, and what a refusal calls them. */
export const OVERRIDE_GATES: Partial<Record<StepAction, string>> = {
  codeQuality: 'quality gates',
  securityTest: 'security test failures',
  performanceTest: 'performance test failures',
};

/** The roles that may override (or reject at) the gate a step is. */
export function overrideRolesOf(action: StepAction, config: PipelineConfig): string[] {
  if (action === 'securityTest') return config.securityTest?.overrideRoles ?? DEFAULT_SECURITY_TEST.overrideRoles;
  if (action === 'performanceTest') return config.performanceTest?.overrideRoles ?? DEFAULT_PERFORMANCE_TEST.overrideRoles;
  return config.quality?.overrideRoles ?? DEFAULT_QUALITY.overrideRoles;
}

/** Each security check rated with its configured tier. */
export function securityMetrics(checks: SecurityCheckResult[], severity: SecurityTestConfig['severity']): Metric[] {
  return checks.map((c) => ({
    id: c.id, kpi: c.id, severity: severity[c.id] ?? DEFAULT_SECURITY_TEST.severity[c.id], passed: c.passed, override: false,
    actualValue: c.actual, expectedValue: c.expected, comparator: 'EQ',
  }));
}

/** The throughput a load must reach: configured, or 80% of the requested rate. */
export function minThroughputOf(config: Pick<PerformanceTestConfig, 'requestsPerSecond' | 'thresholds'>): number {
  return config.thresholds.minThroughput ?? Math.round(config.requestsPerSecond * 0.8 * 100) / 100;
}

/** The load's measurement against the thresholds, each metric with its configured tier. */
export function performanceMetrics(m: LoadMeasurement, config: Pick<PerformanceTestConfig, 'requestsPerSecond' | 'thresholds' | 'severity'>): Metric[] {
  const t = config.thresholds;
  const minThroughput = minThroughputOf(config);
  const sev = (id: keyof PerformanceTestConfig['severity']) => config.severity[id] ?? DEFAULT_PERFORMANCE_TEST.severity[id];
  const metric = (kpi: string, severity: Metric['severity'], actual: number, expected: number, comparator: 'LTE' | 'GTE'): Metric => ({
    id: kpi, kpi, severity, override: false, actualValue: String(actual), expectedValue: String(expected), comparator,
    passed: comparator === 'LTE' ? actual <= expected : actual >= expected,
  });
  return [
    metric('error_rate', sev('error_rate'), m.errorRate, t.errorRate, 'LTE'),
    // No successful request: no latency was measured, which never passes.
    { ...metric('latency_p50', sev('latency_p50'), m.p50Ms, t.p50Ms, 'LTE'), ...(m.requests > m.errors ? {} : { passed: false, actualValue: 'not measured' }) },
    { ...metric('latency_p95', sev('latency_p95'), m.p95Ms, t.p95Ms, 'LTE'), ...(m.requests > m.errors ? {} : { passed: false, actualValue: 'not measured' }) },
    metric('throughput', sev('throughput'), m.throughput, minThroughput, 'GTE'),
  ];
}
