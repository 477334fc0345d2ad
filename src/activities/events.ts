/**
 * Webhooks: POSTs one event to a receiver, at least once (a retried delivery carries the same event id, `ce-id`, so a
 * receiver drops what it has seen). `format: cloudevents` (default): the CloudEvent, with `X-Stagecoach-Timestamp`
 * (Unix seconds) and `X-Stagecoach-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, so a receiver can
 * refuse an old delivery replayed to it. `format: cloudmanager`: Cloud Manager's own event body as
 * `application/json`, signed as Adobe I/O Events signs it (`x-adobe-signature`: base64 HMAC-SHA256 of the body), so
 * receivers written for Cloud Manager verify it unchanged. Redirects are never followed (the signed body goes only
 * where it was configured to go). The secret is read from the worker's environment, only from a variable declared
 * for webhooks, so it never enters workflow history and a pipeline cannot make the worker sign with another secret.
 * A failure throws, and the activity's retry policy tries again.
 */
import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { NonRetryable } from '../shared/errors';
import { cloudManagerEventBody, type CloudEvent } from '../shared/events';

export const SIGNATURE_HEADER = 'X-Stagecoach-Signature';
export const TIMESTAMP_HEADER = 'X-Stagecoach-Timestamp';
/** The worker's own list of further variables webhooks may read their secret from (comma-separated names). */
export const WEBHOOK_SECRET_VARS = 'STAGECOACH_WEBHOOK_SECRET_VARS';
export const ADOBE_SIGNATURE_HEADER = 'x-adobe-signature';

/** Where receivers of Cloud Manager events reach the API (the events' `@id` links point there). */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** The cloudevents signature: HMAC-SHA256 of `<timestamp>.<body>`, hex, as `sha256=<hex>`. */
export function signBody(secret: string, body: string, timestamp: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Whether a webhook may read its secret from `name`: a variable named `*_WEBHOOK_SECRET`, or one the worker lists in
 * STAGECOACH_WEBHOOK_SECRET_VARS. Anything else (STAGECOACH_SECRET, a cloud key) is never used to sign.
 */
export function isWebhookSecretVariable(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const declared = (env[WEBHOOK_SECRET_VARS] ?? '').split(',').map((v) => v.trim()).filter(Boolean);
  return /^[A-Z_][A-Z0-9_]*_WEBHOOK_SECRET$/.test(name) || declared.includes(name);
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
  const timestamp = String(Math.floor(Date.now() / 1000));
  return {
    body,
    headers: {
      'Content-Type': 'application/cloudevents+json', 'ce-id': input.event.id,
      [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signBody(secret, body, timestamp),
    },
  };
}

export function createEventActivities() {
  async function deliverWebhook(input: WebhookDelivery): Promise<{ status: number }> {
    if (!isWebhookSecretVariable(input.secretEnv)) {
      throw ApplicationFailure.nonRetryable(`the webhook secret variable ${input.secretEnv} is not declared for webhooks on this worker: ` +
        `name it *_WEBHOOK_SECRET, or list it in ${WEBHOOK_SECRET_VARS}`, NonRetryable.InvalidConfig);
    }
    const secret = process.env[input.secretEnv];
    if (!secret) {
      throw ApplicationFailure.nonRetryable(`the webhook secret variable ${input.secretEnv} is not set on this worker`, NonRetryable.InvalidConfig);
    }
    const { body, headers } = request(input, secret);
    const res = await fetch(input.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    if (res.status >= 300 && res.status < 400) {
      throw ApplicationFailure.nonRetryable(`webhook ${input.url} answered a redirect (HTTP ${res.status}${res.headers.get('location') ? ` to ${res.headers.get('location')}` : ''}): ` +
        'redirects are not followed, so a signed event goes only where it is configured to; configure the final URL', NonRetryable.InvalidConfig);
    }
    if (!res.ok) throw new Error(`webhook ${input.url} answered HTTP ${res.status}`);
    return { status: res.status };
  }
  return { deliverWebhook };
}
