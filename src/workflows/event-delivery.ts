/**
 * eventDelivery: delivers one execution's events to its webhooks, in order, each with retries. It runs beside the
 * execution (started by it, never awaited), so a slow or dead receiver never holds the pipeline up; an event that
 * still fails after its retries is recorded and skipped.
 */
import { condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { CloudEvent } from '../shared/events';
import { closeEventsSignal, deliverEventsSignal, eventDeliveryStateQuery, type EventDeliveryState } from '../shared/messages';
import type { WebhookConfig } from '../shared/types';

const { deliverWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 8, nonRetryableErrorTypes: ['InvalidConfig'] },
});

export interface EventDeliveryInput {
  webhooks: WebhookConfig[];
  /** Carried over by continue-as-new. */
  queue?: CloudEvent[];
  closed?: boolean;
  state?: EventDeliveryState;
}

export async function eventDelivery(input: EventDeliveryInput): Promise<EventDeliveryState> {
  const queue: CloudEvent[] = input.queue ?? [];
  const state: EventDeliveryState = input.state ?? { delivered: 0, pending: 0, failed: [] };
  let closed = input.closed ?? false;
  setHandler(deliverEventsSignal, ({ events }) => { queue.push(...events); });
  setHandler(closeEventsSignal, () => { closed = true; });
  setHandler(eventDeliveryStateQuery, () => ({ ...state, pending: queue.length }));

  for (;;) {
    await condition(() => queue.length > 0 || closed);
    if (queue.length === 0) return state;
    const event = queue.shift()!;
    for (const hook of input.webhooks.filter((w) => !w.events || w.events.includes(event.kind))) {
      try {
        await deliverWebhook({ url: hook.url, secretEnv: hook.secretEnv, event });
        state.delivered += 1;
      } catch (err) {
        state.failed.push({ id: event.id, url: hook.url, error: (err as Error).cause ? String((err as { cause: Error }).cause.message) : String(err) });
        if (state.failed.length > 50) state.failed.shift();
      }
    }
    if (workflowInfo().historyLength > 5000) {
      await continueAsNew<typeof eventDelivery>({ webhooks: input.webhooks, queue, closed, state });
    }
  }
}
