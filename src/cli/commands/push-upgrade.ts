import { EXIT } from '../errors';
import { byFlag, jsonFlag, pipelineArg, type Command, type Values } from './command';
import { out, requiredFlag, withStagecoach } from './context';

/** A platform update: the commit in Production rebuilt on the updated base image and rolled out (PUSH_UPGRADES). */
async function pushUpgrade(values: Values, [pipelineId]: string[]): Promise<number> {
  const by = requiredFlag(values, 'by', 'push-upgrade', 'NAME');
  const json = values.json === true;
  return withStagecoach('nothing was started', async (sc) => {
    const result = await sc.startExecution(pipelineId, { by, trigger: 'PUSH_UPGRADES' });
    out(json ? JSON.stringify({ accepted: true, ...result })
      : `Started push update ${result.executionId} of ${pipelineId}: the last execution's commit, rebuilt on the current base image`);
    return EXIT.ok;
  });
}

export const pushUpgradeCommand: Command = {
  name: 'push-upgrade',
  summary: "rebuild the last execution's commit on the updated base image and roll it out (PUSH_UPGRADES)",
  positionals: [pipelineArg],
  flags: [byFlag('who starts it', { required: true }), jsonFlag],
  examples: ['./bin/stagecoach push-upgrade sample --by alice'],
  run: pushUpgrade,
};
