import { StagecoachError } from '../../client/errors';
import { configuredPipeline } from '../../client/operations';
import { ClientFailure } from '../../shared/errors';
import { EXIT } from '../errors';
import { formatDateTime, table } from '../format';
import { jsonFlag, pipelineArg, type Command, type Values } from './command';
import { out, withStagecoach } from './context';

/** The executions of a pipeline, newest first: the running one, then the recent ones the pipeline keeps. */
async function list(values: Values, [pipelineId]: string[]): Promise<number> {
  const json = values.json === true;
  return withStagecoach('executions cannot be queried', async (sc) => {
    let state;
    try {
      state = await sc.pipelineState(pipelineId);
    } catch (err) {
      // A configured pipeline without executions has an empty list; an unknown one is not found.
      if (!(err instanceof StagecoachError && err.type === ClientFailure.NotFound)) throw err;
      await configuredPipeline(pipelineId);
      state = undefined;
    }
    const executions = [...(state?.executions ?? [])].reverse();
    if (state?.running && !executions.some((e) => e.id === state.running!.id)) {
      const running = await sc.executionState(pipelineId, state.running.id).catch(() => undefined);
      executions.unshift(running ? { ...state.running, status: running.status, commitId: running.commitId, artifacts: running.artifacts } : state.running);
    }
    if (json) {
      out(JSON.stringify(executions, null, 2));
      return EXIT.ok;
    }
    if (!executions.length) {
      out(`pipeline ${pipelineId} has no executions yet`);
      return EXIT.ok;
    }
    table(['id', 'status', 'trigger', 'by', 'created', 'finished', 'prod deploy', 'version', 'commit'], executions.map((e) => [
      e.id, e.status, e.trigger, e.user, formatDateTime(e.createdAt), formatDateTime(e.finishedAt), e.prodDeployStatus ?? '',
      e.artifacts?.version ?? '', e.commitId ? e.commitId.slice(0, 12) : '',
    ])).forEach((l) => out(l));
    return EXIT.ok;
  });
}

export const listCommand: Command = {
  name: 'list',
  summary: "a pipeline's executions, newest first (id, status, trigger, who, times, production deploy, version)",
  positionals: [pipelineArg],
  flags: [jsonFlag],
  examples: ['./bin/stagecoach list sample'],
  run: list,
};
