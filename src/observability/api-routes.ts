/**
 * The API's observability routes, registered by src/api/server.ts with one line: GET /metrics (Prometheus) and
 * the request counter behind it.
 */
import type { FastifyInstance } from 'fastify';
import type { Stagecoach } from '../client/operations';
import type { Route } from '../api/server';
import { createApiMetrics } from './api-metrics';

export function observabilityRoutes(app: FastifyInstance, sc: Stagecoach): Route[] {
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
