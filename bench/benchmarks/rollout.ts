/**
 * Benchmark 3: rollout efficiency on real Docker, HAProxy and Varnish (pipeline `bench-roll`, Production of P pairs
 * plus the author). Two versions of the sample app and dispatcher images are built once from examples/app, so every
 * run really replaces every container.
 *
 * F (the floor): the same steps from a plain script: the REAL activities (createActivities) called directly, in the
 * order of rollout-plan.ts (validate the configuration, prepare, the author's cycle, each pair's cycle, describe),
 * with no Temporal at all.
 * T: the same rollout through Stagecoach: a rollingDeployment workflow (a top-level run, no parent) on a worker in
 * this process with the same real activities. F and T alternate, each deploying the other version.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection } from '@temporalio/worker';
import Docker from 'dockerode';
import tarFs from 'tar-fs';
import { createActivities } from '../../src/activities';
import { removePipelineTopology } from '../../src/activities/topology';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { EXAMPLES_DIR } from '../../src/config/paths';
import type { EnvironmentConfig } from '../../src/shared/types';
import { AUTHOR_NODE, dispatcherNodeName, pairName, publishNodeName, type ContainerRole } from '../../src/topology/names';
import { createWorker, defaultActivityDeps } from '../../src/worker';
import type { rollingDeployment } from '../../src/workflows/rolling-deployment';
import { AUTHOR_CYCLE, PAIR_CYCLE, windowsOf, type CycleStep } from '../../src/workflows/rollout-plan';
import { eventTimeMs, fetchEvents } from '../lib/drive';
import { mean, summarize } from '../lib/stats';
import type { BenchContext, BenchResult } from '../lib/types';

const PIPELINE = 'bench-roll';
const ROLL_TASK_QUEUE = 'bench-roll';
const APP = { port: 8080, healthPath: '/health' };
const WARM_PAGES = ['/', '/about'];

interface Images { app: string; dispatcher: string; version: string }

async function build(docker: Docker, context: string, tag: string, labels: Record<string, string>, target?: string): Promise<string> {
  const stream = (await docker.buildImage(tarFs.pack(context) as unknown as Readable, { t: tag, target, labels, rm: true, forcerm: true })) as Readable;
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()),
      (event: { error?: string }) => { if (event.error) reject(new Error(`docker build of ${tag} failed: ${event.error}`)); });
  });
  return (await docker.getImage(tag).inspect()).Id;
}

/** The sample app (runtime stage) and its dispatcher, at `version`: distinct image IDs per version. */
async function buildVersion(docker: Docker, tmpDir: string, version: string): Promise<Images> {
  const dir = path.join(tmpDir, `app-${version}`);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.cp(path.join(EXAMPLES_DIR, 'app'), dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'VERSION'), `${version}\n`);
  const labels = { 'stagecoach.bench': PIPELINE, 'stagecoach.bench.version': version };
  return {
    version,
    app: await build(docker, dir, `stagecoach/${PIPELINE}:${version}`, labels, 'runtime'),
    dispatcher: await build(docker, path.join(dir, 'dispatcher'), `stagecoach/${PIPELINE}-dispatcher:${version}`, labels),
  };
}

type RealActivities = ReturnType<typeof createActivities>;

/** The plain script: the rollout's steps, in rollout-plan.ts's order, calling the real activities directly. */
async function scriptRollout(acts: RealActivities, environment: EnvironmentConfig, images: Images, runKey: string): Promise<{ ms: number; ops: Record<string, number[]> }> {
  const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') });
  // Activities that heartbeat need an activity context (Context.current()): the mock gives them one, nothing more.
  const mock = { run: <A, R>(fn: (input: A) => Promise<R>, input: A) => env.run(fn, input) as Promise<R> };
  const ops: Record<string, number[]> = {};
  const common = { pipelineId: PIPELINE, environment };
  const timed = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await fn();
    (ops[op] ??= []).push(performance.now() - started);
    return result;
  };
  const started = performance.now();
  // As rollingDeployment does first (where this version of the activities has it): the configuration shipped is
  // checked before any node is touched.
  const validate = (acts as unknown as Record<string, ((input: unknown) => Promise<unknown>) | undefined>).validateEnvironmentConfig;
  if (validate) await timed('validateEnvironmentConfig', () => mock.run(validate, { ...common, dispatcherImage: images.dispatcher }));
  await timed('prepareEnvironment', () => mock.run(acts.prepareEnvironment, common));
  const perform = async (node: string, pair: number, step: CycleStep, ports: Record<string, number>) => {
    const server = pairName(pair);
    const replace = async (role: ContainerRole, nodeName: string) => {
      const result = await mock.run(acts.deployNode, {
        ...common, role, node: nodeName, image: role === 'dispatcher' ? images.dispatcher : images.app, appPort: APP.port,
        deployKey: `${runKey}/${nodeName}/replace`,
      });
      ports[role] = result.hostPort;
    };
    const health = (role: string) => mock.run(acts.checkHealth, { url: `http://127.0.0.1:${ports[role]}${APP.healthPath}`, what: `${role} of ${node}` });
    await timed(step.op, async () => {
      switch (step.op) {
        case 'drain': case 'maint': case 'ready':
          await mock.run(acts.setServerState, { ...common, server, state: step.op });
          break;
        case 'waitSessions': await mock.run(acts.waitForSessionsDrained, { ...common, server, timeoutMs: 5000 }); break;
        case 'replaceAuthor': await replace('author', AUTHOR_NODE); break;
        case 'replacePublish': await replace('publish', publishNodeName(pair)); break;
        case 'replaceDispatcher': await replace('dispatcher', dispatcherNodeName(pair)); break;
        case 'healthAuthor': await health('author'); break;
        case 'healthPublish': await health('publish'); break;
        case 'healthDispatcher': await health('dispatcher'); break;
        case 'flush': await mock.run(acts.flushCache, { ...common, pair }); break;
        case 'warm': await mock.run(acts.warmCache, { ...common, pair, pages: WARM_PAGES }); break;
        case 'waitUp': await mock.run(acts.waitForServerUp, { ...common, server }); break;
      }
    });
  };
  const authorPorts: Record<string, number> = {};
  for (const step of AUTHOR_CYCLE) await perform(AUTHOR_NODE, 0, step, authorPorts);
  for (const group of windowsOf(environment.pairs, environment.window)) {
    await Promise.all(group.map(async (pair) => {
      const ports: Record<string, number> = {};
      for (const step of PAIR_CYCLE) await perform(pairName(pair), pair, step, ports);
    }));
  }
  await timed('describeEnvironment', () => mock.run(acts.describeEnvironment, common));
  return { ms: performance.now() - started, ops };
}

async function servedVersion(url: string): Promise<string | null> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  await res.text();
  return res.headers.get('x-app-version');
}

export async function benchRollout(ctx: BenchContext): Promise<BenchResult> {
  const pairs = ctx.size === 'small' ? 1 : 3;
  const rounds = ctx.size === 'small' ? 1 : 3;
  const docker = new Docker();
  await removePipelineTopology(docker, PIPELINE);
  const buildStarted = performance.now();
  const v1 = await buildVersion(docker, ctx.tmpDir, 'bench-1');
  const v2 = await buildVersion(docker, ctx.tmpDir, 'bench-2');
  const buildMs = performance.now() - buildStarted;
  ctx.log(`  images built in ${(buildMs / 1000).toFixed(1)} s`);

  const deps = defaultActivityDeps({ stateDir: path.join(ctx.tmpDir, 'roll-state'), secret: 'bench-roll-secret' });
  const acts = createActivities(deps);
  const environment = parsePipelineConfig({ id: PIPELINE, repository: 'bench', environments: { prod: { pairs, drainTimeout: '5s' } } }).environments.prod;
  const nodes = 1 + pairs;

  const connection = await NativeConnection.connect({ address: ctx.address });
  const worker = await createWorker({
    connection, namespace: ctx.namespace, taskQueue: ROLL_TASK_QUEUE, workflowBundle: { codePath: ctx.bundlePath },
    deps: { stateDir: deps.stateDir, secret: deps.secret }, identity: 'bench-roll-worker',
  });
  const running = worker.run();
  const floor: number[] = [];
  const through: number[] = [];
  /** For each T run: time inside activities (started → completed) and outside them, from its history. */
  const throughSplit: Array<{ activitiesMs: number; orchestrationMs: number; byType: Record<string, number> }> = [];
  const floorOps: Array<Record<string, number[]>> = [];
  try {
    const throughStagecoach = async (id: string, images: Images) => {
      const started = performance.now();
      const result = await ctx.client.workflow.execute<typeof rollingDeployment>('rollingDeployment', {
        taskQueue: ROLL_TASK_QUEUE, workflowId: `bench-roll-${id}`,
        args: [{ pipelineId: PIPELINE, executionId: `bench-${id}`, environment, images: { app: images.app, dispatcher: images.dispatcher }, app: APP, warmPages: WARM_PAGES }],
      });
      if (result.status !== 'FINISHED') throw new Error(`the rollingDeployment run ended ${result.status}: ${result.reason}`);
      const ms = performance.now() - started;
      if (id !== 'warmup') {
        const events = await fetchEvents(ctx.client, `bench-roll-${id}`);
        const startedAt = new Map<string, number>();
        const typeOf = new Map<string, string>();
        const byType: Record<string, number> = {};
        let activitiesMs = 0;
        for (const e of events) {
          if (e.activityTaskScheduledEventAttributes) typeOf.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
          if (e.activityTaskStartedEventAttributes) startedAt.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), eventTimeMs(e));
          const done = e.activityTaskCompletedEventAttributes;
          if (done) {
            const d = eventTimeMs(e) - (startedAt.get(String(done.scheduledEventId)) ?? eventTimeMs(e));
            activitiesMs += d;
            const type = typeOf.get(String(done.scheduledEventId)) ?? '?';
            byType[type] = (byType[type] ?? 0) + d;
          }
        }
        const span = eventTimeMs(events.at(-1)!) - eventTimeMs(events[0]);
        throughSplit.push({ activitiesMs, orchestrationMs: span - activitiesMs, byType });
      }
      return ms;
    };
    // The first deployment creates every container and the load balancer, and loads the workflow code into the
    // worker: not measured.
    const firstMs = await throughStagecoach('warmup', v1);
    ctx.log(`  first deployment (creates the topology): ${(firstMs / 1000).toFixed(1)} s`);
    const url = (await acts.describeEnvironment({ pipelineId: PIPELINE, environment })).url;
    const check = async (images: Images, how: string) => {
      if (await servedVersion(url) !== images.version) throw new Error(`after the ${how} rollout, ${url} does not serve ${images.version}`);
    };
    // Each run deploys the other version, so every container is really replaced; F and T alternate, F first in odd
    // rounds and T first in even ones, so a drift of the machine's load does not favour either.
    let current = v1;
    for (let round = 1; round <= rounds; round++) {
      let f = 0;
      let t = 0;
      for (const which of round % 2 ? ['F', 'T'] : ['T', 'F']) {
        const next = current === v1 ? v2 : v1;
        if (which === 'F') {
          const run = await scriptRollout(acts, environment, next, `floor-${round}`);
          f = run.ms;
          floorOps.push(run.ops);
        } else {
          t = await throughStagecoach(String(round), next);
        }
        await check(next, which === 'F' ? 'plain-script' : 'Stagecoach');
        current = next;
      }
      floor.push(f);
      through.push(t);
      ctx.log(`  round ${round}: F ${(f / 1000).toFixed(2)} s, T ${(t / 1000).toFixed(2)} s`);
    }
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    if (!process.env.KEEP_TOPOLOGY) await removePipelineTopology(docker, PIPELINE);
  }

  const f = mean(floor);
  const t = mean(through);
  const opMeans: Record<string, number> = {};
  for (const ops of floorOps) for (const [op, values] of Object.entries(ops)) opMeans[op] = (opMeans[op] ?? 0) + values.reduce((a, b) => a + b, 0) / floorOps.length;
  return {
    id: 3,
    name: 'Rollout efficiency (real Docker, HAProxy, Varnish)',
    scale: `author + ${pairs} pair(s), ${rounds} round(s) of F and T`,
    metrics: [
      { name: 'F: plain script', value: f, unit: 'ms' },
      { name: 'T: through Stagecoach', value: t, unit: 'ms' },
      { name: 'F/T', value: f / t, unit: 'ratio', target: { op: '>=', value: 0.85, text: 'F/T ≥ 0.85' } },
      { name: 'overhead per node ((T−F)/nodes)', value: (t - f) / nodes, unit: 'ms', note: `${nodes} nodes: author + ${pairs} pairs` },
      { name: 'T: time inside activities', value: mean(throughSplit.map((x) => x.activitiesMs)), unit: 'ms' },
      { name: 'T: time outside activities (orchestration)', value: mean(throughSplit.map((x) => x.orchestrationMs)), unit: 'ms' },
      {
        name: 'T: share inside activities', value: mean(throughSplit.map((x) => x.activitiesMs / (x.activitiesMs + x.orchestrationMs))), unit: 'ratio',
        note: 'F/T if the same steps took the same time in both runs (Docker start-up and health-check polling vary from run to run)',
      },
    ],
    details: { pairs, rounds, floorMs: floor, throughMs: through, throughSplit, floor: summarize(floor), through: summarize(through), imageBuildMs: buildMs, floorTimePerOperationMs: opMeans },
  };
}
