/**
 * Webhooks: POSTs one CloudEvent to a receiver, signed with HMAC-SHA256 of the exact body
 * (header `X-Stagecoach-Signature: sha256=<hex>`). The secret is read from the worker's environment, so it never
 * enters workflow history. A failure throws, and the activity's retry policy tries again.
 */
import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { CloudEvent } from '../shared/events';
import { NonRetryable } from '../shared/errors';

export const SIGNATURE_HEADER = 'X-Stagecoach-Signature';

export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function createEventActivities() {
  async function deliverWebhook(input: { url: string; secretEnv: string; event: CloudEvent }): Promise<{ status: number }> {
    const secret = process.env[input.secretEnv];
    if (!secret) {
      throw ApplicationFailure.nonRetryable(`the webhook secret variable ${input.secretEnv} is not set on this worker`, NonRetryable.InvalidConfig);
    }
    const body = JSON.stringify(input.event);
    const res = await fetch(input.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/cloudevents+json', [SIGNATURE_HEADER]: signBody(secret, body), 'ce-id': input.event.id },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`webhook ${input.url} answered HTTP ${res.status}`);
    return { status: res.status };
  }
  return { deliverWebhook };
}
