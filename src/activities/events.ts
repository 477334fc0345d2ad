/**
 * Webhooks: POSTs one event to a receiver. `format: cloudevents` (default): the CloudEvent, signed with HMAC-SHA256
 * of the exact body (header `X-Stagecoach-Signature: sha256=<hex>`). `format: cloudmanager`: Cloud Manager's own
 * event body as `application/json`, signed as Adobe I/O Events signs it (`x-adobe-signature`: base64 HMAC-SHA256 of
 * the body), so receivers written for Cloud Manager verify it unchanged. The secret is read from the worker's
 * environment, so it never enters workflow history. A failure throws, and the activity's retry policy tries again.
 */
import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryable } from '../shared/errors';
import { cloudManagerEventBody, type CloudEvent } from '../shared/events';

export const SIGNATURE_HEADER = 'X-Stagecoach-Signature';
export const ADOBE_SIGNATURE_HEADER = 'x-adobe-signature';

/** Where receivers of Cloud Manager events reach the API (the events' `@id` links point there). */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function adobeSignature(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

export interface WebhookDelivery {
  url: string;
  secretEnv: string;
  event: CloudEvent;
  format?: 'cloudevents' | 'cloudmanager';
}

function request(input: WebhookDelivery, secret: string): { body: string; headers: Record<string, string> } {
  if (input.format === 'cloudmanager') {
    const apiUrl = process.env.STAGECOACH_API_URL ?? DEFAULT_API_URL;
    const body = JSON.stringify(cloudManagerEventBody(input.event, apiUrl, process.env.STAGECOACH_IMS_ORG));
    return { body, headers: { 'Content-Type': 'application/json', [ADOBE_SIGNATURE_HEADER]: adobeSignature(secret, body) } };
  }
  const body = JSON.stringify(input.event);
  return { body, headers: { 'Content-Type': 'application/cloudevents+json', [SIGNATURE_HEADER]: signBody(secret, body), 'ce-id': input.event.id } };
}

export function createEventActivities() {
  async function deliverWebhook(input: WebhookDelivery): Promise<{ status: number }> {
    const secret = process.env[input.secretEnv];
    if (!secret) {
      throw ApplicationFailure.nonRetryable(`the webhook secret variable ${input.secretEnv} is not set on this worker`, NonRetryable.InvalidConfig);
    }
    const { body, headers } = request(input, secret);
    const res = await fetch(input.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`webhook ${input.url} answered HTTP ${res.status}`);
    return { status: res.status };
  }
  return { deliverWebhook };
}
