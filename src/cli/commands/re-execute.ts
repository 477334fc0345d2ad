import { EXIT, UsageError } from '../errors';
import { webUiWorkflowUrl } from '../format';
import { byFlag, jsonFlag, pipelineArg, type Command, type Values } from './command';
import { formatOptions, jsonRefusal, out, requiredFlag, str, withStagecoach } from './context';

/** Re-executes the production deployment of the pipeline's last execution; exit 3 with the reason when refused. */
async function reExecute(values: Values, [pipelineId]: string[]): Promise<number> {
  const by = requiredFlag(values, 'by', 're-execute', 'NAME');
  const executionId = str(values, 'execution');
  if (executionId !== undefined && !/^\d+$/.test(executionId)) throw new UsageError(`re-execute: --execution must be an execution number (got ${executionId})`, 're-execute');
  const json = values.json === true;
  return withStagecoach('nothing was re-executed', (sc) => jsonRefusal(json, async () => {
    const result = await sc.reExecute(pipelineId, { by, ...(executionId ? { executionId } : {}) });
    const webUi = webUiWorkflowUrl(result.workflowId, formatOptions());
    if (json) {
      out(JSON.stringify({ accepted: true, ...result, webUi }));
    } else {
      out(`Re-executing the production deployment of pipeline ${pipelineId}: execution ${result.executionId} (RE_EXECUTE, by ${by})`);
      out(`  workflow  ${result.workflowId}`);
      out(`  Web UI    ${webUi}`);
      out(`  status    ./bin/stagecoach status ${pipelineId} ${result.executionId}`);
    }
    return EXIT.ok;
  }));
}

export const reExecuteCommand: Command = {
  name: 're-execute',
  summary: "deploy the last execution's images to Production again (same images and configuration, no rebuild)",
  details: ['Exit code 3 when refused (e.g. the pipeline is busy, or that execution never deployed to Production).'],
  positionals: [pipelineArg],
  flags: [
    byFlag('who re-executes', { required: true }),
    { name: 'execution', type: 'string', value: 'N', description: 'the execution whose deployment to repeat (default: the last one)' },
    jsonFlag,
  ],
  examples: ['./bin/stagecoach re-execute sample --by alice'],
  run: reExecute,
};
