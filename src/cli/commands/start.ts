import { preflight, type Stagecoach } from '../../client/operations';
import type { StartRequest } from '../../shared/messages';
import { MODES, TRIGGERS, type ExecutionMode, type Trigger } from '../../shared/types';
import { EXIT } from '../errors';
import { FOLLOW_EXIT, followExecution, followExitCode } from '../follow';
import { webUiWorkflowUrl } from '../format';
import { byFlag, jsonFlag, pipelineArg, type Command, type Values } from './command';
import { defaultUser, formatOptions, oneOf, out, str, withStagecoach } from './context';
import { signedStart } from './signed-request';

const STARTABLE_TRIGGERS = TRIGGERS.filter((t) => t !== 'RE_EXECUTE');

async function followWithInterrupt(sc: Stagecoach, pipelineId: string, executionId: string, json: boolean) {
  const onInterrupt = () => {
    process.stderr.write(`\nstopped following; execution ${executionId} goes on (\`./bin/stagecoach status ${pipelineId} ${executionId}\`)\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await followExecution(sc, pipelineId, executionId, { print: out, json });
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

async function start(values: Values, [pipelineId]: string[]): Promise<number> {
  const mode = oneOf<ExecutionMode>(str(values, 'mode'), MODES, 'mode', 'start');
  const trigger = oneOf<Trigger>(str(values, 'trigger'), STARTABLE_TRIGGERS, 'trigger', 'start');
  const keyFile = str(values, 'key');
  const by = str(values, 'by');
  const json = values.json === true;
  const follow = values.follow === true;
  // Before connecting: a typo starts nothing and needs no server (and the pipeline file is read once).
  const checked = await preflight(pipelineId);
  return withStagecoach('nothing was started', async (sc) => {
    const args = { ...(mode ? { mode } : {}), ...(trigger ? { trigger } : {}) };
    const request: StartRequest = keyFile === undefined ? { by: by ?? defaultUser(), ...args } : await signedStart(sc, { pipelineId, args, by, keyFile });
    const result = await sc.startExecution(pipelineId, request, { preflight: checked });
    const webUi = webUiWorkflowUrl(result.workflowId, formatOptions());
    if (json) {
      out(JSON.stringify({ ...result, webUi }));
    } else {
      out(`Started execution ${result.executionId} of pipeline ${pipelineId} (by ${request.by}, ${trigger ?? 'MANUAL'}, ${mode ?? 'NORMAL'})`);
      out(`  workflow  ${result.workflowId}`);
      out(`  Web UI    ${webUi}`);
      if (!follow) out(`  status    ./bin/stagecoach status ${pipelineId} ${result.executionId}`);
    }
    if (!follow) return EXIT.ok;
    return followExitCode(await followWithInterrupt(sc, pipelineId, result.executionId, json));
  });
}

export const startCommand: Command = {
  name: 'start',
  summary: 'start an execution of a pipeline (--follow: print its steps until it ends or waits)',
  details: [
    'Checks the pipeline\'s configuration first: a mistake there starts nothing.',
    `With --follow: one line per step change ("step n of N", its duration when it ends); at a wait, the commands that`,
    `move it on. Exit code then: ${FOLLOW_EXIT.finished} finished, ${FOLLOW_EXIT.ended} ended otherwise (failed, cancelled), ` +
      `${FOLLOW_EXIT.waiting} waiting for a person (approval, schedule, override).`,
  ],
  positionals: [pipelineArg],
  flags: [
    byFlag('who starts it (default: $USER; with --key, the key\'s owner)'),
    { name: 'key', type: 'string', value: 'FILE', description: 'sign the start with your ed25519 key: EMERGENCY mode needs it in a signed pipeline' },
    { name: 'mode', type: 'string', value: MODES.join('|'), description: 'EMERGENCY skips the stage tests and the audit (default NORMAL)' },
    { name: 'trigger', type: 'string', value: STARTABLE_TRIGGERS.join('|'), description: 'why it runs (default MANUAL)' },
    { name: 'follow', type: 'boolean', description: 'print step changes until the execution ends or waits' },
    jsonFlag,
  ],
  examples: ['./bin/stagecoach start sample --follow', './bin/stagecoach start sample --by carol --mode EMERGENCY --json'],
  run: start,
};
