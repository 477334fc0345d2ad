/**
 * What approve, reject, schedule, override and cancel share: `--by` (or `--key`, signing the decision with the user's
 * SSH key, as a pipeline with `identity: signed` requires), the request sent as an update, the answer.
 */
import { StagecoachError } from '../../client/errors';
import type { ExecutionAction } from '../../shared/messages';
import { EXIT } from '../errors';
import { byFlag, executionArg, jsonFlag, pipelineArg, type Command, type Flag, type Values } from './command';
import type { DecisionArgs } from '../../shared/identity';
import { jsonRefusal, out, requiredFlag, str, withStagecoach } from './context';
import { signedRequest } from './signed-request';

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
    flags: [
      byFlag(`who sends the ${action}; the pipeline's rules say who may (required without --key; with it, the key's owner)`),
      { name: 'key', type: 'string', value: 'FILE', description: 'sign it with your ed25519 key (or its .pub, the key in ssh-agent); signed pipelines need it' },
      ...verb.flags, jsonFlag,
    ],
    examples: verb.examples,
    run: async (values, [pipelineId, executionId]) => {
      const keyFile = str(values, 'key');
      const by = keyFile === undefined ? requiredFlag(values, 'by', action, 'NAME') : str(values, 'by');
      const args = verb.request(values);
      const json = values.json === true;
      return withStagecoach(`the ${action} was not sent`, (sc) => jsonRefusal(json, async () => {
        const request = keyFile === undefined
          ? { by, ...args }
          : await signedRequest(sc, { pipelineId, executionId, action, args: args as DecisionArgs, by, keyFile });
        const ack = await sc.send(pipelineId, executionId, action, request).catch((err: unknown) => {
          throw keyFile === undefined ? withKeyHint(err, `./bin/stagecoach ${action} ${pipelineId} ${executionId} --key ~/.ssh/id_ed25519`) : err;
        });
        out(json ? JSON.stringify({ accepted: ack.accepted, message: ack.message }) : ack.message);
        return EXIT.ok;
      }));
    },
  };
}

/** An unsigned decision refused by a signed pipeline: say how to sign it with this very command. */
function withKeyHint(err: unknown, signed: string): unknown {
  if (!(err instanceof StagecoachError) || !/ is unsigned: /.test(err.message)) return err;
  return new StagecoachError(err.type, `${err.message}\nwith this command: ${signed}`);
}

export const reasonFlag: Flag = { name: 'reason', type: 'string', value: 'TEXT', description: 'kept in the audit log and as the execution\'s reason' };

/** `{ [name]: value }` when the flag was given, else nothing. */
export function optionalText(values: Values, name: string): Record<string, string> {
  const value = values[name];
  return typeof value === 'string' ? { [name]: value } : {};
}
