/**
 * The worker's logger, installed as the Temporal Runtime's (runtime-telemetry.ts): every line the SDK, the
 * workflows (their `log`, through the SDK's sink) and the activities (their context's `log`) write. One JSON object
 * a line when the output is not a terminal, `time LEVEL message key=value` when it is. Each line says where it
 * comes from: pipeline, execution, step, environment and node (activity-context.ts adds them to activity lines;
 * for the rest they are read from the workflow id). Secrets never reach the output: values under secret-like keys,
 * and the worker's secret values wherever they appear, are replaced by `[redacted]`.
 */
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import { contextOfWorkflowId } from '../shared/log-context';

export const REDACTED = '[redacted]';
/** Keys whose values are never written, at any depth: tokens, passwords, keys, signatures, decision proofs. */
const SECRET_KEY = /secret|token|password|passphrase|authorization|api[-_]?key|private[-_]?key|signature|proof|cookie/i;
/** Environment variables whose values are secrets wherever they appear in a line. */
const SECRET_ENV = /SECRET|TOKEN|PASSWORD|API_KEY/;
/** Shorter values could be ordinary words: only longer ones are searched for in text. */
const MIN_SECRET_LENGTH = 8;

export interface StructuredLoggerOptions {
  level?: LogLevel;
  /** Where lines go (default: stdout). */
  write?: (line: string) => void;
  /** JSON lines (default: when stdout is not a terminal). */
  json?: boolean;
  /** Secret values to redact wherever they appear (the worker's secret); the environment's secrets are added. */
  secrets?: string[];
}

export function createStructuredLogger(options: StructuredLoggerOptions = {}): DefaultLogger {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const json = options.json ?? !process.stdout.isTTY;
  const secrets = [...(options.secrets ?? []), ...Object.entries(process.env).filter(([name]) => SECRET_ENV.test(name)).map(([, v]) => v ?? '')]
    .filter((s) => s.length >= MIN_SECRET_LENGTH);
  const level = options.level ?? (process.env.STAGECOACH_LOG_LEVEL?.toUpperCase() as LogLevel | undefined) ?? 'INFO';
  return new DefaultLogger(level, (entry) => write(formatEntry(entry, { json, secrets })));
}

/** One line: time, level, message, where it comes from, and the rest of its attributes; secrets redacted. */
export function formatEntry(entry: LogEntry, { json, secrets }: { json: boolean; secrets: string[] }): string {
  const meta = (entry.meta ?? {}) as Record<string, unknown>;
  const where = typeof meta.workflowId === 'string' ? contextOfWorkflowId(meta.workflowId) : {};
  const fields = redact({ ...where, ...meta }, secrets) as Record<string, unknown>;
  const time = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const message = redactText(entry.message, secrets);
  if (json) return JSON.stringify({ time, level: entry.level.toLowerCase(), msg: message, ...fields });
  const pairs = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [time, entry.level.padEnd(5), message, ...pairs].join(' ');
}

function redact(value: unknown, secrets: string[], depth = 0): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (value instanceof Error) return { name: value.name, message: redactText(value.message, secrets) };
  if (typeof value !== 'object' || value === null || depth > 6) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, secrets, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEY.test(k) ? REDACTED : redact(v, secrets, depth + 1)]));
}

function redactText(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  // Credentials inside URLs and bearer headers, whoever's they are.
  return out.replace(/(\/\/[^/\s:@]+:)[^/\s@]+@/g, `$1${REDACTED}@`).replace(/(Bearer\s+)[\w.~+/-]+=*/gi, `$1${REDACTED}`);
}
