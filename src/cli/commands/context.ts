/** What the client commands share: output, the connection, the worker check, and reading flag values. */
import os from 'node:os';
import { StagecoachError } from '../../client/errors';
import { Stagecoach } from '../../client/operations';
import { isRefusal } from '../../shared/errors';
import { UsageError } from '../errors';
import { DEFAULT_WEB_UI } from '../format';
import type { Values } from './command';

export const out = (line = '') => process.stdout.write(`${line}\n`);

/** Base URL of the Temporal Web UI for links (STAGECOACH_WEB_UI overrides it, e.g. for `dev --ui-port`). */
export function webUiBase(): string {
  return process.env.STAGECOACH_WEB_UI ?? DEFAULT_WEB_UI;
}

export function formatOptions() {
  return { webUi: webUiBase(), namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' };
}

/** Connects, checks a worker polls (else `consequence` says what did not happen), runs `fn`, and always closes. */
export async function withStagecoach<T>(consequence: string, fn: (sc: Stagecoach) => Promise<T>): Promise<T> {
  const sc = await Stagecoach.connect();
  try {
    await sc.requireWorker(consequence);
    return await fn(sc);
  } finally {
    await sc.close().catch(() => undefined);
  }
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function requiredFlag(values: Values, name: string, command: string, what: string): string {
  const v = str(values, name);
  if (v === undefined || !v.trim()) throw new UsageError(`${command}: --${name} ${what} is required`, command);
  return v;
}

export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], option: string, command: string): T | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase() as T;
  if (!allowed.includes(upper)) throw new UsageError(`${command}: --${option} must be one of ${allowed.join(', ')} (got ${value})`, command);
  return upper;
}

/** A port flag's value (`fallback` when absent); `min` 0 where 0 means "none". */
export function portFlag(values: Values, name: string, command: string, fallback: number, min = 1): number {
  const raw = str(values, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > 65535) throw new UsageError(`${command}: --${name} must be a port number (got ${raw})`, command);
  return n;
}

/** `--by` default: $USER, else the OS account name, else `unknown`. */
export function defaultUser(): string {
  if (process.env.USER) return process.env.USER;
  try {
    return os.userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `--json` on a refused or busy request still prints `{"accepted": false, ...}` before the error exit. */
export async function jsonRefusal<T>(json: boolean, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (json && err instanceof StagecoachError && isRefusal(err.type)) {
      out(JSON.stringify({ accepted: false, message: err.message }));
    }
    throw err;
  }
}
