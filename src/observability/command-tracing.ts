/**
 * A span for each client command of the CLI (`stagecoach start`, `approve`, …) when an OTLP endpoint is configured:
 * the root of the trace its workflow calls continue. The serving commands trace as the processes they start.
 */
import { SpanKind } from '@opentelemetry/api';
import { activeTracing, inSpan, startTracing } from './tracing';

const SERVING_COMMANDS = new Set(['dev', 'worker', 'api']);

export async function traceCommand(name: string, run: () => Promise<number>): Promise<number> {
  if (SERVING_COMMANDS.has(name) || !startTracing('stagecoach-cli')) return run();
  try {
    return await inSpan(`stagecoach ${name}`, { 'stagecoach.command': name }, run, SpanKind.CLIENT);
  } finally {
    // The command exits right after: what the batch still holds goes now.
    await activeTracing()?.flush().catch(() => undefined);
  }
}
