/**
 * Test containers: the app's functional and UI test images, each run to completion against an environment on its
 * network, its output streamed to a log and its reports collected.
 */
import type { Readable } from 'node:stream';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { NonRetryable } from '../shared/errors';
import { extractTar } from './containers';

export interface TestContainerInput {
  docker: Docker;
  image: string;
  /** Container name (unique per execution and kind): a leftover of an earlier attempt is removed first. */
  name: string;
  /** The environment's Docker network: the container reaches the load balancer as `lb`, the author as `author`. */
  network: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  /** The container is stopped after this long; the run then reports `timedOut`. */
  timeoutMs: number;
  /** Where the image leaves its reports (collected after it exits). */
  reportsDir: string;
  /** Receives the container's output, line by line. */
  log: { write(line: string): void };
}

export interface TestContainerResult {
  exitCode: number;
  timedOut: boolean;
  durationMs: number;
  /** The files under `reportsDir`, by path below it. */
  files: Map<string, Buffer>;
}

/**
 * Runs one test image to completion on an environment's network, streaming its output to `log` and heartbeating.
 * A cancelled activity stops and removes the container at once; the container is always removed afterwards.
 */
export async function runTestContainer(input: TestContainerInput): Promise<TestContainerResult> {
  const ctx = Context.current();
  const { docker } = input;
  const networks = await docker.listNetworks({ filters: { name: [input.network] } });
  if (!networks.some((n) => n.Name === input.network)) {
    throw ApplicationFailure.create({
      type: NonRetryable.InvalidConfig, nonRetryable: true,
      message: `The network ${input.network} does not exist: the environment must be deployed before its tests run`,
    });
  }
  await docker.getContainer(input.name).remove({ force: true }).catch(() => undefined);
  const container = await docker.createContainer({
    name: input.name,
    Image: input.image,
    Env: Object.entries(input.env).map(([k, v]) => `${k}=${v}`),
    Labels: input.labels,
    HostConfig: { NetworkMode: input.network, ShmSize: 256 * 1024 * 1024, Init: true },
  });
  const started = Date.now();
  let timedOut = false;
  const stop = () => container.stop({ t: 2 }).catch(() => undefined);
  const onCancel = () => { void stop(); };
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  const beat = setInterval(() => ctx.heartbeat({ seconds: Math.round((Date.now() - started) / 1000) }), 2000);
  let timer: NodeJS.Timeout | undefined;
  try {
    await container.start();
    const output = (await container.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable;
    const lines = new LineSplitter(input.log, TEST_OUTPUT_LIMITS);
    const sink = { write: (chunk: Buffer) => { lines.push(chunk.toString('utf8')); return true; } };
    docker.modem.demuxStream(output, sink as never, sink as never);
    const drained = new Promise<void>((resolve) => { output.on('end', resolve); output.on('error', () => resolve()); output.on('close', resolve); });
    timer = setTimeout(() => { timedOut = true; void stop(); }, input.timeoutMs);
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2000))]);
    lines.flush();
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure(`test container stopped: ${String(ctx.cancellationSignal.reason ?? 'cancelled')}`);
    const archive = await container.getArchive({ path: input.reportsDir }).catch(() => undefined);
    const files = archive
      ? await extractTar(archive as unknown as Readable, { maxBytes: TEST_OUTPUT_LIMITS.reportBytes, what: `the reports in ${input.reportsDir} of ${input.image}` })
      : new Map<string, Buffer>();
    return { exitCode: StatusCode, timedOut, durationMs: Date.now() - started, files };
  } finally {
    if (timer) clearTimeout(timer);
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * What a test image may make the worker hold or store: its output is the app's code talking, so a runaway or
 * hostile test cannot fill the worker's memory or the artifact store.
 */
export const TEST_OUTPUT_LIMITS = {
  /** Output kept in the step's log; past it, one line says how much more there was. */
  logBytes: 8 * 1024 * 1024,
  /** A longer line is cut (a stream with no newline must not grow in memory). */
  lineBytes: 16 * 1024,
  /** The reports directory, all files together; more fails the step with what to fix. */
  reportBytes: 64 * 1024 * 1024,
};

/** Splits streamed text into lines for a log, within `limits`. */
export class LineSplitter {
  private rest = '';
  private written = 0;
  private skipped = 0;
  constructor(private readonly log: { write(line: string): void }, private readonly limits: { logBytes: number; lineBytes: number }) {}
  push(text: string): void {
    const parts = (this.rest + text).split('\n');
    this.rest = parts.pop() ?? '';
    if (this.rest.length > this.limits.lineBytes) {
      parts.push(this.rest); // write() cuts it; what follows of that line starts a new one
      this.rest = '';
    }
    for (const line of parts) this.write(line.replace(/\r$/, ''));
  }
  flush(): void {
    if (this.rest) this.write(this.rest);
    this.rest = '';
    if (this.skipped) this.log.write(`[stagecoach] output truncated: ${this.skipped} more bytes after the first ${this.limits.logBytes} were not kept`);
    this.skipped = 0;
  }
  private write(line: string): void {
    const cut = line.length > this.limits.lineBytes ? `${line.slice(0, this.limits.lineBytes)} [line cut at ${this.limits.lineBytes} bytes]` : line;
    if (this.written + cut.length > this.limits.logBytes) { this.skipped += line.length + 1; return; }
    this.written += cut.length + 1;
    this.log.write(cut);
  }
}
