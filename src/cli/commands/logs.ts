import fs from 'node:fs/promises';
import { artifactRefs } from '../../client/artifact-refs';
import { artifactFile, artifactsDir } from '../../config/paths';
import { EXIT, UsageError } from '../errors';
import { executionArg, pipelineArg, type Command, type Values } from './command';
import { out, str, withStagecoach } from './context';

async function logs(values: Values, [pipelineId, executionId]: string[]): Promise<number> {
  const stepAction = str(values, 'step');
  return withStagecoach('executions cannot be queried', async (sc) => {
    const state = await sc.executionState(pipelineId, executionId);
    if (stepAction !== undefined && !state.steps.some((s) => s.action === stepAction || s.stepId === stepAction)) {
      const actions = [...new Set(state.steps.map((s) => s.action))];
      throw new UsageError(`logs: execution ${executionId} has no step "${stepAction}" (steps: ${actions.join(', ')})`, 'logs');
    }
    const refs = artifactRefs(state, stepAction);
    if (!refs.length) {
      out(`no logs or reports recorded for execution ${executionId}${stepAction ? ` at step ${stepAction}` : ''} yet`);
      return EXIT.ok;
    }
    const root = artifactsDir();
    for (const a of refs) {
      const file = artifactFile(root, a.ref);
      out(`==> ${a.name}${a.step ? ` (step ${a.step})` : ''}: ${file ?? a.ref} <==`);
      if (!file) {
        out('(reference outside the artifact store; not shown)');
        continue;
      }
      try {
        const text = await fs.readFile(file, 'utf8');
        process.stdout.write(text.endsWith('\n') || !text ? text : `${text}\n`);
      } catch (err) {
        out(`(not readable here: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; ` +
          'the artifact store is STAGECOACH_ARTIFACTS_DIR or <state dir>/artifacts of the worker)');
      }
      out();
    }
    return EXIT.ok;
  });
}

export const logsCommand: Command = {
  name: 'logs',
  summary: "print an execution's build logs and reports from the artifact store",
  details: ['Reads the artifact store on this machine: STAGECOACH_ARTIFACTS_DIR, else <state dir>/artifacts.'],
  positionals: [pipelineArg, executionArg],
  flags: [{ name: 'step', type: 'string', value: 'ACTION', description: 'only that step\'s logs and reports (e.g. build, contentAudit)' }],
  examples: ['./bin/stagecoach logs sample 3 --step contentAudit'],
  run: logs,
};
