/**
 * The API's observability, registered by src/api/server.ts with one line before its routes: GET /metrics
 * (Prometheus) and the request counter behind it; the DORA metrics of a pipeline or of all (GitLab's DORA API
 * shape); and, when tracing is on, a server span around every route's handler, so the workflow calls a request
 * makes are its children.
 */
import { SpanKind } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { Stagecoach } from '../client/operations';
import type { Route } from '../api/server';
import { PROBLEM_RESPONSES } from '../api/openapi';
import { fromError, problem } from '../api/problems';
import { createApiMetrics } from './api-metrics';
import { DORA_INTERVALS, DORA_METRICS, ENVIRONMENT_TIERS, doraMetric } from './insights';
import { InsightsQueryError, parseInsightsQuery } from './insights-query';
import { executionsForInsights } from './insights-source';
import { activeTracing, inSpan } from './tracing';

export function observabilityRoutes(app: FastifyInstance, sc: Stagecoach): Route[] {
  if (activeTracing()) traceRequests(app);
  // The client is read when Prometheus scrapes, not before: tests build the API over a Stagecoach that has none.
  const metrics = createApiMetrics(app, () => sc.client);
  const metricsRoute: Route = {
    method: 'GET', url: '/metrics', operationId: 'metrics', permission: 'public',
    summary: 'Prometheus metrics of the API process',
    description: 'Requests by route and status, the process, workers polling the task queue, and waits open now (docs/operations.md, "Observability").',
    responses: { 200: { description: 'The Prometheus text exposition format', contentType: 'text/plain; version=0.0.4' } },
    handler: async (_req, reply) => {
      void reply.type(metrics.registry.contentType);
      return metrics.render();
    },
  };
  return [
    metricsRoute,
    doraRoute(sc, '/api/program/:programId/pipeline/:pipelineId/dora/metrics', 'pipelineDoraMetrics', 'DORA metrics of one pipeline'),
    doraRoute(sc, '/api/program/:programId/dora/metrics', 'doraMetrics', 'DORA metrics of every pipeline'),
  ];
}

const DORA_QUERY = [
  { name: 'metric', description: `one of ${DORA_METRICS.join(', ')} (required)`, schema: { type: 'string', enum: [...DORA_METRICS] } },
  { name: 'interval', description: 'daily (default), monthly or all', schema: { type: 'string', enum: [...DORA_INTERVALS] } },
  { name: 'environment_tiers', description: 'production (default) or staging', schema: { type: 'string', enum: Object.keys(ENVIRONMENT_TIERS) } },
  { name: 'start_date', description: 'the range\'s start, a date or a time (default: 90 days before end_date)', schema: { type: 'string' } },
  { name: 'end_date', description: 'the range\'s end, exclusive (default: now)', schema: { type: 'string' } },
  { name: 'rework_window', description: 'how soon a re-execution or emergency execution counts as rework (default 24 hours)', schema: { type: 'string' } },
];

function doraRoute(sc: Stagecoach, url: string, operationId: string, summary: string): Route {
  return {
    method: 'GET', url, operationId, permission: 'read', summary,
    description: 'Points `{date, value, executions}`: counts, median seconds or ratios, each with the executions it came from (docs/operations.md, "Insights").',
    query: DORA_QUERY,
    responses: {
      200: { description: 'The metric\'s points, oldest first', schema: { type: 'array', items: { type: 'object' } } },
      400: PROBLEM_RESPONSES[400], 401: PROBLEM_RESPONSES[401], 503: PROBLEM_RESPONSES[503],
    },
    handler: async (req) => {
      let query;
      try {
        query = parseInsightsQuery(req.query);
      } catch (err) {
        if (err instanceof InsightsQueryError) throw problem.badRequest(err.message);
        throw err;
      }
      const pipelineId = req.params.pipelineId;
      const executions = await executionsForInsights(sc.client, { ...(pipelineId ? { pipelineId } : {}), from: query.start }).catch((err: unknown) => {
        throw fromError(err);
      });
      return doraMetric(executions, query);
    },
  };
}

/** Wraps each route's handler, as it is registered, in a span named by its method and route pattern. */
function traceRequests(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    const method = Array.isArray(route.method) ? route.method.join(',') : route.method;
    route.handler = function traced(this: unknown, req, reply) {
      return inSpan(`${method} ${route.url}`, { 'http.request.method': method, 'http.route': route.url, 'url.path': req.url.split('?')[0] },
        async () => handler.call(this as never, req, reply), SpanKind.SERVER);
    };
  });
}
