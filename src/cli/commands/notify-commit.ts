import { EXIT } from '../errors';
import { jsonFlag, pipelineArg, type Command, type Values } from './command';
import { out, withStagecoach } from './context';

/**
 * A new commit on the branch (a git hook or CI calls this): an ON_COMMIT execution when idle, else nothing. It names
 * nobody: the execution's starter is the commit's author, found from the commit itself.
 */
async function notifyCommit(values: Values, [pipelineId]: string[]): Promise<number> {
  const json = values.json === true;
  return withStagecoach('nothing was started', async (sc) => {
    const result = await sc.notifyCommit(pipelineId);
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
  details: ['The starter is the commit\'s author (the person configured with its author email, or "unknown author <email>"), who then may not approve it.'],
  flags: [jsonFlag],
  examples: ['./bin/stagecoach notify-commit sample'],
  run: notifyCommit,
};
