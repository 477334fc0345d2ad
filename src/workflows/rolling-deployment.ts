/**
 * rollingDeployment: one environment's rollout, a child of the execution. A thin entry over Rollout (rollout/): it
 * runs the plan of rollout-plan.ts with the app's hooks, reports every phase change to its parent, and restores every
 * node it touched when it does not finish.
 */
import { Rollout } from './rollout/rollout';
import type { RolloutInput } from './rollout/input';
import type { RolloutResult } from '../shared/types';

export async function rollingDeployment(input: RolloutInput): Promise<RolloutResult> {
  const rollout = new Rollout(input);
  rollout.installHandlers();
  return rollout.run();
}
