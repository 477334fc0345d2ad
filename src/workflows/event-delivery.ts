/**
 * eventDelivery: delivers one execution's events to its webhooks, in order, each with retries. It runs beside the
 * execution (started by it, never awaited), so a slow or dead receiver never holds the pipeline up; an event that
 * still fails after its retries is recorded and skipped.
 */
import { condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { NonRetryable } from '../shared/errors';
import type { CloudEvent } from '../shared/events';
import { closeEventsSignal, deliverEventsSignal, eventDeliveryStateQuery, type EventDeliveryState } from '../shared/messages';
import type { WebhookConfig } from '../shared/types';

const { deliverWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  heartbeatTimeout: '10 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 8, nonRetryableErrorTypes: [NonRetryable.InvalidConfig] },
});

export interface EventDeliveryInput {
  webhooks: WebhookConfig[];
  /** Carried over by continue-as-new: what each webhook still has to receive. */
  queues?: CloudEvent[][];
  closed?: boolean;
  state?: EventDeliveryState;
}

/** One ordered queue per webhook: a receiver that is down delays only its own events. */
export async function eventDelivery(input: EventDeliveryInput): Promise<EventDeliveryState> {
  const queues: CloudEvent[][] = input.queues ?? input.webhooks.map(() => []);
  const state: EventDeliveryState = input.state ?? { delivered: 0, pending: 0, failed: [] };
  let closed = input.closed ?? false;
  let tooLong = false;
  setHandler(deliverEventsSignal, ({ events }) => {
    input.webhooks.forEach((hook, i) => queues[i].push(...events.filter((e) => !hook.events || hook.events.includes(e.kind))));
  });
  setHandler(closeEventsSignal, () => { closed = true; });
  setHandler(eventDeliveryStateQuery, () => ({ ...state, pending: queues.reduce((n, q) => n + q.length, 0) }));

  async function drain(hook: WebhookConfig, queue: CloudEvent[]): Promise<void> {
    for (;;) {
      await condition(() => queue.length > 0 || closed || tooLong);
      if (queue.length === 0 || tooLong) return;
      const event = queue[0];
      try {
        await deliverWebhook({ url: hook.url, secretEnv: hook.secretEnv, event, ...(hook.format ? { format: hook.format } : {}) });
        state.delivered += 1;
      } catch (err) {
        const cause = (err as { cause?: Error }).cause;
        state.failed.push({ id: event.id, url: hook.url, error: cause?.message ?? String(err) });
        if (state.failed.length > 50) state.failed.shift();
      }
      queue.shift();
      if (workflowInfo().historyLength > 5000) tooLong = true;
    }
  }

  await Promise.all(input.webhooks.map((hook, i) => drain(hook, queues[i])));
  if (tooLong) return continueAsNew<typeof eventDelivery>({ webhooks: input.webhooks, queues, closed, state });
  return state;
}
