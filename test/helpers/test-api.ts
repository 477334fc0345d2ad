/**
 * The HTTP API on 127.0.0.1 (port 0) in the test's own process, over a harness's Stagecoach client: what the API and
 * Cloud Manager client e2e files both need, so each says only who its users are.
 */
import type net from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ApiUser } from '../../src/api/auth';
import { buildApi } from '../../src/api/server';
import type { Harness } from './harness';

export interface TestUser extends ApiUser { token: string }
export interface TestApi { app: FastifyInstance; base: string }

export async function startTestApi(h: Harness, users: TestUser[], logger: Parameters<typeof buildApi>[0]['logger'] = false): Promise<TestApi> {
  const app = buildApi({
    stagecoach: h.stagecoach,
    tokens: { users },
    artifactsDir: process.env.STAGECOACH_ARTIFACTS_DIR ?? path.join(h.tmp, 'state', 'artifacts'),
    logger,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base: `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}` };
}
