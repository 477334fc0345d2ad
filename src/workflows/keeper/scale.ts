/**
 * Scaling a live environment from its release: `scale` to N pairs adds pairs one at a time (a load balancer server
 * for it, out of traffic, then the node cycle from the release's images up to HAProxy reporting it UP), or removes the
 * highest pairs one at a time (drained first, then its server and containers removed). The request is a decision,
 * proven like every other (the release carries the pipeline's trust); its rules are pure and here.
 */
import { ApplicationFailure } from '@temporalio/workflow';
import { Refusal } from '../../shared/errors';
import { SCALE_ROLES, scaleDecisionTarget, type KeeperRelease } from '../../shared/keeper';
import type { ScaleRequest } from '../../shared/messages';
import { dispatcherNodeName, pairName, publishNodeName } from '../../topology/names';
import { containerActivities } from '../activity-profiles';
import { checkDecisionProof, type ProofCheck } from '../execution/decision-proof';
import { healCycle, DETACH_STEPS, REPLACE_STEPS } from './heal';

/** Most pairs an environment may have (as its configuration allows). */
const MAX_PAIRS = 64;

const refuse = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/** Bad input, refused before it reaches the history (the update's validator): a number of pairs and who asks. */
export function checkScaleShape(request: ScaleRequest): void {
  const { pairs } = request;
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > MAX_PAIRS) throw refuse(Refusal.InvalidRequest, `pairs must be a whole number from 1 to ${MAX_PAIRS} (got ${String(pairs)})`);
  if (typeof request.by !== 'string' || !request.by.trim()) throw refuse(Refusal.InvalidRequest, 'scale needs --by: who decides it');
}

/**
 * Throws the typed refusal of a scale request, or answers who proved it. `busy` says why the keeper cannot scale
 * now (a deployment, a heal or another scale), if it cannot.
 */
export function checkScaleRequest(
  request: ScaleRequest, ctx: { pipelineId: string; environmentType: string; release?: KeeperRelease; busy?: string; seenProofIds: ReadonlySet<string>; nowMs: number },
): Extract<ProofCheck, { accepted: true }> {
  const { pairs } = request;
  checkScaleShape(request);
  if (!ctx.release) throw refuse(Refusal.NotAllowedNow, 'the environment has no release yet: a deployment must finish first');
  if (ctx.busy) throw refuse(Refusal.NotAllowedNow, `not now: ${ctx.busy}`);
  if (pairs === ctx.release.environment.pairs) throw refuse(Refusal.InvalidRequest, `${ctx.release.environment.name} has ${pairs} pair(s) already`);
  const proven = checkDecisionProof({
    pipeline: ctx.pipelineId, execution: scaleDecisionTarget(ctx.environmentType), action: 'scale', step: ctx.environmentType,
    request: request as unknown as Record<string, unknown>,
  }, ctx.release.trust, ctx.seenProofIds, ctx.nowMs);
  if (!proven.accepted) throw refuse(Refusal.Forbidden, proven.reason);
  const problem = scaleRoleProblem(proven, ctx.release);
  if (problem) throw refuse(Refusal.Forbidden, problem);
  return proven;
}


function scaleRoleProblem(proven: Extract<ProofCheck, { accepted: true }>, release: KeeperRelease): string | undefined {
  const people = release.trust?.people ?? [];
  if (people.length === 0 && proven.trustModel === 'declared') return undefined;
  if (proven.roles.some((r) => (SCALE_ROLES as readonly string[]).includes(r))) return undefined;
  const holders = people.filter((p) => p.roles.some((r) => (SCALE_ROLES as readonly string[]).includes(r))).map((p) => p.name);
  return `${proven.person} may not scale ${release.environment.name}: it needs ${SCALE_ROLES.join(' or ')}` +
    (holders.length ? ` (held by ${holders.join(', ')})` : ' (nobody in the pipeline\'s people holds one)');
}

/**
 * Brings the release's environment to `pairs`, one pair at a time; `release.environment.pairs` follows each pair
 * added or removed, so a failure midway leaves the keeper knowing what is there. Answers what it did, in words.
 */
export async function scaleTo(pipelineId: string, release: KeeperRelease, pairs: number, keyRun: string): Promise<string[]> {
  const done: string[] = [];
  while (release.environment.pairs < pairs) {
    const pair = release.environment.pairs + 1;
    const environment = { ...release.environment, pairs: pair };
    await containerActivities.addPair({ pipelineId, environment, pair });
    const { cycle, node } = healCycle(pipelineId, { ...release, environment }, pairName(pair), `${keyRun}-add-${pair}`);
    // A new server starts out of traffic: only the replacement half of the cycle, up to HAProxy reporting it UP.
    await cycle.deploy(node, REPLACE_STEPS, { completesCycle: true });
    release.environment = environment;
    done.push(`added ${pairName(pair)}`);
  }
  while (release.environment.pairs > pairs) {
    const pair = release.environment.pairs;
    const { cycle, node } = healCycle(pipelineId, release, pairName(pair), `${keyRun}-remove-${pair}`);
    await cycle.deploy(node, DETACH_STEPS, { completesCycle: false });
    await containerActivities.removePair({ pipelineId, environment: release.environment, pair });
    await containerActivities.retireNodeContainers({ pipelineId, environment: release.environment, nodes: [publishNodeName(pair), dispatcherNodeName(pair)] });
    release.environment = { ...release.environment, pairs: pair - 1 };
    done.push(`removed ${pairName(pair)}`);
  }
  return done;
}
