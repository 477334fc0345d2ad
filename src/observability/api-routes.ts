/**
 * The API's observability, registered by src/api/server.ts with one line before its routes: GET /metrics
 * (Prometheus), the request counter behind it, and, when tracing is on, a server span around every route's handler,
 * so the workflow calls a request makes are its children.
 */
import { SpanKind } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import type { Stagecoach } from '../client/operations';
import type { Route } from '../api/server';
import { createApiMetrics } from './api-metrics';
import { activeTracing, inSpan } from './tracing';

export function observabilityRoutes(app: FastifyInstance, sc: Stagecoach): Route[] {
  if (activeTracing()) traceRequests(app);
  // The docs test builds the API without a client: its metrics then know no Temporal server.
  const metrics = createApiMetrics(app, sc.client);
  return [{
    method: 'GET', url: '/metrics', operationId: 'metrics', permission: 'public',
    summary: 'Prometheus metrics of the API process',
    description: 'Requests by route and status, the process, workers polling the task queue, and waits open now (docs/operations.md, "Observability").',
    responses: { 200: { description: 'The Prometheus text exposition format', contentType: 'text/plain; version=0.0.4' } },
    handler: async (_req, reply) => {
      void reply.type(metrics.registry.contentType);
      return metrics.render();
    },
  }];
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
