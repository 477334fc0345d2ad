/**
 * The dispatcher cache (Varnish): flushed with BAN over HTTP on every deployment, then warmed with the configured
 * pages before the dispatcher takes traffic. BAN is accepted only with the orchestrator's token.
 */
import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { EnvironmentConfig } from '../shared/types';
import { publishedPort } from './containers';
import type { DockerProvider } from './docker-hosts';
import { httpGet, sitePage } from './health';
import { containerName, dispatcherNodeName } from '../topology/names';
import { engineOf, publishAddress } from '../topology/placement';
import { ActivityFailure } from '../shared/errors';

export const DISPATCHER_PORT = 80;

/** The token a dispatcher accepts BAN/PURGE with: derived from the worker's secret, per pipeline and environment. */
export function purgeToken(secret: string, pipelineId: string, environment: string): string {
  return createHmac('sha256', secret).update(`${pipelineId}/${environment}`).digest('hex').slice(0, 32);
}

export function createCacheActivities(deps: { docker: DockerProvider; secret: string }) {
  async function dispatcherUrl(pipelineId: string, environment: EnvironmentConfig, pair: number) {
    const node = dispatcherNodeName(pair);
    const { docker } = engineOf(environment, node);
    const container = deps.docker(docker).getContainer(containerName(pipelineId, environment.name, node));
    return `http://${publishAddress(docker)}:${await publishedPort(container, DISPATCHER_PORT)}`;
  }

  async function flushCache(input: { pipelineId: string; environment: EnvironmentConfig; pair: number }): Promise<{ status: number }> {
    const url = await dispatcherUrl(input.pipelineId, input.environment, input.pair);
    const res = await fetch(`${url}/`, {
      method: 'BAN',
      headers: { 'X-Purge-Token': purgeToken(deps.secret, input.pipelineId, input.environment.name) },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`${dispatcherNodeName(input.pair)} refused BAN: HTTP ${res.status}`);
    return { status: res.status };
  }

  /** Requests each page through the dispatcher, then once more to prove it is now served from cache. */
  async function warmCache(input: {
    pipelineId: string; environment: EnvironmentConfig; pair: number; pages: string[];
  }): Promise<{ pages: Array<{ path: string; status: number; cached: boolean }> }> {
    const url = await dispatcherUrl(input.pipelineId, input.environment, input.pair);
    const pages = [];
    for (const path of input.pages) {
      const first = await httpGet(sitePage(url, path).href);
      if (!first.ok) {
        throw ApplicationFailure.nonRetryable(`warming ${path} through ${dispatcherNodeName(input.pair)} answered ${first.status ?? first.error}`, ActivityFailure.CacheWarmFailed);
      }
      const second = await httpGet(sitePage(url, path).href);
      pages.push({ path, status: first.status!, cached: second.headers?.get('x-cache') === 'HIT' });
    }
    return { pages };
  }

  return { flushCache, warmCache };
}
