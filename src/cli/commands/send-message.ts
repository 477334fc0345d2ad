/** What approve, reject, schedule, override and cancel share: `--by`, the request sent as an update, the answer. */
import type { ExecutionAction } from '../../shared/messages';
import { EXIT } from '../errors';
import { byFlag, executionArg, jsonFlag, pipelineArg, type Command, type Flag, type Values } from './command';
import { jsonRefusal, out, requiredFlag, withStagecoach } from './context';

export interface MessageVerb {
  action: ExecutionAction;
  summary: string;
  details?: string[];
  /** Flags besides --by and --json. */
  flags: Flag[];
  examples: string[];
  /** The request's own fields, from the flags (it throws a UsageError naming a wrong flag). */
  request(values: Values): Record<string, unknown>;
}

export function messageCommand(verb: MessageVerb): Command {
  const { action } = verb;
  return {
    name: action,
    summary: verb.summary,
    details: [...(verb.details ?? []), 'Exit code 3 when the execution refuses it, with its reason.'],
    positionals: [pipelineArg, executionArg],
    flags: [byFlag(`who sends the ${action}; the pipeline's rules say who may`, { required: true }), ...verb.flags, jsonFlag],
    examples: verb.examples,
    run: async (values, [pipelineId, executionId]) => {
      const request = { by: requiredFlag(values, 'by', action, 'NAME'), ...verb.request(values) };
      const json = values.json === true;
      return withStagecoach(`the ${action} was not sent`, (sc) => jsonRefusal(json, async () => {
        const ack = await sc.send(pipelineId, executionId, action, request);
        out(json ? JSON.stringify({ accepted: ack.accepted, message: ack.message }) : ack.message);
        return EXIT.ok;
      }));
    },
  };
}

export const reasonFlag: Flag = { name: 'reason', type: 'string', value: 'TEXT', description: 'kept in the audit log and as the execution\'s reason' };

/** `{ [name]: value }` when the flag was given, else nothing. */
export function optionalText(values: Values, name: string): Record<string, string> {
  const value = values[name];
  return typeof value === 'string' ? { [name]: value } : {};
}
