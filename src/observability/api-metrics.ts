/**
 * The API process's own Prometheus metrics (prom-client), served at GET /metrics: its requests by route pattern and
 * status, its Node.js process, and what the Temporal server knows that no single worker does: the workers polling
 * the task queue, and the waits open now with the time left before the nearest one times out. Those last two are
 * read when Prometheus scrapes (a visibility list and one `state` query per running execution, cached briefly), so
 * they survive worker restarts, where a worker's counters start again from zero.
 */
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { workflowPollers } from '../client/operations';
import { TASK_QUEUE } from '../shared/ids';
import { executionStateQuery } from '../shared/messages';
import type { ExecutionState } from '../shared/types';

/** Running executions read per scrape at most: a bound on the work one scrape costs the Temporal server. */
const MAX_EXECUTIONS_READ = 200;
/** A scrape within this long of the last one answers the same figures (several Prometheus servers, a dashboard). */
const CACHE_MS = 5_000;

interface OpenWait { kind: string; expiresAt: number }
interface ServerView { pollers: number; waits: OpenWait[] }

export interface ApiMetrics {
  registry: Registry;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
}

/** `client`: the API's Temporal client, asked for at each scrape (undefined: the server's gauges stay empty). */
export function createApiMetrics(app: FastifyInstance, client: () => Client | undefined): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'stagecoach_api_' });
  const requests = new Counter({
    name: 'stagecoach_api_requests_total', help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'], registers: [registry],
  });
  // The route pattern, never the URL: ids and query strings would make the label set unbounded.
  app.addHook('onResponse', async (req, reply) => {
    requests.inc({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
  });

  let cached: { at: number; view: Promise<ServerView> } | undefined;
  const serverView = (): Promise<ServerView> => {
    const temporal = client();
    if (!temporal) return Promise.resolve({ pollers: 0, waits: [] });
    if (!cached || Date.now() - cached.at > CACHE_MS) cached = { at: Date.now(), view: readServerView(temporal) };
    return cached.view;
  };
  new Gauge({
    name: 'stagecoach_task_queue_pollers', help: `Workers polling the "${TASK_QUEUE}" workflow task queue, as the Temporal server sees them`,
    registers: [registry],
    async collect() {
      this.set((await serverView()).pollers);
    },
  });
  new Gauge({
    name: 'stagecoach_waits_open', help: 'Executions waiting for a person now, by kind (the waiting step\'s action)',
    labelNames: ['kind'], registers: [registry],
    async collect() {
      this.reset();
      for (const [kind, waits] of byKind((await serverView()).waits)) this.set({ kind }, waits.length);
    },
  });
  new Gauge({
    name: 'stagecoach_wait_seconds_left', help: 'Seconds until the open wait of this kind nearest its limit times out',
    labelNames: ['kind'], registers: [registry],
    async collect() {
      this.reset();
      for (const [kind, waits] of byKind((await serverView()).waits)) {
        this.set({ kind }, Math.max(0, (Math.min(...waits.map((w) => w.expiresAt)) - Date.now()) / 1000));
      }
    },
  });
  return { registry, render: () => registry.metrics() };
}

function byKind(waits: OpenWait[]): Map<string, OpenWait[]> {
  const kinds = new Map<string, OpenWait[]>();
  for (const w of waits) kinds.set(w.kind, [...(kinds.get(w.kind) ?? []), w]);
  return kinds;
}

async function readServerView(client: Client): Promise<ServerView> {
  const pollers = (await workflowPollers(client, TASK_QUEUE).catch(() => [])).length;
  const waits: OpenWait[] = [];
  const reads: Array<Promise<void>> = [];
  try {
    for await (const execution of client.workflow.list({ query: "WorkflowType = 'pipelineExecution' AND ExecutionStatus = 'Running'" })) {
      if (reads.length >= MAX_EXECUTIONS_READ) break;
      reads.push(client.workflow.getHandle(execution.workflowId, execution.runId).query(executionStateQuery)
        .then((state: ExecutionState) => {
          if (state.waiting) waits.push({ kind: state.waiting.action, expiresAt: Date.parse(state.waiting.expiresAt) });
        })
        .catch(() => undefined));
    }
  } catch {
    // Visibility unavailable: no waits are known rather than a failed scrape.
  }
  await Promise.all(reads);
  return { pollers, waits };
}
