/**
 * OpenTelemetry traces, on when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
 * OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`, OTLP/HTTP with JSON bodies). One trace follows a request: the API's
 * or the CLI's span, the client calls it makes (Temporal's client interceptor puts the context in the headers), each
 * workflow run, and each activity (Temporal's workflow and activity interceptors, through OpenTelemetryPlugin).
 * Workflow spans go out through a sink, which a replay does not call: a replayed history exports nothing twice.
 */
import { trace, SpanKind, SpanStatusCode, type Attributes, type Tracer } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';

export const TRACER_NAME = 'stagecoach';

/** The OTLP/HTTP traces URL the environment configures; undefined when none is (tracing off). */
export function otlpTracesUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (traces) return traces;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}

export interface Tracing {
  tracer: Tracer;
  /** For Worker.create's `plugins`: the workflow, activity and client interceptors and the workflow span sink. */
  workerPlugin: OpenTelemetryPlugin;
  /** For a Client's `interceptors.workflow`: spans of client calls, with the context passed on in their headers. */
  clientInterceptors: WorkflowClientInterceptor[];
  /** Sends what is still buffered; call before the process exits. */
  flush(): Promise<void>;
}

let active: Tracing | undefined;

/**
 * Starts tracing for this process as `service` (stagecoach-worker, stagecoach-api, stagecoach-cli) when an endpoint
 * is configured, once: later calls answer the same. `spanProcessor` replaces the OTLP exporter (tests).
 */
export function startTracing(service: string, options: { url?: string; spanProcessor?: SpanProcessor } = {}): Tracing | undefined {
  if (active) return active;
  const url = options.url ?? otlpTracesUrl();
  if (!url && !options.spanProcessor) return undefined;
  // Loaded only when tracing is on: the CLI's client commands start without the SDK and the interceptors.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { Resource } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const otel = require('@temporalio/interceptors-opentelemetry') as typeof import('@temporalio/interceptors-opentelemetry');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const resource = new Resource({ 'service.name': process.env.OTEL_SERVICE_NAME ?? service });
  const spanProcessor = options.spanProcessor ?? new BatchSpanProcessor(new OTLPTraceExporter({ url }), { scheduledDelayMillis: 1000 });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable(), propagator: new W3CTraceContextPropagator() });
  active = {
    tracer: trace.getTracer(TRACER_NAME),
    workerPlugin: new otel.OpenTelemetryPlugin({ resource, spanProcessor }),
    clientInterceptors: [new otel.OpenTelemetryWorkflowClientInterceptor()],
    flush: () => provider.forceFlush(),
  };
  return active;
}

/** The tracing this process started, if any. */
export function activeTracing(): Tracing | undefined {
  return active;
}

/** Worker.create's plugins for the tracing this process started: none without. */
export function tracingPlugins(): OpenTelemetryPlugin[] {
  return active ? [active.workerPlugin] : [];
}

/** A Client's workflow interceptors for the tracing this process started: none without. */
export function tracingClientInterceptors(): WorkflowClientInterceptor[] {
  return active?.clientInterceptors ?? [];
}

/** Runs `fn` in a span of its own (a child of the active one); without tracing, just runs it. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>, kind = SpanKind.INTERNAL): Promise<T> {
  if (!active) return fn();
  return active.tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
