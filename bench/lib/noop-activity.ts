/** The no-op activity of bench/workflows/noop.ts: what "the same call made directly" calls. */
import type { NoopActivities } from '../workflows/noop';

export const noopActivities: NoopActivities = {
  async noop({ i }) {
    return i;
  },
};
