/**
 * The environment keeper over HTTP (docs/keeper.md): its state (each node's condition, the last heal, the heal
 * budget, its log) and a scale, signed for the user the API authenticated as every decision is. Registered by
 * src/api/server.ts beside the execution routes; the keeper's own update applies the pipeline's rules (who may
 * scale, not during a deployment, a heal or another scale) and logs a refusal with its reason.
 */
import type { FastifyReply } from 'fastify';
import type { Stagecoach } from '../client/operations';
import { PIPELINE_ID_PATTERN } from '../shared/ids';
import { scaleDecisionTarget, type KeeperState } from '../shared/keeper';
import type { ScaleRequest } from '../shared/messages';
import { PROBLEM_RESPONSES } from './openapi';
import { fromError, problem } from './problems';
import { signedFor, type ApiSigner } from './identity-signing';
import type { Req, Route } from './server';

const KEEPER = '/api/program/:programId/pipeline/:pipelineId/keeper/:environmentType';
const ENVIRONMENT_TYPES = ['stage', 'prod'] as const;

export interface KeeperRouteContext {
  sc: Stagecoach;
  identitySigner?: ApiSigner;
  /** 503 at once when no worker polls: an update would wait forever. */
  requireWorker(what: string): Promise<void>;
}

/** The keeper's state with HAL links to itself and (for a keeper that can scale now) to its scale. */
function representation(req: Req, state: KeeperState): KeeperState & { _links: Record<string, { href: string; templated: boolean }> } {
  const self = `/api/program/${req.params.programId}/pipeline/${state.pipelineId}/keeper/${state.environmentType}`;
  const canScale = state.status === 'WATCHING' && state.release !== undefined;
  return {
    ...state,
    _links: { self: { href: self, templated: false }, ...(canScale ? { scale: { href: `${self}/scale`, templated: false } } : {}) },
  };
}

function target(req: Req): { pipelineId: string; environmentType: string } {
  const { pipelineId } = req.params;
  const environmentType = req.params.environmentType ?? '';
  if (!PIPELINE_ID_PATTERN.test(pipelineId)) throw problem.notFound(`unknown pipeline "${pipelineId}"`);
  if (!(ENVIRONMENT_TYPES as readonly string[]).includes(environmentType)) {
    throw problem.notFound(`an environment's keeper is at stage or prod, not "${environmentType}"`);
  }
  return { pipelineId, environmentType };
}

/** `{"pairs": N}`, a whole number; anything else is a 400 before the keeper is asked. */
function pairsOf(body: unknown): number {
  const pairs = (body as { pairs?: unknown } | undefined)?.pairs;
  if (typeof pairs !== 'number' || !Number.isInteger(pairs)) {
    throw problem.badRequest(`the body is {"pairs": N}, N the number of pairs wanted, a whole number from 1 to 64 (got ${JSON.stringify(body ?? null)})`);
  }
  return pairs;
}

export function keeperRoutes(ctx: KeeperRouteContext): Route[] {
  return [
    {
      method: 'GET', url: KEEPER, operationId: 'getKeeper', permission: 'read',
      summary: "An environment keeper's state",
      description: 'Its status, the release it keeps, each node\'s condition, the last heal, the heal budget left and its log ' +
        '(every heal, scale and refused scale with its reason). 404 when the environment has no keeper.',
      responses: {
        200: { description: 'The keeper\'s state', schema: { $ref: '#/components/schemas/Keeper' } },
        401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404], 503: PROBLEM_RESPONSES[503],
      },
      handler: async (req) => {
        const { pipelineId, environmentType } = target(req);
        const state = await ctx.sc.keeperState(pipelineId, environmentType).catch((err: unknown) => { throw fromError(err); });
        return representation(req, state);
      },
    },
    {
      method: 'PUT', url: `${KEEPER}/scale`, operationId: 'scaleEnvironment', permission: 'scale',
      summary: 'Scale a live environment to N pairs from its release',
      description: 'The keeper adds pairs from the release\'s images (each through the replacement half of the rollout\'s cycle, ' +
        'attached once UP) or drains and removes them, one at a time. The decision is signed for the authenticated user ' +
        'when the API has an identity key, as every decision is. Refused by the keeper (403) for a user without ' +
        'DEPLOYMENT_MANAGER or PROGRAM_MANAGER in the pipeline\'s people; not now (412) during a deployment, a heal or another scale.',
      requestBody: { required: true, description: 'The number of pairs wanted', schema: { type: 'object', properties: { pairs: { type: 'integer', minimum: 1, maximum: 64 } }, required: ['pairs'] } },
      responses: {
        202: { description: 'Accepted: the keeper scales the environment (its state shows the progress)', schema: { $ref: '#/components/schemas/Accepted' } },
        400: PROBLEM_RESPONSES[400], 401: PROBLEM_RESPONSES[401], 403: PROBLEM_RESPONSES[403], 404: PROBLEM_RESPONSES[404],
        412: { description: 'Not now: a deployment, a heal or another scale runs, or the environment has no release yet', schema: PROBLEM_RESPONSES[412].schema },
        503: PROBLEM_RESPONSES[503],
      },
      handler: async (req, reply: FastifyReply) => {
        const { pipelineId, environmentType } = target(req);
        const pairs = pairsOf(req.body);
        await ctx.requireWorker('nothing was scaled');
        const user = req.user!.name;
        try {
          const request = await signedFor(ctx.identitySigner, user, {
            pipeline: pipelineId, execution: scaleDecisionTarget(environmentType), step: environmentType, action: 'scale', args: { pairs },
          });
          const ack = await ctx.sc.scale(pipelineId, environmentType, request as unknown as ScaleRequest);
          req.log.info({ user, pipelineId, environmentType, pairs }, 'scale accepted');
          void reply.code(202);
          return { accepted: true, message: ack.message };
        } catch (err) {
          const answer = fromError(err);
          req.log.warn({ user, pipelineId, environmentType, pairs, reason: (answer as Error).message }, 'scale refused');
          throw answer;
        }
      },
    },
  ];
}
