/** `stagecoach scale`: a live environment to N pairs from its release, a decision signed like every other. */
import type { EnvironmentType } from '../../shared/types';
import type { ScaleRequest } from '../../shared/messages';
import { EXIT, UsageError } from '../errors';
import { byFlag, jsonFlag, pipelineArg, type Command, type Values } from './command';
import { jsonRefusal, out, requiredFlag, str, withStagecoach } from './context';
import { KEEPER_ENVIRONMENTS, environmentArg } from './keeper';
import { signedScale } from './signed-request';

async function scale(values: Values, [pipelineId, environmentType]: string[]): Promise<number> {
  if (!KEEPER_ENVIRONMENTS.includes(environmentType as EnvironmentType)) {
    throw new UsageError(`scale: the environment is one of ${KEEPER_ENVIRONMENTS.join(', ')} (got ${environmentType})`, 'scale');
  }
  const pairs = Number(requiredFlag(values, 'pairs', 'scale', 'N'));
  if (!Number.isInteger(pairs)) throw new UsageError(`scale: --pairs must be a whole number (got ${str(values, 'pairs')})`, 'scale');
  const keyFile = str(values, 'key');
  const by = keyFile === undefined ? requiredFlag(values, 'by', 'scale', 'NAME') : str(values, 'by');
  const json = values.json === true;
  return withStagecoach('the scale was not sent', (sc) => jsonRefusal(json, async () => {
    const request = keyFile === undefined ? { by: by!, pairs } : await signedScale({ pipelineId, environmentType, args: { pairs }, by, keyFile });
    const ack = await sc.scale(pipelineId, environmentType, request as unknown as ScaleRequest);
    out(json ? JSON.stringify(ack) : `${ack.message} (\`stagecoach keeper ${pipelineId} ${environmentType}\` shows its progress)`);
    return EXIT.ok;
  }));
}

export const scaleCommand: Command = {
  name: 'scale',
  summary: 'scale a live environment to N pairs from its release (its keeper adds or drains and removes pairs)',
  details: ['Exit code 3 when the keeper refuses it, with its reason; 4 when the environment has no keeper.'],
  positionals: [pipelineArg, environmentArg],
  flags: [
    { name: 'pairs', type: 'string', value: 'N', description: 'the number of pairs wanted (1–64)', required: true },
    byFlag('who decides it (required without --key; with it, the key\'s owner)'),
    { name: 'key', type: 'string', value: 'FILE', description: 'sign it with your ed25519 key; signed pipelines need it' },
    jsonFlag,
  ],
  examples: ['./bin/stagecoach scale sample prod --pairs 3 --key .stagecoach/keys/alice', './bin/stagecoach scale sample prod --pairs 2 --by alice'],
  run: scale,
};
