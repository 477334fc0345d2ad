/**
 * Docker Engine, through dockerode: the app's containerized build with its unit tests, the runtime images, and the
 * replacement of one container by name with a new image. Long work heartbeats and stops when the activity is
 * cancelled (closing the build request makes the engine abort the build).
 */
import type { Readable } from 'node:stream';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import tarStream from 'tar-stream';
import { ActivityFailure, NonRetryable } from '../shared/errors';
import type { CodeScanSummary, CoverageSummary, EnvironmentConfig, ImageArtifact, PipelineConfig } from '../shared/types';
import type { ArtifactStore } from './artifacts';
import { executionRef } from './artifacts';
import { ensureImageOn, type DockerProvider } from './docker-hosts';
import { storeScanReports } from './quality';
import {
  DEFAULT_ENGINE, dynamicRange, engineOf, enginesInUse, environmentNodeNames, fixedAddress, gatewayAddress, publishAddress,
} from '../topology/placement';

export const LABEL = {
  pipeline: 'stagecoach.pipeline',
  environment: 'stagecoach.environment',
  node: 'stagecoach.node',
  execution: 'stagecoach.execution',
  commit: 'stagecoach.commit',
  deployKey: 'stagecoach.deploy-key',
  previousImage: 'stagecoach.previous-image',
  /** The container's filesystem settings (read-only root, mounts): a node whose settings changed is replaced. */
  filesystem: 'stagecoach.filesystem',
} as const;

/** The named volume of one declared mount of one node: kept across the node's replacements. */
export const volumeName = (pipelineId: string, environment: string, node: string, mount: string) =>
  `sc-${pipelineId}-${environment}-${node}${mount.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/-+$/, '')}`;

export const containerName = (pipelineId: string, environment: string, node: string) => `sc-${pipelineId}-${environment}-${node}`;
export const networkName = (pipelineId: string, environment: string) => `sc-${pipelineId}-${environment}`;

export interface UnitTestResults {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  /** `classname.name` of each failing test. */
  failures: string[];
}

/** Counts a JUnit XML report (the format every test runner can write). */
export function parseJUnit(xml: string): UnitTestResults {
  const results: UnitTestResults = { total: 0, passed: 0, failed: 0, skipped: 0, failures: [] };
  const testcase = /<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  const attr = (attrs: string, name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(attrs)?.[1] ?? '';
  for (const match of xml.matchAll(testcase)) {
    const [, attrs, body = ''] = match;
    results.total += 1;
    if (/<(failure|error)\b/.test(body)) {
      results.failed += 1;
      results.failures.push([attr(attrs, 'classname'), attr(attrs, 'name')].filter(Boolean).join('.'));
    } else if (/<skipped\b/.test(body)) {
      results.skipped += 1;
    } else {
      results.passed += 1;
    }
  }
  return results;
}

type StoredScanResult = Awaited<ReturnType<typeof storeScanReports>>;

export interface BuildDeps {
  docker: DockerProvider;
  artifacts: ArtifactStore;
  exportCommit(repository: string, commitId: string, subdir?: string): Promise<Readable>;
  /** Whether a path exists at a commit (the app's optional test images). */
  commitHasPath?(repository: string, commitId: string, path: string): Promise<boolean>;
}

interface BuildRequest {
  context: Readable;
  tag?: string;
  target?: string;
  dockerfile?: string;
  labels?: Record<string, string>;
  buildargs?: Record<string, string>;
  /** Rebuild every layer (a push update picks up the updated base image and packages). */
  noCache?: boolean;
  /** The network of the build's RUN steps (`none`: no network, so nothing can reach a service). */
  networkMode?: string;
  log: { write(line: string): void };
}

/** Runs one image build on the engine, streaming its log; answers the image ID. */
async function buildImage(docker: Docker, req: BuildRequest): Promise<string> {
  const ctx = Context.current();
  const stream = (await docker.buildImage(req.context, {
    t: req.tag,
    target: req.target,
    dockerfile: req.dockerfile,
    labels: req.labels,
    buildargs: req.buildargs,
    rm: true,
    forcerm: true,
    nocache: req.noCache ?? false,
    ...(req.networkMode ? { networkmode: req.networkMode } : {}),
  })) as Readable;
  let lines = 0;
  let imageId: string | undefined;
  const tail: string[] = [];
  const onCancel = () => stream.destroy(new Error('build cancelled'));
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  // A build step can be silent for minutes (tests, compilers): heartbeat on a timer too, because a cancellation
  // reaches an activity only through its heartbeats.
  const beat = setInterval(() => ctx.heartbeat({ lines }), 2000);
  try {
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), (event: {
        stream?: string; error?: string; aux?: { ID?: string }; status?: string;
      }) => {
        if (event.aux?.ID) imageId = event.aux.ID;
        const text = event.error ?? event.stream ?? event.status;
        if (!text) return;
        for (const line of text.split('\n').filter((l) => l.trim())) {
          lines += 1;
          req.log.write(line);
          tail.push(line);
          if (tail.length > 20) tail.shift();
        }
        ctx.heartbeat({ lines });
        if (event.error) reject(new Error(event.error));
      });
    });
  } catch (err) {
    if (ctx.cancellationSignal.aborted) throw new CancelledFailure(`docker build stopped: ${ctx.cancellationSignal.reason ?? 'cancelled'}`);
    throw ApplicationFailure.create({
      type: NonRetryable.BuildFailed,
      message: `docker build${req.target ? ` (target ${req.target})` : ''} failed: ${(err as Error).message.trim()}\n${tail.slice(-8).join('\n')}`,
      nonRetryable: true,
    });
  } finally {
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
  }
  if (!imageId && req.tag) imageId = (await docker.getImage(req.tag).inspect()).Id;
  if (!imageId) throw new Error('docker build finished without reporting an image ID');
  return imageId;
}

/**
 * Adobe Commerce's build hooks: each command a `RUN` on top of the runtime image, in order, as root (the build, not the
 * app, owns the image's files), with no network, so a hook cannot reach any service. Their output is part of the
 * image, which records the commands in a label; a failing hook fails the build with its output.
 */
async function runBuildHooks(docker: Docker, baseImageId: string, commands: string[], tag: string, labels: Record<string, string>, log: { write(line: string): void }): Promise<string> {
  const base = await docker.getImage(baseImageId).inspect();
  const user = base.Config.User || 'root';
  const dockerfile = [
    `FROM ${baseImageId}`,
    'USER root',
    ...commands.map((command) => `RUN ${JSON.stringify(['/bin/sh', '-c', command])}`),
    `USER ${user}`,
    `LABEL stagecoach.hooks.build=${JSON.stringify(JSON.stringify(commands))}`,
    '',
  ].join('\n');
  log.write(`# build hooks (${commands.length}, no network) on the runtime image ${baseImageId.slice(7, 19)}:`);
  for (const [i, command] of commands.entries()) log.write(`#   ${i + 1}. ${command}`);
  const pack = tarStream.pack();
  pack.entry({ name: 'Dockerfile' }, dockerfile);
  pack.finalize();
  return buildImage(docker, { context: pack as unknown as Readable, tag, labels, networkMode: 'none', log });
}

/** The regular files of a tar stream (as `getArchive` answers a directory), by path below that directory. */
export async function extractTar(archive: Readable): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tarStream.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (c: unknown) => chunks.push(c as Buffer));
      body.on('end', () => {
        if (header.type === 'file') files.set(header.name.split('/').slice(1).join('/'), Buffer.concat(chunks));
        next();
      });
      body.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    archive.on('error', reject);
    archive.pipe(extract);
  });
  return files;
}

/** Reads the files under one directory of an image (through a created, never started, container). */
async function readImageDir(docker: Docker, imageId: string, dir: string): Promise<Map<string, Buffer>> {
  const container = await docker.createContainer({ Image: imageId, Cmd: ['true'] });
  try {
    return await extractTar((await container.getArchive({ path: dir })) as unknown as Readable);
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

export interface BuildAndTestResult {
  unitTests: UnitTestResults & { coverage?: CoverageSummary };
  reportRef: string;
  logRef: string;
  testImageId: string;
  /** The scanners' summaries and the references of their reports (absent for builds asked without `scan`). */
  scan?: CodeScanSummary;
  scanRefs?: { sarif?: string[]; coverage?: string; duplication?: string };
  /** The app's functional and UI test images, when it ships them and they are asked for. */
  testImages?: { functional?: ImageArtifact; ui?: ImageArtifact };
}

/** An engine as messages name it: ssh://root@10.0.0.6:22, unix:///run/other.sock, or "local engine". */
export function describeEngine(env: EnvironmentConfig['docker']): string {
  if (env?.host) return `${env.protocol ?? 'http'}://${env.username ? `${env.username}@` : ''}${env.host}:${env.port ?? ''}`;
  if (env?.socketPath) return `unix://${env.socketPath}`;
  return 'local engine';
}

export function createDockerBuildActivities(deps: BuildDeps) {
  const local = () => deps.docker();

  /** With `pipelineId`, also refuses a placement that would move a running node (see findMisplacedNodes). */
  async function checkDockerEngines(input: { environments: EnvironmentConfig[]; pipelineId?: string }): Promise<{ engines: string[] }> {
    const engines: string[] = [];
    // The local engine builds; each environment's engines (its own and those its placement uses) run its nodes.
    for (const env of [undefined, ...input.environments.flatMap((e) => enginesInUse(e).map((engine) => engine.docker))]) {
      const where = describeEngine(env);
      try {
        const version = await deps.docker(env).version();
        engines.push(`${where}: Docker ${version.Version} (API ${version.ApiVersion})`);
      } catch (err) {
        throw ApplicationFailure.create({
          type: NonRetryable.DockerUnreachable,
          message: `Docker Engine (${where}) does not answer: ${(err as Error).message}. Start it (npm run provision) or fix the environment's docker settings.`,
          nonRetryable: true,
        });
      }
    }
    if (input.pipelineId) {
      for (const environment of input.environments) {
        const misplaced = await findMisplacedNodes(deps.docker, input.pipelineId, environment);
        if (misplaced.length) throw ApplicationFailure.nonRetryable(misplacedMessage(input.pipelineId, environment, misplaced), NonRetryable.InvalidConfig);
      }
    }
    return { engines: [...new Set(engines)] };
  }

  /**
   * The app's test stage: builds it, reads its JUnit report (failing naming the failing tests) and, with `scan`, the
   * scanners' reports it left in /out (SARIF, coverage, duplication), storing each in the artifact store. Then, when
   * `testImages` names their directories and the commit has them, builds the app's functional and UI test images,
   * tagged by commit and execution. A failure carries the build log's reference in its details.
   */
  async function buildAndTest(input: {
    pipelineId: string; executionId: string; repository: string; commitId: string; app: PipelineConfig['app']; noCache?: boolean;
    scan?: boolean; testImages?: { functional?: string; ui?: string };
  }): Promise<BuildAndTestResult> {
    const log = await deps.artifacts.openLog(executionRef(input.pipelineId, input.executionId, 'build/build.log'));
    const ref = (name: string) => executionRef(input.pipelineId, input.executionId, `build/${name}`);
    try {
      log.write(`# build of ${input.repository} at ${input.commitId}, target ${input.app.testTarget}`);
      const labels = { [LABEL.pipeline]: input.pipelineId, [LABEL.execution]: input.executionId, [LABEL.commit]: input.commitId };
      const testImageId = await buildImage(local(), {
        context: await deps.exportCommit(input.repository, input.commitId),
        target: input.app.testTarget,
        dockerfile: input.app.dockerfile,
        labels,
        noCache: input.noCache,
        log,
      });
      const files = await readImageDir(local(), testImageId, '/out');
      const xml = files.get('junit.xml')?.toString('utf8');
      if (!xml) {
        throw ApplicationFailure.create({
          type: NonRetryable.BuildFailed,
          message: `The ${input.app.testTarget} stage left no /out/junit.xml: the Dockerfile's test stage must write its JUnit report there.`,
          nonRetryable: true,
        });
      }
      const reportRef = await deps.artifacts.put(ref('junit.xml'), xml);
      const unitTests: BuildAndTestResult['unitTests'] = parseJUnit(xml);
      const exitCode = Number(files.get('exit-code')?.toString().trim() ?? '0');
      log.write(`# unit tests: ${unitTests.passed} passed, ${unitTests.failed} failed, ${unitTests.skipped} skipped (runner exit ${exitCode})`);
      let scan: StoredScanResult | undefined;
      if (input.scan) {
        scan = await storeScanReports(files, deps.artifacts, executionRef(input.pipelineId, input.executionId, 'build'));
        if (scan.summary.coverage) unitTests.coverage = scan.summary.coverage;
        const s = scan.summary;
        log.write(`# scanners: ${s.issues ? `${s.issues.security.total + s.issues.reliability.total + s.issues.maintainability.total} issue(s) (${s.issues.tools.join(', ')})` : 'no SARIF report'}` +
          `; coverage ${s.coverage ? `${s.coverage.percent}%` : 'not reported'}; duplicated lines ${s.duplication ? `${s.duplication.density}%` : 'not reported'}` +
          (s.missing.length ? `; missing: ${s.missing.join(', ')}` : '') + (scan.problems.length ? `; unreadable: ${scan.problems.join('; ')}` : ''));
      }
      if (unitTests.failed > 0 || exitCode !== 0) {
        throw ApplicationFailure.create({
          type: NonRetryable.UnitTestsFailed,
          message: unitTests.failures.length
            ? `${unitTests.failed} unit test(s) failed: ${unitTests.failures.join(', ')}`
            : `the unit test runner exited with ${exitCode}`,
          nonRetryable: true,
          details: [{ unitTests, reportRef, logRef: log.ref }],
        });
      }
      const testImages = input.testImages ? await buildTestImages(input, labels, log) : undefined;
      return {
        unitTests, reportRef, logRef: log.ref, testImageId,
        ...(scan ? { scan: scan.summary, scanRefs: scan.refs } : {}),
        ...(testImages ? { testImages } : {}),
      };
    } catch (err) {
      // The log's reference travels with the failure, so the step can still point at it.
      if (err instanceof ApplicationFailure && !err.details?.length) {
        throw ApplicationFailure.create({ type: err.type ?? undefined, message: err.message, nonRetryable: err.nonRetryable ?? false, details: [{ logRef: log.ref }] });
      }
      throw err;
    } finally {
      await log.close();
    }
  }

  /** Builds the functional and UI test images the commit ships (tagged `<image>-<kind>-tests:<commit12>-<execution>`). */
  async function buildTestImages(
    input: { pipelineId: string; executionId: string; repository: string; commitId: string; app: PipelineConfig['app']; noCache?: boolean; testImages?: { functional?: string; ui?: string } },
    labels: Record<string, string>, log: { write(line: string): void },
  ): Promise<{ functional?: ImageArtifact; ui?: ImageArtifact }> {
    const images: { functional?: ImageArtifact; ui?: ImageArtifact } = {};
    const docker = local();
    for (const kind of ['functional', 'ui'] as const) {
      const context = input.testImages?.[kind];
      if (!context) continue;
      const dir = context.replace(/^\.\/|\/$/g, '');
      if (!deps.commitHasPath || !(await deps.commitHasPath(input.repository, input.commitId, `${dir}/Dockerfile`))) {
        log.write(`# no ${dir}/Dockerfile at this commit: the app ships no ${kind} tests`);
        continue;
      }
      const tag = `${input.app.imageName}-${kind}-tests:${input.commitId.slice(0, 12)}-${input.executionId}`;
      const found = await docker.getImage(tag).inspect().then((i) => i.Id, () => undefined);
      if (found) {
        log.write(`# ${tag} already built (${found}), reused`);
        images[kind] = { id: found, tag };
        continue;
      }
      log.write(`# building the ${kind} test image ${tag} from ${dir}/`);
      const id = await buildImage(docker, {
        context: await deps.exportCommit(input.repository, input.commitId, dir), tag, labels, log, noCache: input.noCache,
      });
      images[kind] = { id, tag };
    }
    return images;
  }

  /**
   * Builds the immutable runtime images once per execution, tagged by commit and execution. Idempotent: an image
   * already carrying this execution's tag is reused, so a retried activity builds nothing twice.
   */
  async function buildImages(input: {
    pipelineId: string; executionId: string; repository: string; commitId: string; version: string;
    app: PipelineConfig['app']; which: 'all' | 'dispatcher'; noCache?: boolean;
  }): Promise<{ images: { app?: ImageArtifact; dispatcher: ImageArtifact }; logRef: string }> {
    const docker = local();
    const tagSuffix = `${input.commitId.slice(0, 12)}-${input.executionId}`;
    const labels = {
      [LABEL.pipeline]: input.pipelineId, [LABEL.execution]: input.executionId, [LABEL.commit]: input.commitId,
      'org.opencontainers.image.version': input.version,
    };
    const log = await deps.artifacts.openLog(executionRef(input.pipelineId, input.executionId, 'buildImage/build.log'));
    const existing = async (tag: string) => docker.getImage(tag).inspect().then((i) => i.Id, () => undefined);
    try {
      const build = async (tag: string, context: Readable, target?: string, dockerfile?: string) => {
        const found = await existing(tag);
        if (found) {
          log.write(`# ${tag} already built (${found}), reused`);
          return { id: found, tag };
        }
        log.write(`# building ${tag}${target ? ` (target ${target})` : ''}`);
        return { id: await buildImage(docker, { context, tag, target, dockerfile, labels, log, noCache: input.noCache }), tag };
      };
      const images: { app?: ImageArtifact; dispatcher: ImageArtifact } = {
        dispatcher: await build(`${input.app.imageName}-dispatcher:${tagSuffix}`,
          await deps.exportCommit(input.repository, input.commitId, input.app.dispatcherContext)),
      };
      const buildHooks = input.app.hooks?.build ?? [];
      if (input.which === 'all' && !buildHooks.length) {
        images.app = await build(`${input.app.imageName}:${tagSuffix}`,
          await deps.exportCommit(input.repository, input.commitId), input.app.runtimeTarget, input.app.dockerfile);
      } else if (input.which === 'all') {
        const tag = `${input.app.imageName}:${tagSuffix}`;
        const found = await existing(tag);
        if (found) {
          log.write(`# ${tag} already built (${found}), reused`);
          images.app = { id: found, tag };
        } else {
          log.write(`# building the runtime stage of ${tag} (target ${input.app.runtimeTarget})`);
          const runtimeId = await buildImage(docker, {
            context: await deps.exportCommit(input.repository, input.commitId), target: input.app.runtimeTarget,
            dockerfile: input.app.dockerfile, labels, log, noCache: input.noCache,
          });
          images.app = { id: await runBuildHooks(docker, runtimeId, buildHooks, tag, labels, log), tag };
        }
      }
      return { images, logRef: log.ref };
    } finally {
      await log.close();
    }
  }

  return { checkDockerEngines, buildAndTest, buildImages };
}

// ---------------------------------------------------------------------------------------------------------------
// Containers

export interface ReplaceContainerInput {
  pipelineId: string;
  environment: EnvironmentConfig;
  /** Node name inside the environment: author, publish-1, dispatcher-1, lb. Also its DNS alias on the network. */
  node: string;
  image: string;
  env: Record<string, string>;
  containerPort: number;
  /** Host port on the engine's publish address (127.0.0.1 by default); 0 or undefined lets Docker choose. */
  hostPort?: number;
  /** Idempotency key (execution and node): a container already created under this key is kept, never redone. */
  deployKey: string;
  /**
   * A read-only root filesystem and the paths that stay writable: each a named volume of this node (created on first
   * use, owned by the image's user, kept when the container is replaced).
   */
  filesystem?: { readOnlyRootFilesystem: boolean; mounts: string[] };
}

export interface ReplaceContainerResult {
  container: string;
  image: string;
  /** The image the node ran before this replacement (what a rollback restores); undefined on a first deploy. */
  previousImage?: string;
  hostPort: number;
  /** True when the container already existed under this deploy key (a retry after a crash): nothing was redone. */
  reused: boolean;
}

/** The host port a container publishes for a container port (on its engine's publish address). */
export async function publishedPort(container: Docker.Container, containerPort: number): Promise<number> {
  const info = await container.inspect();
  const binding = info.NetworkSettings.Ports?.[`${containerPort}/tcp`]?.[0];
  if (!binding) throw new Error(`container ${info.Name} publishes no port for ${containerPort}/tcp`);
  return Number(binding.HostPort);
}

export async function inspectOrUndefined(container: Docker.Container) {
  return container.inspect().catch((err: { statusCode?: number }) => {
    if (err.statusCode === 404) return undefined;
    throw err;
  });
}

/**
 * Makes sure the environment's network exists on an engine. With a declared subnet, nodes get fixed addresses in it
 * and Docker hands out only the top quarter to anything else. A network that exists with another subnet is refused,
 * not recreated: that would mean removing every container on it.
 */
export async function ensureNetwork(docker: Docker, name: string, labels: Record<string, string>, subnet?: string): Promise<void> {
  const existing = (await docker.listNetworks({ filters: { name: [name] } })).find((n) => n.Name === name);
  if (existing) {
    const current = existing.IPAM?.Config?.map((c) => c.Subnet).filter(Boolean) ?? [];
    if (subnet && !current.includes(subnet)) {
      throw ApplicationFailure.create({
        type: NonRetryable.InvalidConfig, nonRetryable: true,
        message: `Network ${name} exists with subnet ${current.join(', ') || '(none)'}, not ${subnet} as configured. ` +
          `Stagecoach does not recreate a network under running containers: keep its subnet in the configuration, or remove the environment's containers and network first.`,
      });
    }
    return;
  }
  // The gateway is named: Docker would otherwise take the first address of IPRange for it.
  const ipam = subnet ? { IPAM: { Driver: 'default', Config: [{ Subnet: subnet, IPRange: dynamicRange(subnet)!, Gateway: gatewayAddress(subnet)! }] } } : {};
  await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, ...ipam }).catch((err: { statusCode?: number; message?: string }) => {
    if (err.statusCode === 409) return;
    if (subnet && /overlap/i.test(err.message ?? '')) {
      throw ApplicationFailure.create({
        type: NonRetryable.InvalidConfig, nonRetryable: true,
        message: `Network ${name} cannot have subnet ${subnet}: ${err.message}. Choose a subnet no other network on that engine uses.`,
      });
    }
    throw err;
  });
}

export interface MisplacedNode { node: string; runsOn: string; placedOn: string }

/**
 * Nodes whose container exists on another of the environment's engines than placement puts them on. A rollout does
 * not move a running node between engines (its pair would leave the load balancer before its new container exists, and
 * a rollback would have nothing there to restore), so the validate step refuses such a configuration before anything
 * is built or touched (no other execution of the pipeline can run until this one ends). Only environments that name engines are looked at; an engine that does not answer is passed over.
 */
export async function findMisplacedNodes(docker: DockerProvider, pipelineId: string, environment: EnvironmentConfig): Promise<MisplacedNode[]> {
  const named = Object.entries(environment.engines ?? {});
  if (named.length === 0) return [];
  const engines = [{ name: DEFAULT_ENGINE, docker: environment.docker }, ...named.map(([name, e]) => ({ name, docker: e.docker }))];
  const misplaced: MisplacedNode[] = [];
  for (const node of environmentNodeNames(environment)) {
    const placedOn = engineOf(environment, node).name;
    for (const engine of engines.filter((e) => e.name !== placedOn)) {
      const found = await inspectOrUndefined(docker(engine.docker).getContainer(containerName(pipelineId, environment.name, node))).catch(() => undefined);
      if (found) misplaced.push({ node, runsOn: engine.name, placedOn });
    }
  }
  return misplaced;
}

export function misplacedMessage(pipelineId: string, environment: EnvironmentConfig, misplaced: MisplacedNode[]): string {
  return `In ${environment.name}, placement moves running nodes to another engine: ` +
    misplaced.map((m) => `${m.node} runs on ${m.runsOn}, placed on ${m.placedOn}`).join('; ') + '. ' +
    'A rollout does not move a running node between engines. Remove ' +
    misplaced.map((m) => `${containerName(pipelineId, environment.name, m.node)} (on ${m.runsOn})`).join(', ') +
    ' first (a pair without its containers leaves the load balancer while the others keep serving), or place them back.';
}

/** A node's place on the environment's network: its name, and its fixed address when the subnet is declared. */
export function endpoint(subnet: string | undefined, node: string): { Aliases: string[]; IPAMConfig?: { IPv4Address: string } } {
  const address = subnet ? fixedAddress(subnet, node) : undefined;
  return { Aliases: [node], ...(address ? { IPAMConfig: { IPv4Address: address } } : {}) };
}

export function createContainerActivities(deps: { docker: DockerProvider }) {
  async function replaceContainer(input: ReplaceContainerInput): Promise<ReplaceContainerResult> {
    const engine = engineOf(input.environment, input.node);
    const docker = deps.docker(engine.docker);
    const name = containerName(input.pipelineId, input.environment.name, input.node);
    const network = networkName(input.pipelineId, input.environment.name);
    const current = docker.getContainer(name);
    const info = await inspectOrUndefined(current);
    // A remote engine gets the image built locally, the same ID, before its first container of it.
    await ensureImageOn(docker, deps.docker(), input.image);
    const wanted = await docker.getImage(input.image).inspect().then((i) => i.Id, () => undefined);
    const filesystem = input.filesystem && (input.filesystem.readOnlyRootFilesystem || input.filesystem.mounts.length)
      ? JSON.stringify(input.filesystem) : '';
    // Already running this image (a retry, a resumed rollout, or a restore of a node that was never replaced):
    // nothing to redo, so no node is ever deployed twice.
    if (info && info.State.Running && (info.Config.Labels?.[LABEL.deployKey] === input.deployKey ||
      (info.Image === wanted && (info.Config.Labels?.[LABEL.filesystem] ?? '') === filesystem))) {
      return {
        container: name, image: info.Image, previousImage: info.Config.Labels[LABEL.previousImage] || undefined,
        hostPort: await publishedPort(current, input.containerPort), reused: true,
      };
    }
    // A container made under this key that is not running failed to start: keep the image it replaced.
    const previousImage = info
      ? (info.Config.Labels?.[LABEL.deployKey] === input.deployKey ? info.Config.Labels[LABEL.previousImage] : info.Image)
      : undefined;
    const image = await docker.getImage(input.image).inspect().catch(() => {
      throw ApplicationFailure.create({
        type: NonRetryable.InvalidImage, nonRetryable: true,
        message: `Image ${input.image} is not on the Docker Engine of environment ${input.environment.name}`,
      });
    });
    if (info) {
      await current.stop({ t: 5 }).catch(() => undefined);
      await current.remove({ force: true }).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404) throw err;
      });
    }
    const portKey = `${input.containerPort}/tcp`;
    const mounts = await ensureMountVolumes(docker, input, image);
    const created = await docker.createContainer({
      name,
      Image: image.Id,
      Env: Object.entries(input.env).map(([k, v]) => `${k}=${v}`),
      Labels: {
        [LABEL.pipeline]: input.pipelineId,
        [LABEL.environment]: input.environment.name,
        [LABEL.node]: input.node,
        [LABEL.deployKey]: input.deployKey,
        [LABEL.previousImage]: previousImage ?? '',
        ...(filesystem ? { [LABEL.filesystem]: filesystem } : {}),
      },
      ExposedPorts: { [portKey]: {} },
      HostConfig: {
        ...(input.filesystem?.readOnlyRootFilesystem ? { ReadonlyRootfs: true } : {}),
        ...(mounts.length ? { Mounts: mounts } : {}),
        PortBindings: { [portKey]: [{ HostIp: publishAddress(engine.docker), HostPort: input.hostPort ? String(input.hostPort) : '' }] },
        NetworkMode: network,
        RestartPolicy: { Name: 'unless-stopped' },
      },
      NetworkingConfig: { EndpointsConfig: { [network]: endpoint(engine.subnet, input.node) } },
    });
    try {
      await created.start();
    } catch (err) {
      const message = (err as Error).message;
      if (/port is already allocated|address already in use/i.test(message)) {
        throw ApplicationFailure.create({
          type: ActivityFailure.PortInUse,
          message: `${publishAddress(engine.docker)}:${input.hostPort} is taken by another process: free it or change the port of ${input.node} in environments.${input.environment.type}`,
        });
      }
      throw err;
    }
    return { container: name, image: image.Id, previousImage, hostPort: await publishedPort(created, input.containerPort), reused: false };
  }

  return { replaceContainer };
}

/**
 * The named volumes of a node's declared mounts. A volume made here for the first time is handed to the image's user
 * (a one-shot root container of the image chowns it; Docker first copies in what the image has at that path), so the
 * app can write to its mounts whatever user it runs as.
 */
async function ensureMountVolumes(docker: Docker, input: ReplaceContainerInput, image: Docker.ImageInspectInfo): Promise<Docker.MountSettings[]> {
  const mounts: Docker.MountSettings[] = [];
  for (const target of input.filesystem?.mounts ?? []) {
    const name = volumeName(input.pipelineId, input.environment.name, input.node, target);
    const exists = await docker.getVolume(name).inspect().then(() => true, () => false);
    if (!exists) {
      await docker.createVolume({
        Name: name,
        Labels: { [LABEL.pipeline]: input.pipelineId, [LABEL.environment]: input.environment.name, [LABEL.node]: input.node, 'stagecoach.mount': target },
      });
      const user = image.Config.User;
      if (user && user !== 'root' && user !== '0') {
        const helper = await docker.createContainer({
          Image: image.Id, User: '0', Entrypoint: ['chown', user.split(':')[0], target], Cmd: [],
          Labels: { [LABEL.pipeline]: input.pipelineId },
          HostConfig: { NetworkMode: 'none', Mounts: [{ Type: 'volume', Source: name, Target: target }] },
        });
        try {
          await helper.start();
          const { StatusCode } = (await helper.wait()) as { StatusCode: number };
          if (StatusCode !== 0) {
            await docker.getVolume(name).remove().catch(() => undefined);
            throw new Error(`could not hand the mount ${target} to user ${user} (chown exited ${StatusCode})`);
          }
        } finally {
          await helper.remove({ force: true }).catch(() => undefined);
        }
      }
    }
    mounts.push({ Type: 'volume', Source: name, Target: target });
  }
  return mounts;
}

/** What one hook command did. */
export interface HookResult { exitCode: number; output: string; durationMs: number }

/**
 * Runs one shell command inside a running container (`sh -c`, as the container's user, under its filesystem rules),
 * streaming nothing but keeping the tail of its output; heartbeats while it runs.
 */
export async function execInContainer(container: Docker.Container, command: string, env: Record<string, string>, tailLines = 40): Promise<HookResult> {
  const ctx = Context.current();
  const started = Date.now();
  const exec = await container.exec({
    Cmd: ['sh', '-c', command], AttachStdout: true, AttachStderr: true, Tty: false,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Readable;
  const chunks: string[] = [];
  const sink = { write: (chunk: Buffer) => { chunks.push(chunk.toString('utf8')); return true; } };
  container.modem.demuxStream(stream, sink as never, sink as never);
  const beat = setInterval(() => ctx.heartbeat({ seconds: Math.round((Date.now() - started) / 1000) }), 2000);
  const onCancel = () => stream.destroy();
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  try {
    await new Promise<void>((resolve) => { stream.on('end', resolve); stream.on('close', resolve); stream.on('error', () => resolve()); });
  } finally {
    clearInterval(beat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
  }
  if (ctx.cancellationSignal.aborted) throw new CancelledFailure('hook stopped: the rollout was cancelled');
  // The exec may report its exit code a moment after its output ends.
  let info = await exec.inspect();
  for (let i = 0; info.Running && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 100));
    info = await exec.inspect();
  }
  const output = chunks.join('').split('\n').filter((l) => l.trim()).slice(-tailLines).join('\n');
  return { exitCode: info.ExitCode ?? -1, output, durationMs: Date.now() - started };
}

// ---------------------------------------------------------------------------------------------------------------
// Test containers: the app's functional and UI test images, run against an environment on its own network

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
