import { EXIT } from '../errors';
import { byFlag, jsonFlag, pipelineArg, type Command, type Values } from './command';
import { out, str, withStagecoach } from './context';

/** A new commit on the branch (a git hook or CI calls this): an ON_COMMIT execution when idle, else nothing. */
async function notifyCommit(values: Values, [pipelineId]: string[]): Promise<number> {
  const json = values.json === true;
  return withStagecoach('nothing was started', async (sc) => {
    const result = await sc.notifyCommit(pipelineId, str(values, 'by') ?? 'on-commit');
    if ('started' in result) {
      out(json ? JSON.stringify({ accepted: false, message: result.reason }) : `Nothing started: ${result.reason}. The next execution builds the commit.`);
      return EXIT.ok;
    }
    out(json ? JSON.stringify({ accepted: true, ...result }) : `Started execution ${result.executionId} of ${pipelineId} (ON_COMMIT)`);
    return EXIT.ok;
  });
}

export const notifyCommitCommand: Command = {
  name: 'notify-commit',
  summary: 'a new commit on the branch: start an ON_COMMIT execution if the pipeline is idle',
  positionals: [pipelineArg],
  flags: [byFlag('who tells (default: on-commit)'), jsonFlag],
  examples: ['./bin/stagecoach notify-commit sample'],
  run: notifyCommit,
};
