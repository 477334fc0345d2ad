/**
 * Webhook deliveries (issue 16, item 5): a timestamp signed with the body, no redirect followed, and a secret read only
 * from a variable declared for webhooks. Against a real HTTP receiver on 127.0.0.1.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventActivities, isWebhookSecretVariable } from '../../src/activities/events';
import type { CloudEvent } from '../../src/shared/events';

let server: http.Server;
let base = '';
const received: Array<{ path: string; headers: http.IncomingHttpHeaders; body: string }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url === '/moved') res.writeHead(307, { location: `${base}/elsewhere` }).end();
      else res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.UNIT_WEBHOOK_SECRET = 'unit-secret';
  process.env.UNIT_OTHER = 'not-for-webhooks';
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const event = { id: 'evt-1', specversion: '1.0', type: 't', source: 's', subject: 'x', time: '2030-01-01T00:00:00Z', kind: 'started', data: {} } as unknown as CloudEvent;
const { deliverWebhook } = createEventActivities();

describe('webhook deliveries', () => {
  it('sign "<timestamp>.<body>", so a receiver can refuse an old delivery', async () => {
    await deliverWebhook({ url: `${base}/hook`, secretEnv: 'UNIT_WEBHOOK_SECRET', event });
    const r = received.at(-1)!;
    const timestamp = String(r.headers['x-stagecoach-timestamp']);
    expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(60);
    expect(r.headers['x-stagecoach-signature']).toBe(`sha256=${createHmac('sha256', 'unit-secret').update(`${timestamp}.${r.body}`).digest('hex')}`);
    expect(r.headers['ce-id']).toBe('evt-1');
  });

  it('do not follow a redirect with the signature, and say so', async () => {
    const before = received.length;
    await expect(deliverWebhook({ url: `${base}/moved`, secretEnv: 'UNIT_WEBHOOK_SECRET', event }))
      .rejects.toMatchObject({ type: 'InvalidConfig', nonRetryable: true, message: expect.stringMatching(/redirect \(HTTP 307 to .*\/elsewhere\).*not followed/) });
    expect(received.slice(before).map((r) => r.path)).toEqual(['/moved']);
  });

  it('read the secret only from a variable declared for webhooks', async () => {
    const before = received.length;
    await expect(deliverWebhook({ url: `${base}/hook`, secretEnv: 'UNIT_OTHER', event }))
      .rejects.toMatchObject({ type: 'InvalidConfig', message: expect.stringMatching(/not declared for webhooks.*STAGECOACH_WEBHOOK_SECRET_VARS/) });
    await expect(deliverWebhook({ url: `${base}/hook`, secretEnv: 'STAGECOACH_SECRET', event })).rejects.toMatchObject({ type: 'InvalidConfig' });
    expect(received.length).toBe(before);
    expect(isWebhookSecretVariable('UNIT_OTHER', { STAGECOACH_WEBHOOK_SECRET_VARS: 'A, UNIT_OTHER' })).toBe(true);
  });
});
