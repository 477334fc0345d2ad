/**
 * `stagecoach sign <action> <pipeline> <execution> --key ~/.ssh/id_ed25519`: signs a decision and prints the message
 * to send, for the Temporal Web UI's "Send a Signal" or `temporal workflow signal --input`. Needs no server: the key
 * never leaves this machine, and the execution checks the proof when the message arrives.
 */
import { signDecision, signedMessage, signerForKeyFile } from '../../client/identity';
import { executionWorkflowId } from '../../shared/ids';
import { EXECUTION_ACTIONS, type ExecutionAction } from '../../shared/messages';
import type { DecisionArgs } from '../../shared/identity';
import { EXIT, UsageError } from '../errors';
import { expandHome } from './signed-request';

type Values = Record<string, string | boolean | undefined>;

/** The step each action answers when `--step` is not given; override names its gate, a cancel may name none. */
const DEFAULT_STEP: Partial<Record<ExecutionAction, string>> = { approve: 'approval', reject: 'approval', schedule: 'schedule' };

export interface SignRequest {
  action: ExecutionAction;
  pipeline: string;
  execution: string;
  /** The waiting step's id (approval, managed, schedule, codeQuality, securityTest, performanceTest). */
  step?: string;
  by: string;
  args: DecisionArgs;
  /** A private key file, or the .pub file of a key held by ssh-agent. */
  keyFile: string;
}

export interface SignedSignal {
  /** The signal's (or update's) input: the request's fields, `by` and the proof. */
  input: Record<string, unknown>;
  workflowId: string;
  /** The same, as a `temporal workflow signal` command line. */
  temporalCommand: string;
}

export async function signForSignal(request: SignRequest): Promise<SignedSignal> {
  const signer = await signerForKeyFile(request.keyFile);
  const proof = await signDecision(signer, {
    pipeline: request.pipeline, execution: request.execution, ...(request.step ? { step: request.step } : {}),
    action: request.action, args: request.args, by: request.by,
  });
  const input = signedMessage(proof);
  const workflowId = executionWorkflowId(request.pipeline, request.execution);
  const quoted = `'${JSON.stringify(input).replace(/'/g, `'\\''`)}'`;
  return { input, workflowId, temporalCommand: `temporal workflow signal --workflow-id ${workflowId} --name ${request.action} --input ${quoted}` };
}

const str = (values: Values, name: string) => (typeof values[name] === 'string' ? values[name] as string : undefined);

/** The decision's arguments from the flags, as the action's own command takes them. */
export function decisionArgs(action: ExecutionAction, values: Values): DecisionArgs {
  const usage = (message: string) => new UsageError(`sign ${action}: ${message}`, 'sign');
  switch (action) {
    case 'approve':
      return str(values, 'comment') !== undefined ? { comment: str(values, 'comment')! } : {};
    case 'reject':
    case 'cancel':
      return str(values, 'reason') !== undefined ? { reason: str(values, 'reason')! } : {};
    case 'schedule': {
      const at = str(values, 'at');
      if ((at === undefined) === (values.now !== true)) throw usage('give exactly one of --at ISO-TIME or --now');
      if (at === undefined) return { now: true };
      if (Number.isNaN(Date.parse(at))) throw usage(`--at must be an ISO 8601 time such as 2030-01-31T22:00:00Z (got ${at})`);
      return { at: new Date(Date.parse(at)).toISOString() };
    }
    case 'override': {
      const metrics = (str(values, 'metrics') ?? '').split(',').map((m) => m.trim()).filter(Boolean);
      if (!metrics.length) throw usage('--metrics a,b (every failing important metric) is required');
      return { metrics };
    }
  }
}

/** The command's run: positionals `<action> <pipeline> <execution>`; prints the signal input (or the command line). */
export async function runSign(values: Values, [action, pipeline, execution]: string[]): Promise<number> {
  if (!(EXECUTION_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`sign: <action> must be one of ${EXECUTION_ACTIONS.join(', ')} (got ${action})`, 'sign');
  }
  const verb = action as ExecutionAction;
  const step = str(values, 'step') ?? DEFAULT_STEP[verb];
  if (verb === 'override' && !step) throw new UsageError('sign override: --step codeQuality|securityTest|performanceTest (the waiting gate) is required', 'sign');
  const by = str(values, 'by') ?? process.env.USER;
  if (!by?.trim()) throw new UsageError('sign: --by NAME (your name in the pipeline\'s people) is required', 'sign');
  const signed = await signForSignal({
    action: verb, pipeline, execution, step, by, args: decisionArgs(verb, values),
    keyFile: expandHome(str(values, 'key') ?? '~/.ssh/id_ed25519'),
  });
  process.stdout.write(`${values.temporal === true ? signed.temporalCommand : JSON.stringify(signed.input)}\n`);
  return EXIT.ok;
}

/** Its entry in the command table (the shape of src/cli/commands/command.ts's Command). */
export const signCommand = {
  name: 'sign',
  summary: 'sign a decision with your SSH key and print the signal input for the Web UI or `temporal workflow signal`',
  details: [
    'The execution verifies the proof itself: the key must be yours in the pipeline\'s people, and the decision',
    'is valid once, for this execution and step, for the pipeline\'s decisionMaxAge (1 hour by default).',
    'A passphrase-protected key, or a .pub file whose key is in ssh-agent, is signed with by ssh-keygen.',
  ],
  positionals: [
    { name: 'action', description: `what you decide: ${EXECUTION_ACTIONS.join(', ')}` },
    { name: 'pipeline', description: 'the pipeline id' },
    { name: 'execution', description: 'the execution number' },
  ],
  flags: [
    { name: 'key', type: 'string' as const, value: 'FILE', description: 'your ed25519 key (default ~/.ssh/id_ed25519), or its .pub with the key in ssh-agent' },
    { name: 'by', type: 'string' as const, value: 'NAME', description: 'your name in the pipeline\'s people (default $USER)' },
    { name: 'step', type: 'string' as const, value: 'STEP', description: 'the waiting step (default: approval for approve/reject, schedule; none for cancel)' },
    { name: 'comment', type: 'string' as const, value: 'TEXT', description: 'approve: kept in the audit log' },
    { name: 'reason', type: 'string' as const, value: 'TEXT', description: 'reject, cancel: kept in the audit log' },
    { name: 'at', type: 'string' as const, value: 'ISO-TIME', description: 'schedule: when' },
    { name: 'now', type: 'boolean' as const, description: 'schedule: at once' },
    { name: 'metrics', type: 'string' as const, value: 'a,b', description: 'override: every failing important metric' },
    { name: 'temporal', type: 'boolean' as const, description: 'print a whole `temporal workflow signal` command line instead' },
  ],
  examples: ['./bin/stagecoach sign approve sample 12 --key ~/.ssh/id_ed25519 --by alice'],
  run: runSign,
};
