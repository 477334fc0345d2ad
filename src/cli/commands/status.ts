import { executionWorkflowId } from '../../shared/ids';
import { EXIT } from '../errors';
import { executionStateLines, pipelineStateLines } from '../format';
import { executionArg, jsonFlag, pipelineArg, type Command, type Values } from './command';
import { formatOptions, out, withStagecoach } from './context';

async function status(values: Values, [pipelineId, executionId]: string[]): Promise<number> {
  const json = values.json === true;
  return withStagecoach('executions cannot be queried', async (sc) => {
    if (executionId === undefined) {
      const state = await sc.pipelineState(pipelineId);
      if (json) out(JSON.stringify(state, null, 2));
      else pipelineStateLines(state, formatOptions()).forEach((l) => out(l));
      return EXIT.ok;
    }
    const state = await sc.executionState(pipelineId, executionId);
    if (json) out(JSON.stringify(state, null, 2));
    else executionStateLines(state, executionWorkflowId(pipelineId, executionId), Date.now(), formatOptions()).forEach((l) => out(l));
    return EXIT.ok;
  });
}

export const statusCommand: Command = {
  name: 'status',
  summary: "a pipeline's running and recent executions, or one execution's steps, waits and audit log",
  positionals: [pipelineArg, { ...executionArg, optional: true }],
  flags: [jsonFlag],
  examples: ['./bin/stagecoach status sample', './bin/stagecoach status sample 3 --json'],
  run: status,
};
