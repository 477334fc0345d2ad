/**
 * The app's images, built on the local Docker Engine: its test stage with the unit tests and scanners' reports, its
 * functional and UI test images, and the runtime images (the app's, with its build hooks, and the dispatcher's). Long
 * work heartbeats and stops when the activity is cancelled (closing the build request makes the engine abort the
 * build).
 */
import type { Readable } from 'node:stream';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import tarStream from 'tar-stream';
import { NonRetryable } from '../shared/errors';
import type { CodeScanSummary, CoverageSummary, ImageArtifact, PipelineConfig } from '../shared/types';
import { LABEL, executionImageTag } from '../topology/names';
import type { ArtifactStore } from './artifacts';
import { executionRef } from '../config/paths';
import { extractTar } from './containers';
import type { DockerProvider } from './docker-hosts';
import { parseJUnit, storeScanReports, type UnitTestResults } from './reports';

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
    `LABEL ${LABEL.buildHooks}=${JSON.stringify(JSON.stringify(commands))}`,
    '',
  ].join('\n');
  log.write(`# build hooks (${commands.length}, no network) on the runtime image ${baseImageId.slice(7, 19)}:`);
  for (const [i, command] of commands.entries()) log.write(`#   ${i + 1}. ${command}`);
  const pack = tarStream.pack();
  pack.entry({ name: 'Dockerfile' }, dockerfile);
  pack.finalize();
  return buildImage(docker, { context: pack as unknown as Readable, tag, labels, networkMode: 'none', log });
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

/**
 * The image tagged `tag`: reused when it exists (a retried activity builds nothing twice), else made by `build`
 * (whose log line says what it builds).
 */
async function reuseOrBuild(docker: Docker, tag: string, log: { write(line: string): void }, building: string, build: () => Promise<string>): Promise<ImageArtifact> {
  const found = await docker.getImage(tag).inspect().then((i) => i.Id, () => undefined);
  if (found) {
    log.write(`# ${tag} already built (${found}), reused`);
    return { id: found, tag };
  }
  log.write(`# building ${building}`);
  return { id: await build(), tag };
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

export function createImageBuildActivities(deps: BuildDeps) {
  const local = () => deps.docker();

  /**
   * The app's test stage: builds it, reads its JUnit report (failing naming the failing tests) and, with `scan`, the
   * scanners' reports it left in /out (SARIF, coverage, duplication), storing each in the artifact store. Then, when
   * `testImages` names their directories and the commit has them, builds the app's functional and UI test images,
   * tagged by commit and execution. A failure carries the build log's reference in its details.
   */
  async function buildAndTest(input: {
    pipelineId: string; executionId: string; runId?: string; repository: string; commitId: string; app: PipelineConfig['app']; noCache?: boolean;
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
    input: { pipelineId: string; executionId: string; runId?: string; repository: string; commitId: string; app: PipelineConfig['app']; noCache?: boolean; testImages?: { functional?: string; ui?: string } },
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
      const tag = executionImageTag(input.app.imageName, kind, input.commitId, input.executionId, input.runId);
      images[kind] = await reuseOrBuild(docker, tag, log, `the ${kind} test image ${tag} from ${dir}/`, async () => buildImage(docker, {
        context: await deps.exportCommit(input.repository, input.commitId, dir), tag, labels, log, noCache: input.noCache,
      }));
    }
    return images;
  }

  /**
   * Builds the immutable runtime images once per execution, tagged by commit and execution. Idempotent: an image
   * already carrying this execution's tag is reused, so a retried activity builds nothing twice.
   */
  async function buildImages(input: {
    pipelineId: string; executionId: string; runId?: string; repository: string; commitId: string; version: string;
    app: PipelineConfig['app']; which: 'all' | 'dispatcher'; noCache?: boolean;
  }): Promise<{ images: { app?: ImageArtifact; dispatcher: ImageArtifact }; logRef: string }> {
    const docker = local();
    const labels = {
      [LABEL.pipeline]: input.pipelineId, [LABEL.execution]: input.executionId, [LABEL.commit]: input.commitId,
      'org.opencontainers.image.version': input.version,
    };
    const log = await deps.artifacts.openLog(executionRef(input.pipelineId, input.executionId, 'buildImage/build.log'));
    try {
      const dispatcherTag = executionImageTag(input.app.imageName, 'dispatcher', input.commitId, input.executionId, input.runId);
      const images: { app?: ImageArtifact; dispatcher: ImageArtifact } = {
        dispatcher: await reuseOrBuild(docker, dispatcherTag, log, dispatcherTag, async () => buildImage(docker, {
          context: await deps.exportCommit(input.repository, input.commitId, input.app.dispatcherContext), tag: dispatcherTag, labels, log, noCache: input.noCache,
        })),
      };
      if (input.which === 'all') {
        const tag = executionImageTag(input.app.imageName, 'app', input.commitId, input.executionId, input.runId);
        const buildHooks = input.app.hooks?.build ?? [];
        const runtime = { target: input.app.runtimeTarget, dockerfile: input.app.dockerfile, labels, log, noCache: input.noCache };
        images.app = buildHooks.length
          ? await reuseOrBuild(docker, tag, log, `the runtime stage of ${tag} (target ${input.app.runtimeTarget})`, async () => {
            const runtimeId = await buildImage(docker, { ...runtime, context: await deps.exportCommit(input.repository, input.commitId) });
            return runBuildHooks(docker, runtimeId, buildHooks, tag, labels, log);
          })
          : await reuseOrBuild(docker, tag, log, `${tag} (target ${input.app.runtimeTarget})`, async () =>
            buildImage(docker, { ...runtime, tag, context: await deps.exportCommit(input.repository, input.commitId) }));
      }
      return { images, logRef: log.ref };
    } finally {
      await log.close();
    }
  }

  return { buildAndTest, buildImages };
}
