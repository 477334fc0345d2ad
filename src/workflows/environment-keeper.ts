/**
 * environmentKeeper: one environment's keeper, one per environment of a pipeline, started by the first deployment
 * that finishes there. A thin entry over EnvironmentKeeper (keeper/): it checks the environment's nodes once per
 * interval and heals a lost or unhealthy one from the release, pausing while a deployment of the environment runs.
 */
import { EnvironmentKeeper, type KeeperInput } from './keeper/keeper';

export async function environmentKeeper(input: KeeperInput): Promise<never> {
  const keeper = new EnvironmentKeeper(input);
  keeper.installHandlers();
  return keeper.run();
}
