/** What every concern of a rollout shares: its input, the activity target, its record and the idempotency keys. */
import { nodeEffectKey } from '../../shared/ids';
import type { EnvironmentConfig } from '../../shared/types';
import type { RolloutInput } from './input';
import type { RolloutRecord } from './record';

/** A rollout goes forward to the new images (`deploy`), or back to the previous ones (`restore`, in a rollback). */
export type CyclePass = 'deploy' | 'restore';

export interface RolloutContext {
  readonly input: RolloutInput;
  /** What every activity of this rollout is told: whose environment it acts on. */
  readonly target: { pipelineId: string; environment: EnvironmentConfig };
  readonly record: RolloutRecord;
  /** The idempotency key of one effect on one node: a retried activity or a restarted worker never does it twice. */
  effectKey(node: string, effect: string, pass: CyclePass): string;
}

export function rolloutContext(input: RolloutInput, record: RolloutRecord): RolloutContext {
  const { pipelineId, executionId, executionUid, environment } = input;
  return {
    input,
    target: { pipelineId, environment },
    record,
    effectKey: (node, effect, pass) => nodeEffectKey({
      pipelineId, executionId, run: executionUid, environmentType: environment.type, node, effect: pass === 'restore' ? `${effect}-restore` : effect,
    }),
  };
}
