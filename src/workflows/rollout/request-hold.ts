/**
 * Maintenance mode's request hold: while every pair is detached, the load balancer holds incoming requests instead of
 * failing them, and releases them once the pairs are back (or, in a rollback, once they are restored).
 */
import { loadBalancerActivities } from '../activity-profiles';
import type { CyclePass, RolloutContext } from './context';
import { LOAD_BALANCER_NODE } from '../../topology/names';

export class RequestHold {
  private held = false;

  constructor(private readonly ctx: RolloutContext) {}

  /** Whether the load balancer holds requests now (a run never continues as new while it does). */
  get holding(): boolean {
    return this.held;
  }

  hold(): Promise<void> {
    return this.set('holdRequests', 'deploy');
  }

  release(pass: CyclePass): Promise<void> {
    return this.set('releaseRequests', pass);
  }

  private async set(op: 'holdRequests' | 'releaseRequests', pass: CyclePass): Promise<void> {
    const hold = op === 'holdRequests';
    const r = await loadBalancerActivities.setRequestHold({ ...this.ctx.target, hold });
    this.held = hold;
    this.ctx.record.recordEffect({ node: LOAD_BALANCER_NODE, op, restore: pass === 'restore', detail: r.detail });
  }
}
