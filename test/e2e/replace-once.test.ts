/**
 * A node's container is created once even when its worker is lost between creating and starting it (issue 16, item
 * 2; the fault suite kills the worker at Docker's create event): the retried replacement starts the container its
 * key already made instead of removing it and creating a second. On the real Docker Engine; no Temporal server.
 */
import Docker from 'dockerode';
import tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContainerActivities, ensureNetwork } from '../../src/activities/containers';
import { createDockerProvider } from '../../src/activities/docker-hosts';
import { removePipelineTopology } from '../../src/activities/topology';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { DEFAULT_BASE_IMAGE } from '../../src/provision';
import { LABEL, containerName, networkName } from '../../src/topology/names';
import { testPipeline } from '../helpers/harness';

const ID = 't-replace-once';
const IMAGE = 'stagecoach-test/replace-once:1';
const docker = new Docker();
const environment = parsePipelineConfig(testPipeline(ID, '/nonexistent')).environments.prod;
const { replaceContainer } = createContainerActivities({ docker: createDockerProvider(docker) });
const input = { pipelineId: ID, environment, node: 'publish-1', image: IMAGE, env: {}, containerPort: 8080, deployKey: `${ID}/1@run/prod/publish-1/replace` };

beforeAll(async () => {
  await removePipelineTopology(docker, ID);
  // A container that keeps running, from the base image alone (no RUN: seconds).
  const context = tarStream.pack();
  context.entry({ name: 'Dockerfile' }, `FROM ${DEFAULT_BASE_IMAGE}\nCMD ["sleep", "600"]\n`);
  context.finalize();
  await new Promise((resolve, reject) => {
    void docker.buildImage(context as never, { t: IMAGE }).then((stream) => docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve(undefined))), reject);
  });
  await ensureNetwork(docker, networkName(ID, environment.name), { [LABEL.pipeline]: ID });
});
afterAll(async () => {
  await removePipelineTopology(docker, ID);
  await docker.getImage(IMAGE).remove({ force: true }).catch(() => undefined);
});

describe('replaceContainer after a worker lost between create and start', () => {
  it('starts the container its key made, and creates no second one', async () => {
    // The first attempt's worker dies right after the engine created the container: its start never comes.
    const prototype = Object.getPrototypeOf(docker.getContainer('x')) as { start(): Promise<unknown> };
    const start = prototype.start;
    prototype.start = () => Promise.reject(new Error('worker lost'));
    try {
      await expect(replaceContainer(input)).rejects.toThrow('worker lost');
    } finally {
      prototype.start = start;
    }
    const made = await docker.getContainer(containerName(ID, environment.name, 'publish-1')).inspect();
    expect(made.State.Status).toBe('created');

    const retried = await replaceContainer(input);
    const now = await docker.getContainer(containerName(ID, environment.name, 'publish-1')).inspect();
    expect(now.Id).toBe(made.Id);
    expect(now.State.Running).toBe(true);
    expect(retried).toMatchObject({ reused: true, image: made.Image });
    expect(retried.hostPort).toBeGreaterThan(0);
  });
});
