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
    const lines = new LineSplitter(input.log);
    const sink = { write: (chunk: Buffer) => { lines.push(chunk.toString('utf8')); return true; } };
    docker.modem.demuxStream(output, sink as never, sink as never);
    const drained = new Promise<void>((resolve) => { output.on('end', resolve); output.on('error', () => resolve()); output.on('close', resolve); });
    timer = setTimeout(() => { timedOut = true; void stop(); }, input.timeoutMs);
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2000))]);
    lines.flush();
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure(`test container stopped: ${String(ctx.cancellationSignal.reason ?? 'cancelled')}`);
    const files = await container.getArchive({ path: input.reportsDir })
      .then((archive) => extractTar(archive as unknown as Readable), () => new Map<string, Buffer>());
    return { exitCode: StatusCode, timedOut, durationMs: Date.now() - started, files };
  } finally {
    if (timer) clearTimeout(timer);
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/** Splits streamed text into lines for a log. */
class LineSplitter {
  private rest = '';
  constructor(private readonly log: { write(line: string): void }) {}
  push(text: string): void {
    const parts = (this.rest + text).split('\n');
    this.rest = parts.pop() ?? '';
    for (const line of parts) this.log.write(line.replace(/\r$/, ''));
  }
  flush(): void {
    if (this.rest) this.log.write(this.rest);
    this.rest = '';
  }
}
