/**
 * A hook runs once even when its activity is retried while it runs (issue 16, item 2): a second attempt with the same
 * key finds the exec the first started, waits for it and takes its exit code, and starts no second copy. On a real
 * container of the real Docker Engine; the activity context is a mock (the exec is the point, not the server).
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execInContainer, type HookResult } from '../../src/activities/containers';
import { DEFAULT_BASE_IMAGE } from '../../src/provision';
import { eventually } from '../helpers/wait';

const docker = new Docker();
const NAME = 'sc-t-hook-once';
let container: Docker.Container;

beforeAll(async () => {
  await docker.getContainer(NAME).remove({ force: true }).catch(() => undefined);
  container = await docker.createContainer({ name: NAME, Image: DEFAULT_BASE_IMAGE, Cmd: ['sleep', '600'], HostConfig: { Init: true } });
  await container.start();
});
afterAll(async () => { await container?.remove({ force: true }).catch(() => undefined); });

const runs = async () => (await execInContainer(docker, container, 'cat /tmp/runs 2>/dev/null | wc -l', {})).output.trim();
const inContext = (key: string, command: string): Promise<HookResult> =>
  new MockActivityEnvironment().run(() => execInContainer(docker, container, command, { HOOK: 'x' }, { key })) as Promise<HookResult>;

describe('execInContainer with a key', () => {
  it('a second attempt while the first still runs waits for it and takes its result; the command ran once', async () => {
    const command = 'echo run >> /tmp/runs; sleep 2; exit 3';
    const first = inContext('t/1/prod/author/deploy-hook-0', command);
    // The first attempt's exec is under way before the "retry" starts (as when a worker is lost mid-hook).
    await eventually('the first attempt\'s command to run', async () => {
      for (const id of (await container.inspect()).ExecIDs ?? []) {
        const exec = await docker.getExec(id).inspect().catch(() => undefined);
        if (exec?.Running && exec.ProcessConfig.arguments.some((a) => a.includes('deploy-hook-0'))) return true;
      }
      return undefined;
    });
    const second = await inContext('t/1/prod/author/deploy-hook-0', command);
    expect(second.exitCode).toBe(3);
    expect(second.output).toMatch(/run once, by an earlier attempt/);
    expect((await first).exitCode).toBe(3);
    expect(await new MockActivityEnvironment().run(runs)).toBe('1');
  });

  it('an attempt after the run ended takes its exit code too; another key runs again', async () => {
    const again = await inContext('t/1/prod/author/deploy-hook-0', 'echo run >> /tmp/runs; exit 3');
    expect(again.exitCode).toBe(3);
    expect(await new MockActivityEnvironment().run(runs)).toBe('1');
    const other = await inContext('t/1/prod/author/deploy-hook-1', 'echo run >> /tmp/runs; exit 0');
    expect(other.exitCode).toBe(0);
    expect(await new MockActivityEnvironment().run(runs)).toBe('2');
  });
});
