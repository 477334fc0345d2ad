/**
 * Stagecoach's HTTP API (`stagecoach api`), on Fastify and @temporalio/client (through the Stagecoach class, so it
 * refuses what the CLI refuses, the same way). Modelled on Cloud Manager's pipeline execution API; see
 * src/api/openapi.ts (served at GET /api/openapi.json) and README.md for routes, roles and status codes.
 *
 * The server keeps no state of its own: every answer comes from the workflows' `state` queries, every action is a
 * workflow update, and the user named by the bearer token is who the workflows record in their audit logs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { StagecoachError } from '../client/errors';
import { Stagecoach, configuredPipeline, workflowPollers } from '../client/operations';
import { artifactFile, artifactsDir } from '../config/paths';
import { ClientFailure, NonRetryable } from '../shared/errors';
import { PIPELINE_ID_PATTERN, TASK_QUEUE } from '../shared/ids';
import { formatPublicKey } from '../shared/identity';
import type { ExecutionAction, StartRequest } from '../shared/messages';
import { cancelRefusal } from '../shared/refusals';
import { MODES, TRIGGERS, type ExecutionMode, type ExecutionState, type PipelineState, type Trigger } from '../shared/types';
import {
  ApiTokens, DEFAULT_TOKENS_FILE, bearerToken, isAllowed, rolesFor, tokensFile, type ApiTokensConfig, type ApiUser, type Permission,
} from './auth';
import { apiKeyFile, loadApiSigner, signedFor, type ApiSigner } from './identity-signing';
import { PROBLEM_RESPONSES, buildOpenApiDocument, type RouteDoc } from './openapi';
import { ApiProblem, PROBLEM_BASE, fromError, problem, problemForRefusal, problemForType } from './problems';
import {
  DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, clampLimit, executionPageIds, isProdDeploy, logFilesOf, metricsOf, paths,
  toExecutionList, toMetrics, toPipelineExecution, toStepState, type LinkContext,
} from './representation';
import { cloudManagerErrorFields } from './cloudmanager/errors';
import { LOG_DOWNLOAD_PATH, LogTokens } from './cloudmanager/log-links';
import { advanceMessage, cancelMessage, reExecutionOfStart } from './cloudmanager/requests';
import { cloudManagerRoutes } from './cloudmanager/routes';
import { registerConsole } from '../console/routes';
import { observabilityRoutes } from '../observability/api-routes';
import { keeperRoutes } from './keeper-routes';

export interface ApiOptions {
  stagecoach: Stagecoach;
  /** The tokens: a loaded ApiTokens, a config object, or a YAML file path (default STAGECOACH_API_TOKENS or examples/api-tokens.yaml). */
  tokens?: ApiTokens | ApiTokensConfig | string;
  /** Where the worker's artifact store is (logs): STAGECOACH_ARTIFACTS_DIR or <state dir>/artifacts by default. */
  artifactsDir?: string;
  /** Signs each decision for the user it authenticated (identity-signing.ts); without it, decisions are names only. */
  identitySigner?: ApiSigner;
  /** false: no logging; otherwise pino options (level, stream). The Authorization header is always redacted. */
  logger?: false | { level?: string; stream?: { write(line: string): void } };
}

declare module 'fastify' {
  interface FastifyRequest { user?: ApiUser }
  interface FastifyContextConfig { permission?: Permission }
}

type Params = { programId: string; pipelineId: string; executionId?: string; phaseId?: string; stepId?: string; environmentId?: string; environmentType?: string };
export type Req = FastifyRequest<{ Params: Params; Querystring: Record<string, string | undefined>; Body: unknown }>;

export interface Route extends RouteDoc {
  handler(req: Req, reply: FastifyReply): Promise<unknown>;
}

const PIPELINE = '/api/program/:programId/pipeline/:pipelineId';
const EXECUTION = `${PIPELINE}/execution/:executionId`;
const STEP = `${EXECUTION}/phase/:phaseId/step/:stepId`;

const executionSchema = { $ref: '#/components/schemas/PipelineExecution' };
const stepStateSchema = { $ref: '#/components/schemas/PipelineExecutionStepState' };
const acceptedSchema = { $ref: '#/components/schemas/Accepted' };

/** The responses of a PUT that sends the execution a message: accepted (202), or why not. */
const messageResponses = (accepted: string, notNow: string) => ({
  202: { description: accepted, schema: acceptedSchema },
  400: PROBLEM_RESPONSES[400], 401: PROBLEM_RESPONSES[401], 403: PROBLEM_RESPONSES[403], 404: PROBLEM_RESPONSES[404],
  412: { description: notNow, schema: PROBLEM_RESPONSES[412].schema },
  503: PROBLEM_RESPONSES[503],
});

export function buildApi(opts: ApiOptions): FastifyInstance {
  const sc = opts.stagecoach;
  const tokens = opts.tokens instanceof ApiTokens ? opts.tokens
    : typeof opts.tokens === 'object' ? new ApiTokens(opts.tokens)
      : ApiTokens.load(opts.tokens ?? tokensFile());
  const artifactsRoot = opts.artifactsDir ?? artifactsDir();

  const app = Fastify({
    logger: opts.logger === false ? false : {
      level: opts.logger?.level ?? 'info',
      ...(opts.logger?.stream ? { stream: opts.logger.stream } : {}),
      // Headers are logged (user agent, content type), the credentials never.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]', 'headers.authorization', 'authorization'],
        censor: '[redacted]',
      },
      serializers: {
        req: (req: { method: string; url: string; headers: Record<string, unknown>; ip?: string }) => ({
          method: req.method, url: redactUrl(req.url), headers: { ...req.headers }, remoteAddress: req.ip,
        }),
      },
    },
    bodyLimit: 64 * 1024,
  });
  app.decorateRequest('user', undefined);
  const logTokens = new LogTokens();

  // JSON bodies: an empty body counts as none (PUT start and cancel need no body); a bad one is a clear 400.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = String(body);
    if (!text.trim()) return done(null, undefined);
    try {
      JSON.parse(text); // for the syntax error's own words; Fastify's parser below also refuses prototype poisoning
    } catch (err) {
      return done(problem.badRequest(`the request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
    void jsonParser(req, text, (err: Error | null, parsed?: unknown) => {
      if (err) return done(problem.badRequest(`the request body is refused: ${err.message}`), undefined);
      done(null, parsed);
    });
  });

  // Authentication and roles, before the body is read.
  app.addHook('onRequest', async (req) => {
    const permission = req.routeOptions.config?.permission;
    if (permission === undefined || permission === 'public') return;
    const header = req.headers.authorization;
    if (!header) throw problem.unauthorized('this API needs an `Authorization: Bearer <token>` header');
    const token = bearerToken(header);
    const user = token ? tokens.userFor(token) : undefined;
    if (!user) {
      req.log.warn('request with an unknown or malformed bearer token');
      throw problem.unauthorized('the bearer token is not valid', 'invalid_token');
    }
    req.user = user;
    if (!isAllowed(user, permission)) {
      const what = permission === 'advance' ? 'advance (approve, schedule, override)' : permission === 'cancelOrReject' ? 'cancel or reject' : permission;
      throw problem.forbidden(`${user.name} may not ${what} ` +
        `executions: that needs one of the roles ${rolesFor(permission).join(', ')} (${user.name} has ${user.roles.join(', ') || 'none'})`);
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    let p: ApiProblem;
    if (err instanceof ApiProblem) p = err;
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') p = new ApiProblem(415, `${PROBLEM_BASE}unsupported-media-type`, 'Unsupported media type', 'send JSON bodies as application/json');
    else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') p = new ApiProblem(413, `${PROBLEM_BASE}too-large`, 'Body too large', err.message);
    else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) p = problem.badRequest(err.message);
    else {
      const known = fromError(err);
      if (known instanceof ApiProblem) p = known;
      else {
        req.log.error({ err }, 'request failed');
        p = problem.internal(err.message || 'the request failed');
      }
    }
    void reply.code(p.status).headers(p.headers).type('application/problem+json')
      .send({ type: p.type, title: p.title, status: p.status, detail: p.message, ...cloudManagerErrorFields(p.message) });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).type('application/problem+json').send({
      type: `${PROBLEM_BASE}not-found`, title: 'Not found', status: 404,
      detail: `no route ${req.method} ${redactUrl(req.url)} (the routes are listed at GET /api/openapi.json)`,
    });
  });

  // ------------------------------------------------------------------------------------------------------------
  // Helpers over the workflows' state

  const ctx = (req: Req): LinkContext => ({ programId: req.params.programId });

  function pipelineIdOf(req: Req): string {
    const id = req.params.pipelineId;
    if (!PIPELINE_ID_PATTERN.test(id)) throw problem.notFound(`unknown pipeline "${id}"`);
    return id;
  }

  async function pipelineConfigured(pipelineId: string): Promise<boolean> {
    try {
      await configuredPipeline(pipelineId);
      return true;
    } catch (err) {
      if (err instanceof StagecoachError && err.type === NonRetryable.PipelineNotFound) return false;
      return true; // configured, if invalid: starting says what is wrong
    }
  }

  /** The pipeline workflow's state; undefined when it has no executions yet. 404 for a pipeline that is not configured. */
  async function pipelineStateOf(pipelineId: string): Promise<PipelineState | undefined> {
    try {
      return await sc.pipelineState(pipelineId);
    } catch (err) {
      if (err instanceof StagecoachError && err.type === ClientFailure.NotFound) {
        if (await pipelineConfigured(pipelineId)) return undefined;
        throw problem.notFound(`unknown pipeline "${pipelineId}": it is not configured and has no executions`);
      }
      throw fromError(err);
    }
  }

  async function executionOf(req: Req): Promise<ExecutionState> {
    const pipelineId = pipelineIdOf(req);
    const executionId = req.params.executionId!;
    if (!/^\d{1,9}$/.test(executionId)) throw problem.notFound(`execution ${executionId} of pipeline ${pipelineId} does not exist`);
    try {
      return await sc.executionState(pipelineId, executionId);
    } catch (err) {
      throw fromError(err);
    }
  }

  /** For the reExecute link: the pipeline's state, or undefined when it cannot be read (then no link). */
  const pipelineForLinks = (pipelineId: string) => sc.pipelineState(pipelineId).catch(() => undefined);

  function stepOf(state: ExecutionState, req: Req) {
    const step = state.steps.find((s) => s.stepId === req.params.stepId && s.phaseId === req.params.phaseId);
    if (!step) {
      throw problem.notFound(`execution ${state.id} has no step ${req.params.stepId} in phase ${req.params.phaseId} ` +
        `(steps: ${state.steps.map((s) => `${s.phaseId}/${s.stepId}`).join(', ')})`);
    }
    return step;
  }

  /** Without a worker polling the task queue, an update waits forever: refuse at once (503) instead. */
  async function requireWorker(what: string): Promise<void> {
    await sc.requireWorker(what).catch((err: unknown) => { throw fromError(err); });
  }

  /** The new execution's representation; its first workflow task may still be running, so a few tries. */
  async function newExecution(req: Req, pipelineId: string, executionId: string) {
    for (let attempt = 1; ; attempt++) {
      try {
        const state = await sc.executionState(pipelineId, executionId);
        return toPipelineExecution(state, ctx(req), await pipelineForLinks(pipelineId));
      } catch (err) {
        if (attempt >= 10) {
          req.log.warn({ err }, 'the new execution could not be queried yet');
          return { id: executionId, programId: req.params.programId, pipelineId, status: 'NOT_STARTED', _links: { self: { href: paths.execution(ctx(req), pipelineId, executionId), templated: false } } };
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async function send(req: Req, state: ExecutionState, action: ExecutionAction, request: Record<string, unknown>) {
    await requireWorker(`the ${action} was not sent`);
    try {
      const step = action === 'cancel' ? undefined : state.waiting?.stepId;
      const message = await signedFor(opts.identitySigner, req.user!.name, { pipeline: state.pipelineId, execution: state.id, step, action, args: request });
      const ack = await sc.send(state.pipelineId, state.id, action, message);
      req.log.info({ user: req.user!.name, pipelineId: state.pipelineId, executionId: state.id, action }, 'accepted');
      return { accepted: true, message: ack.message };
    } catch (err) {
      throw fromError(err);
    }
  }

  /** Sends a decision the execution accepted: 202 with its answer. */
  async function accepted(req: Req, reply: FastifyReply, state: ExecutionState, action: ExecutionAction, request: Record<string, unknown>) {
    const ack = await send(req, state, action, request);
    void reply.code(202);
    return ack;
  }

  /** Starts a RE_EXECUTE of `state` (its production deploy, with its images): 201 and the new execution. */
  async function reExecuteFrom(req: Req, reply: FastifyReply, state: ExecutionState) {
    await requireWorker('nothing was re-executed');
    let result;
    try {
      result = await sc.reExecute(state.pipelineId, { by: req.user!.name, executionId: state.id });
    } catch (err) {
      throw fromError(err);
    }
    req.log.info({ user: req.user!.name, pipelineId: state.pipelineId, executionId: result.executionId, of: state.id }, 're-execution started');
    void reply.code(201).header('location', paths.execution(ctx(req), state.pipelineId, result.executionId));
    return newExecution(req, state.pipelineId, result.executionId);
  }

  /** The execution a start with `stepId` re-executes, checked by the same rules as Cloud Manager's. */
  async function startSource(req: Req, pipelineId: string, stepId: string): Promise<ExecutionState> {
    const sourceId = req.query.sourceExecutionId ?? (await pipelineStateOf(pipelineId))?.executions.at(-1)?.id;
    const source = sourceId && /^\d{1,9}$/.test(sourceId) ? await sc.executionState(pipelineId, sourceId).catch(() => undefined) : undefined;
    const outcome = reExecutionOfStart(source, stepId);
    if (!outcome.ok) throw problemForType(outcome.type, outcome.detail);
    return source!;
  }

  // ------------------------------------------------------------------------------------------------------------
  // Routes (each is documented in the OpenAPI document from this same table)

  const routes: Route[] = [
    {
      method: 'GET', url: '/api/openapi.json', operationId: 'openApi', permission: 'public',
      summary: 'This API, as an OpenAPI 3 document',
      responses: { 200: { description: 'The document', schema: { type: 'object' } } },
      handler: async () => openApi,
    },
    {
      method: 'GET', url: `${PIPELINE}/executions`, operationId: 'getExecutions', permission: 'read',
      summary: 'List executions', description: 'The running execution and the recent ones the pipeline keeps (20), newest first.',
      query: [
        { name: 'start', description: 'Pagination start (default 0)', schema: { type: 'integer', minimum: 0 } },
        { name: 'limit', description: `Pagination limit (default ${DEFAULT_PAGE_LIMIT}; clamped to 1..${MAX_PAGE_LIMIT})`, schema: { type: 'integer' } },
      ],
      responses: {
        200: { description: 'The executions', schema: { $ref: '#/components/schemas/PipelineExecutionListRepresentation' } },
        400: PROBLEM_RESPONSES[400], 401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404],
      },
      handler: async (req) => {
        const pipelineId = pipelineIdOf(req);
        const start = intQuery(req.query.start, 'start', 0, 0, Number.MAX_SAFE_INTEGER);
        const limit = clampLimit(intQuery(req.query.limit, 'limit', DEFAULT_PAGE_LIMIT, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER));
        const pipeline = await pipelineStateOf(pipelineId);
        // The list items' mode and last change are the executions' own (the pipeline's summaries have neither).
        const states = new Map<string, ExecutionState>();
        await Promise.all(executionPageIds(pipeline, { start, limit }).map(async (id) => {
          const state = await sc.executionState(pipelineId, id).catch(() => undefined);
          if (state) states.set(id, state);
        }));
        return toExecutionList(pipelineId, pipeline, ctx(req), { start, limit }, states);
      },
    },
    {
      method: 'GET', url: `${PIPELINE}/execution`, operationId: 'getCurrentExecution', permission: 'read',
      summary: 'Get the current execution', description: 'The running (or waiting) execution, if any.',
      responses: { 200: { description: 'The current execution', schema: executionSchema }, 401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404] },
      handler: async (req) => {
        const pipelineId = pipelineIdOf(req);
        const pipeline = await pipelineStateOf(pipelineId);
        if (!pipeline?.running) throw problem.notFound(`pipeline ${pipelineId} has no running execution`);
        const state = await sc.executionState(pipelineId, pipeline.running.id).catch((err: unknown) => { throw fromError(err); });
        return toPipelineExecution(state, ctx(req), pipeline);
      },
    },
    {
      method: 'PUT', url: `${PIPELINE}/execution`, operationId: 'startPipeline', permission: 'start',
      summary: 'Start an execution',
      description: 'Starts an execution if the pipeline is idle (one runs at a time). Checks the configuration and the branch ' +
        'first: a mistake there starts nothing (400). The body, if any, is ignored.',
      query: [
        { name: 'pipelineExecutionMode', description: 'NORMAL (default) or EMERGENCY', schema: { type: 'string', enum: [...MODES] } },
        { name: 'trigger', description: 'Stagecoach extension: MANUAL (default), ON_COMMIT or PUSH_UPGRADES, for automation that starts executions on their behalf', schema: { type: 'string', enum: TRIGGERS.filter((t) => t !== 'RE_EXECUTE') } },
        { name: 'stepId', description: 'The production deploy step (deploy-prod, or its step state id): re-executes it, as its reExecute link does; any other step is a 400', schema: { type: 'string' } },
        { name: 'sourceExecutionId', description: 'With stepId: the execution to re-execute (default the last one)', schema: { type: 'string' } },
      ],
      responses: {
        201: { description: 'Started', schema: executionSchema, headers: { Location: 'The URL of the new execution' } },
        400: PROBLEM_RESPONSES[400], 401: PROBLEM_RESPONSES[401], 403: PROBLEM_RESPONSES[403], 404: PROBLEM_RESPONSES[404],
        412: { description: 'Pipeline is busy (an execution is running or waiting)', schema: PROBLEM_RESPONSES[412].schema },
        503: PROBLEM_RESPONSES[503],
      },
      handler: async (req, reply) => {
        const pipelineId = pipelineIdOf(req);
        const mode = enumQuery<ExecutionMode>(req.query.pipelineExecutionMode, 'pipelineExecutionMode', MODES);
        const trigger = enumQuery<Trigger>(req.query.trigger, 'trigger', TRIGGERS.filter((t) => t !== 'RE_EXECUTE'));
        if (req.query.stepId) {
          if (!isAllowed(req.user!, 'reExecute')) throw problem.forbidden(`${req.user!.name} may not re-execute: that needs one of the roles ${rolesFor('reExecute').join(', ')}`);
          return reExecuteFrom(req, reply, await startSource(req, pipelineId, req.query.stepId));
        }
        if (req.query.sourceExecutionId) throw problem.badRequest('sourceExecutionId goes with stepId (the production deploy step to re-execute)');
        await requireWorker('nothing was started');
        let result;
        try {
          const args = { ...(mode ? { mode } : {}), ...(trigger ? { trigger } : {}) };
          // EMERGENCY mode in a signed pipeline needs a proof: the start is signed for the execution it opens.
          const signer = mode === 'EMERGENCY' ? opts.identitySigner : undefined;
          const execution = signer ? await sc.nextExecutionId(pipelineId) : '';
          result = await sc.startExecution(pipelineId, await signedFor(signer, req.user!.name, { pipeline: pipelineId, execution, action: 'start', args }) as StartRequest);
        } catch (err) {
          throw fromError(err);
        }
        req.log.info({ user: req.user!.name, pipelineId, executionId: result.executionId }, 'execution started');
        void reply.code(201).header('location', paths.execution(ctx(req), pipelineId, result.executionId));
        return newExecution(req, pipelineId, result.executionId);
      },
    },
    {
      method: 'GET', url: EXECUTION, operationId: 'getExecution', permission: 'read',
      summary: 'Get an execution', description: 'The execution with its phases and step states; links only for what is possible now.',
      responses: { 200: { description: 'The execution', schema: executionSchema }, 401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404] },
      handler: async (req) => {
        const state = await executionOf(req);
        return toPipelineExecution(state, ctx(req), await pipelineForLinks(state.pipelineId));
      },
    },
    {
      method: 'GET', url: STEP, operationId: 'stepState', permission: 'read', summary: 'Get a step state',
      responses: { 200: { description: 'The step state', schema: stepStateSchema }, 401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404] },
      handler: async (req) => {
        const state = await executionOf(req);
        const step = stepOf(state, req);
        return toStepState(state, step, ctx(req), isProdDeploy(step) ? await pipelineForLinks(state.pipelineId) : undefined);
      },
    },
    {
      method: 'GET', url: `${STEP}/logs`, operationId: 'getStepLogs', permission: 'read', summary: 'Get the logs of a step',
      description: 'Redirects (307) to a download URL for the step\'s log (or for `file`, one of its files) that carries a ' +
        'short-lived signed token, so it needs no bearer; with `Accept: application/json`, Cloud Manager\'s ' +
        '`{"redirect": "<that URL>"}` and the step\'s files. A build that is running has its log already (for tailing).',
      query: [{ name: 'file', description: 'One of the step\'s files (build.log, junit.xml, ...); default the first', schema: { type: 'string' } }],
      responses: {
        200: { description: 'With Accept: application/json, where to download the log', schema: { $ref: '#/components/schemas/StepLogs' } },
        307: { description: 'The download URL, in Location', headers: { Location: `An absolute URL on ${LOG_DOWNLOAD_PATH}` } },
        401: PROBLEM_RESPONSES[401], 404: { description: 'No such step, or the step has no logs', schema: PROBLEM_RESPONSES[404].schema },
      },
      handler: async (req, reply) => {
        const state = await executionOf(req);
        const step = stepOf(state, req);
        const files = logFilesOf(state, step);
        if (!files.length) throw problem.notFound(`step ${step.stepId} of execution ${state.id} has no logs`);
        const chosen = req.query.file === undefined ? files[0] : files.find((f) => f.file === req.query.file);
        if (!chosen) throw problem.notFound(`step ${step.stepId} has no file ${req.query.file} (files: ${files.map((f) => f.file).join(', ')})`);
        // Absolute: clients fetch it as it is, without their base URL or their bearer.
        const download = (ref: string) => `${req.protocol}://${req.host}${LOG_DOWNLOAD_PATH}?token=${logTokens.sign(ref)}`;
        if (/application\/json/.test(req.headers.accept ?? '')) {
          return { redirect: download(chosen.ref), files: files.map((f) => ({ name: f.name, file: f.file, href: download(f.ref) })) };
        }
        void reply.redirect(download(chosen.ref), 307);
        return reply;
      },
    },
    {
      method: 'GET', url: `${STEP}/metrics`, operationId: 'stepMetric', permission: 'read', summary: 'Get the metrics of a step',
      description: 'The quality gates a step evaluated (codeQuality, and security/performance tests where configured).',
      responses: {
        200: { description: 'The metrics', schema: { $ref: '#/components/schemas/PipelineStepMetrics' } },
        401: PROBLEM_RESPONSES[401], 404: { description: 'No such step, or the step has no metrics', schema: PROBLEM_RESPONSES[404].schema },
      },
      handler: async (req) => {
        const state = await executionOf(req);
        const step = stepOf(state, req);
        if (!metricsOf(step)) throw problem.notFound(`step ${step.stepId} of execution ${state.id} has no metrics`);
        return toMetrics(step);
      },
    },
    {
      method: 'PUT', url: `${STEP}/advance`, operationId: 'advancePipelineExecution', permission: 'advance',
      summary: 'Advance a waiting step',
      description: 'Approve or reject (approval, managed review), schedule, or override failed quality gates, at the step the ' +
        'execution waits at; the body depends on the step. The execution also applies its own rules (approver list, no ' +
        'self-approval): a refusal of the user is 403, a step that does not wait now is 412.',
      requestBody: { required: true, description: 'Depends on the waiting step', schema: { $ref: '#/components/schemas/AdvanceBody' } },
      responses: messageResponses('Accepted', 'The execution does not wait at this step for this now'),
      handler: async (req, reply) => {
        const state = await executionOf(req);
        const step = stepOf(state, req);
        const outcome = advanceMessage(state, step, req.body);
        if (!outcome.ok) throw problemForType(outcome.type, outcome.detail);
        return accepted(req, reply, state, outcome.action, outcome.request);
      },
    },
    {
      method: 'PUT', url: `${STEP}/cancel`, operationId: 'cancelPipelineExecutionStep', permission: 'cancelOrReject',
      summary: 'Cancel the execution, or reject the waiting step',
      description: 'Cancels the execution (the link is on its current step; any step of it is accepted). A build in progress ' +
        'stops; a rollout in progress is rolled back. As Cloud Manager\'s clients send it, `{"approved": false}` at a ' +
        'waiting approval, `{"start": false}` at a managed review and `{"override": false}` at a waiting quality gate ' +
        'reject that step instead, under the advance roles (a Business Owner may).',
      requestBody: { description: 'Optional', schema: { $ref: '#/components/schemas/CancelBody' } },
      responses: {
        202: { description: 'Accepted: the execution is being cancelled, or the step rejected', schema: acceptedSchema },
        400: PROBLEM_RESPONSES[400], 401: PROBLEM_RESPONSES[401], 403: PROBLEM_RESPONSES[403], 404: PROBLEM_RESPONSES[404],
        412: { description: 'The execution has ended or is already being cancelled, or the step does not wait for a decision', schema: PROBLEM_RESPONSES[412].schema },
        503: PROBLEM_RESPONSES[503],
      },
      handler: async (req, reply) => {
        const state = await executionOf(req);
        const step = stepOf(state, req);
        const outcome = cancelMessage(state, step, req.body);
        if (!outcome.ok) throw problemForType(outcome.type, outcome.detail);
        const needs: Permission = outcome.action === 'reject' ? 'advance' : 'cancel';
        if (!isAllowed(req.user!, needs)) {
          throw problem.forbidden(`${req.user!.name} may not ${outcome.action}: that needs one of the roles ${rolesFor(needs).join(', ')}`);
        }
        const refused = outcome.action === 'cancel' ? cancelRefusal(state) : undefined;
        if (refused) throw problemForRefusal(refused);
        return accepted(req, reply, state, outcome.action, outcome.request);
      },
    },
    {
      method: 'PUT', url: `${STEP}/reExecute`, operationId: 'reExecute', permission: 'reExecute',
      summary: 'Re-execute the production deployment',
      description: 'On the production deploy step of the pipeline\'s last execution, once that step has completed in any way ' +
        '(finished, failed, cancelled): starts a RE_EXECUTE execution that deploys the same image IDs with the same ' +
        'configuration, building nothing. Refused (412, with the reason) for a push update (PUSH_UPGRADES), an execution ' +
        'that ended before its production deployment, one that is not the last, or while the pipeline is busy.',
      responses: {
        201: { description: 'The new execution', schema: executionSchema, headers: { Location: 'The URL of the new execution' } },
        401: PROBLEM_RESPONSES[401], 403: PROBLEM_RESPONSES[403],
        404: { description: 'No such execution or step, or the step is not the production deployment', schema: PROBLEM_RESPONSES[404].schema },
        412: { description: 'Not re-executable now; the detail says why', schema: PROBLEM_RESPONSES[412].schema },
        503: PROBLEM_RESPONSES[503],
      },
      handler: async (req, reply) => {
        const state = await executionOf(req);
        const step = stepOf(state, req);
        if (!isProdDeploy(step)) throw problem.notFound(`re-execute is offered on the production deploy step only, not on ${step.stepId}`);
        return reExecuteFrom(req, reply, state);
      },
    },
  ];

  const readArtifact = async (ref: string) => {
    const file = artifactFile(artifactsRoot, ref);
    return file ? fs.readFile(file).catch(() => undefined) : undefined;
  };
  routes.push(...cloudManagerRoutes({ sc, readArtifact, logTokens, notFound: problem.notFound }));
  routes.push(...keeperRoutes({ sc, identitySigner: opts.identitySigner, requireWorker }));
  routes.push(...observabilityRoutes(app, sc));
  const openApi = buildOpenApiDocument(routes);
  for (const r of routes) {
    app.route({ method: r.method, url: r.url, config: { permission: r.permission }, handler: r.handler as never });
  }
  registerConsole(app, { stagecoach: sc, tokens });
  return app;
}

function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|token|api_key)=)[^&]*/gi, '$1[redacted]');
}

function intQuery(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw problem.badRequest(`${name} must be an integer from ${min} to ${max} (got ${raw})`);
  return n;
}

function enumQuery<T extends string>(raw: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (raw === undefined || raw === '') return undefined;
  const upper = raw.toUpperCase() as T;
  if (!allowed.includes(upper)) throw problem.badRequest(`${name} must be one of ${allowed.join(', ')} (got ${raw})`);
  return upper;
}

/**
 * `stagecoach api`: connects to Temporal, serves until SIGINT/SIGTERM. Only 127.0.0.1 unless told otherwise.
 */
export async function runApi(opts: { host: string; port: number; tokensFile?: string; print?: (line: string) => void }): Promise<number> {
  const print = opts.print ?? ((line: string) => process.stderr.write(`${line}\n`));
  const file = opts.tokensFile ? path.resolve(opts.tokensFile) : tokensFile();
  const tokens = ApiTokens.load(file);
  const stagecoach = await Stagecoach.connect();
  const keyFile = apiKeyFile();
  const identitySigner = await loadApiSigner(keyFile);
  const app = buildApi({ stagecoach, tokens, identitySigner });
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await stagecoach.close().catch(() => undefined);
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  print(`Stagecoach API on http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/ (the console at /; OpenAPI: /api/openapi.json)`);
  print(`  tokens: ${file} (${tokens.users.map((u) => `${u.name}: ${u.roles.join('+') || 'read only'}`).join(', ')})`);
  print(`  signs decisions for its users with ${keyFile} (list it under a pipeline's identityProviders): ${formatPublicKey(identitySigner.publicKey)}`);
  if (file === DEFAULT_TOKENS_FILE) print('  warning: these are the sample tokens from the repository; set STAGECOACH_API_TOKENS for real use');
  const pollers = await workflowPollers(stagecoach.client, TASK_QUEUE).catch(() => undefined);
  if (pollers?.length === 0) print(`  warning: no worker polls task queue "${TASK_QUEUE}" yet: actions answer 503 until one does (\`stagecoach worker\`)`);
  if (!['127.0.0.1', '::1', 'localhost'].includes(opts.host)) print(`  warning: listening on ${opts.host}, not only on this machine; put TLS in front of it`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  print('stopping the API');
  await app.close();
  await stagecoach.close().catch(() => undefined);
  return 0;
}
