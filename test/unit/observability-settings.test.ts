/** The observability settings read from the environment, and where a line or span says it comes from. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_WORKER_METRICS_ADDRESS, workerMetricsAddress } from '../../src/observability/runtime-telemetry';
import { otlpTracesUrl } from '../../src/observability/tracing';
import { contextOfWorkflowId } from '../../src/shared/log-context';

describe('observability settings', () => {
  it('the worker serves metrics on 127.0.0.1:9464 unless told another host:port, or off', () => {
    expect(workerMetricsAddress({})).toBe(DEFAULT_WORKER_METRICS_ADDRESS);
    expect(DEFAULT_WORKER_METRICS_ADDRESS).toBe('127.0.0.1:9464');
    expect(workerMetricsAddress({ STAGECOACH_WORKER_METRICS: '0.0.0.0:9100' })).toBe('0.0.0.0:9100');
    expect(workerMetricsAddress({ STAGECOACH_WORKER_METRICS: '[::1]:9100' })).toBe('[::1]:9100');
    expect(workerMetricsAddress({ STAGECOACH_WORKER_METRICS: 'off' })).toBeUndefined();
    expect(() => workerMetricsAddress({ STAGECOACH_WORKER_METRICS: '9100' })).toThrow(/host:port/);
  });

  it('traces go to the OTLP/HTTP traces URL the standard variables name; none: no tracing', () => {
    expect(otlpTracesUrl({})).toBeUndefined();
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/' })).toBe('http://127.0.0.1:4318/v1/traces');
    expect(otlpTracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b:4318/traces' })).toBe('http://b:4318/traces');
  });

  it('a workflow id says its pipeline, execution and, for a rollout, its environment and step', () => {
    expect(contextOfWorkflowId('stagecoach-sample')).toEqual({ pipeline: 'sample' });
    expect(contextOfWorkflowId('stagecoach-my-app-execution-12')).toEqual({ pipeline: 'my-app', execution: '12' });
    expect(contextOfWorkflowId('stagecoach-my-app-execution-12-deploy-prod')).toEqual({ pipeline: 'my-app', execution: '12', environment: 'prod', step: 'deploy' });
    expect(contextOfWorkflowId('stagecoach-my-app-execution-3-events')).toEqual({ pipeline: 'my-app', execution: '3' });
    expect(contextOfWorkflowId('something-else')).toEqual({});
  });
});
