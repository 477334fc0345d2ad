/**
 * The validate step's engine checks, on fake engines (no Docker): every engine an environment uses must answer, and a
 * placement that would move a running node to another engine is refused, naming what to remove.
 */
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { createEngineCheckActivities } from '../../src/activities/engine-checks';
import type { DockerProvider } from '../../src/activities/docker-hosts';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { NonRetryable } from '../../src/shared/errors';
import type { DockerHostConfig } from '../../src/shared/types';

const RACK_B = { protocol: 'ssh' as const, host: '10.0.0.7', username: 'deploy' };

/** Fake engines, by host ("local" for the default one): their version, or none, and the containers they run. */
function fakeEngines(engines: Record<string, { version?: string; containers?: string[] }>): DockerProvider {
  return (host?: DockerHostConfig) => {
    const engine = engines[host?.host ?? 'local'] ?? {};
    return {
      version: async () => {
        if (!engine.version) throw new Error('connect ECONNREFUSED');
        return { Version: engine.version, ApiVersion: '1.47' };
      },
      getContainer: (name: string) => ({
        inspect: async () => {
          if (engine.containers?.includes(name)) return { Name: `/${name}` };
          throw Object.assign(new Error('no such container'), { statusCode: 404 });
        },
      }),
    } as unknown as Docker;
  };
}

const config = (placement: Record<string, string>) => parsePipelineConfig({
  id: 'shop', repository: '/r',
  environments: { prod: { pairs: 2, subnet: '10.213.1.0/24', engines: { 'rack-b': { docker: RACK_B, subnet: '10.213.2.0/24' } }, placement } },
});

async function refusal(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('checkDockerEngines', () => {
  it('answers each engine in use once, the local one first', async () => {
    const { environments } = config({ 'pair-2': 'rack-b' });
    const { checkDockerEngines } = createEngineCheckActivities({ docker: fakeEngines({ local: { version: '27.1' }, '10.0.0.7': { version: '26.0' } }) });
    expect(await checkDockerEngines({ environments: [environments.stage, environments.prod] })).toEqual({
      engines: ['local engine: Docker 27.1 (API 1.47)', 'ssh://deploy@10.0.0.7:: Docker 26.0 (API 1.47)'],
    });
  });

  it('refuses, naming the engine, when one does not answer', async () => {
    const { environments } = config({ 'pair-2': 'rack-b' });
    const { checkDockerEngines } = createEngineCheckActivities({ docker: fakeEngines({ local: { version: '27.1' } }) });
    const err = await refusal(checkDockerEngines({ environments: [environments.prod] }));
    expect(err.type).toBe(NonRetryable.DockerUnreachable);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/^Docker Engine \(ssh:\/\/deploy@10\.0\.0\.7:\) does not answer: connect ECONNREFUSED/);
  });

  it('refuses a placement that moves a running node to another engine, and lets one that keeps it pass', async () => {
    const docker = fakeEngines({ local: { version: '27.1', containers: ['sc-shop-prod-publish-2'] }, '10.0.0.7': { version: '26.0' } });
    const { checkDockerEngines } = createEngineCheckActivities({ docker });
    const err = await refusal(checkDockerEngines({ environments: [config({ 'pair-2': 'rack-b' }).environments.prod], pipelineId: 'shop' }));
    expect(err.type).toBe(NonRetryable.InvalidConfig);
    expect(err.message).toBe('In prod, placement moves running nodes to another engine: publish-2 runs on default, placed on rack-b. ' +
      'A rollout does not move a running node between engines. Remove sc-shop-prod-publish-2 (on default) first ' +
      '(a pair without its containers leaves the load balancer while the others keep serving), or place them back.');
    expect(await checkDockerEngines({ environments: [config({ 'pair-1': 'rack-b' }).environments.prod], pipelineId: 'shop' }))
      .toEqual({ engines: expect.any(Array) });
  });
});
