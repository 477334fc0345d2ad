/**
 * Webhooks of `format: cloudmanager`: the body is Cloud Manager's event (cloudmanager-events.yaml) with absolute
 * `@id` links, and `x-adobe-signature` is the base64 HMAC-SHA256 of the exact body, checked as Adobe's samples do.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createEventActivities } from '../../src/activities/events';
import { parsePipelineConfig } from '../../src/config/pipeline-config';
import { OBJECT_TYPES, EVENT_TYPES, buildEvent, cloudManagerEventBody } from '../../src/shared/events';
import { initialState } from '../../src/workflows/execution/state';

const config = parsePipelineConfig({ id: 'unit', repository: '/tmp/repo' });
const state = initialState({ pipelineId: 'unit', executionId: '4', trigger: 'MANUAL', mode: 'NORMAL', user: 'carol', config }, '2030-01-01T00:00:00.000Z');
const approval = state.steps.find((s) => s.stepId === 'approval')!;

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

describe('Cloud Manager events', () => {
  it('the body: event_id and event, the object\'s @id absolute, addressed to the organization', () => {
    const event = buildEvent({ kind: 'waiting', state, step: approval, seq: 3, time: '2030-01-01T00:00:01.000Z', actor: 'carol' });
    const body = cloudManagerEventBody(event, 'https://stagecoach.example:8443/', 'ORG@AdobeOrg');
    expect(Object.keys(body)).toEqual(['event_id', 'event']);
    expect(body.event).toMatchObject({
      '@id': event.id, '@type': EVENT_TYPES.waiting, 'xdmEventEnvelope:objectType': OBJECT_TYPES.step,
      'activitystreams:published': '2030-01-01T00:00:01.000Z',
      'activitystreams:to': { 'xdmImsOrg:id': 'ORG@AdobeOrg', '@type': 'xdmImsOrg' },
      'activitystreams:object': {
        '@id': 'https://stagecoach.example:8443/api/program/1/pipeline/unit/execution/4/phase/production/step/approval', '@type': OBJECT_TYPES.step,
      },
    });
  });

  it('delivers it as application/json with x-adobe-signature, which an Adobe-style receiver accepts', async () => {
    const got: Array<{ headers: http.IncomingHttpHeaders; raw: Buffer }> = [];
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => { got.push({ headers: req.headers, raw: Buffer.concat(chunks) }); res.end(); });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    process.env.UNIT_CM_WEBHOOK_SECRET = 'unit-secret';
    const event = buildEvent({ kind: 'started', state, seq: 1, time: '2030-01-01T00:00:00.000Z', actor: 'carol' });
    const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
    await createEventActivities().deliverWebhook({ url, secretEnv: 'UNIT_CM_WEBHOOK_SECRET', event, format: 'cloudmanager' });
    expect(got).toHaveLength(1);
    const [{ headers, raw }] = got;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-adobe-signature']).toBe(createHmac('sha256', 'unit-secret').update(raw).digest('base64'));
    const parsed = JSON.parse(raw.toString('utf8')) as { event: Record<string, unknown> };
    expect(parsed.event['@type']).toBe(EVENT_TYPES.started);
    expect(parsed.event['xdmEventEnvelope:objectType']).toBe(OBJECT_TYPES.execution);
  });
});
