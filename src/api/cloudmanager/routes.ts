/**
 * The Cloud Manager routes that lead to the pipelines: programs, a program, its pipelines and environments, one
 * pipeline, one environment; and the signed log download the step logs link redirects to. Read-only, from the
 * pipeline configurations and the workflows' `state` queries (see ./navigation.ts for the shapes).
 */
import type { FastifyReply } from 'fastify';
import type { Stagecoach } from '../../client/operations';
import { listPipelineIds, loadPipelineConfig } from '../../config/pipeline-config';
import type { EnvironmentType, ExecutionState, PipelineConfig, PipelineState } from '../../shared/types';
import { PROBLEM_RESPONSES } from '../openapi';
import type { LinkContext } from '../representation';
import { LOG_DOWNLOAD_PATH, LogTokens, rangeOf } from './log-links';
import {
  pipelinesOf, programsOf, toEnvironment, toEnvironmentList, toPipeline, toPipelineList, toProgram, toProgramList, environmentId,
} from './navigation';
import type { Req, Route } from '../server';

/** What these routes need of the server: its client, its artifact store (read-only), and its problem constructors. */
export interface CloudManagerContext {
  sc: Stagecoach;
  /** One artifact's bytes, or undefined when the store does not have it (yet). */
  readArtifact(ref: string): Promise<Buffer | undefined>;
  logTokens: LogTokens;
  notFound(detail: string): Error;
}

const ENVIRONMENT_TYPES: EnvironmentType[] = ['stage', 'prod'];
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The configured pipelines; one that cannot be read is left out here (starting it says what is wrong). */
async function configuredPipelines(): Promise<PipelineConfig[]> {
  const configs = await Promise.all((await listPipelineIds()).map((id) => loadPipelineConfig(id).catch(() => undefined)));
  return configs.filter((c): c is PipelineConfig => c !== undefined);
}

interface PipelineView { config: PipelineConfig; pipeline?: PipelineState; running?: ExecutionState; latest?: ExecutionState }

/** A pipeline's state, its running execution's and its latest execution's (the one that last saw its environments). */
async function viewOf(sc: Stagecoach, config: PipelineConfig): Promise<PipelineView> {
  const pipeline = await sc.pipelineState(config.id).catch(() => undefined);
  const latestId = pipeline?.running?.id ?? pipeline?.executions.at(-1)?.id;
  const latest = latestId ? await sc.executionState(config.id, latestId).catch(() => undefined) : undefined;
  return { config, pipeline, latest, running: pipeline?.running && latest?.id === pipeline.running.id ? latest : undefined };
}

function environmentsOf(view: PipelineView, programId: string) {
  return ENVIRONMENT_TYPES.map((type) => {
    const current = view.running?.steps.find((s) => s.stepId === view.running?.currentStepId);
    const deploying = current?.action === 'deploy' && current.environmentType === type && current.status === 'RUNNING';
    return toEnvironment(view.config, type, programId, { url: view.latest?.urls?.[type], deploying });
  });
}

export function cloudManagerRoutes(cm: CloudManagerContext): Route[] {
  const ctx = (req: Req): LinkContext => ({ programId: req.params.programId });

  async function programOf(req: Req) {
    const configs = await configuredPipelines();
    const program = programsOf(configs).find((p) => p.id === req.params.programId);
    if (!program) throw cm.notFound(`unknown program "${req.params.programId}" (program 1 holds every pipeline)`);
    return { program, pipelines: pipelinesOf(program.id, configs) };
  }

  return [
    {
      method: 'GET', url: '/api/programs', operationId: 'getPrograms', permission: 'read', summary: 'List programs',
      description: 'The default program (id 1, every pipeline) and the programs the pipeline configurations name.',
      responses: { 200: { description: 'The programs', schema: ref('ProgramList') }, 401: PROBLEM_RESPONSES[401] },
      handler: async () => toProgramList(programsOf(await configuredPipelines())),
    },
    {
      method: 'GET', url: '/api/program/:programId', operationId: 'getProgram', permission: 'read', summary: 'Get a program',
      responses: { 200: { description: 'The program', schema: ref('Program') }, 401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404] },
      handler: async (req) => toProgram((await programOf(req)).program),
    },
    {
      method: 'GET', url: '/api/program/:programId/pipelines', operationId: 'getPipelines', permission: 'read',
      summary: 'List the pipelines of a program', description: 'Each with its status: IDLE, BUSY (running) or WAITING (for a user).',
      responses: { 200: { description: 'The pipelines', schema: ref('PipelineList') }, 401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404] },
      handler: async (req) => {
        const { program, pipelines } = await programOf(req);
        const views = await Promise.all(pipelines.map((c) => viewOf(cm.sc, c)));
        return toPipelineList(program.id, views.map((v) => toPipeline(v.config, ctx(req), v.pipeline, v.running)));
      },
    },
    {
      method: 'GET', url: '/api/program/:programId/pipeline/:pipelineId', operationId: 'getPipeline', permission: 'read',
      summary: 'Get a pipeline',
      responses: { 200: { description: 'The pipeline', schema: ref('Pipeline') }, 401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404] },
      handler: async (req) => {
        const { program, pipelines } = await programOf(req);
        const config = pipelines.find((c) => c.id === req.params.pipelineId);
        if (!config) throw cm.notFound(`program ${program.id} has no pipeline "${req.params.pipelineId}"`);
        const v = await viewOf(cm.sc, config);
        return toPipeline(config, ctx(req), v.pipeline, v.running);
      },
    },
    {
      method: 'GET', url: '/api/program/:programId/environments', operationId: 'getEnvironments', permission: 'read',
      summary: 'List the environments of a program',
      description: 'Stage and Production of each of its pipelines, with their status and the URL they serve at.',
      query: [{ name: 'type', description: 'Only environments of this type (stage, prod)', schema: { type: 'string', enum: ENVIRONMENT_TYPES } }],
      responses: { 200: { description: 'The environments', schema: ref('EnvironmentList') }, 401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404] },
      handler: async (req) => {
        const { program, pipelines } = await programOf(req);
        const views = await Promise.all(pipelines.map((c) => viewOf(cm.sc, c)));
        const all = views.flatMap((v) => environmentsOf(v, program.id));
        return toEnvironmentList(program.id, req.query.type ? all.filter((e) => e.type === req.query.type) : all);
      },
    },
    {
      method: 'GET', url: '/api/program/:programId/environment/:environmentId', operationId: 'getEnvironment', permission: 'read',
      summary: 'Get an environment',
      responses: { 200: { description: 'The environment', schema: ref('Environment') }, 401: PROBLEM_RESPONSES[401], 404: PROBLEM_RESPONSES[404] },
      handler: async (req) => {
        const { program, pipelines } = await programOf(req);
        const wanted = (req.params as { environmentId?: string }).environmentId;
        const config = pipelines.find((c) => ENVIRONMENT_TYPES.some((t) => environmentId(c.id, t) === wanted));
        if (!config) throw cm.notFound(`program ${program.id} has no environment "${wanted}"`);
        const found = environmentsOf(await viewOf(cm.sc, config), program.id).find((e) => e.id === wanted)!;
        return found;
      },
    },
    {
      method: 'GET', url: LOG_DOWNLOAD_PATH, operationId: 'downloadLog', permission: 'public',
      summary: 'Download a step log (the URL a logs link redirects to)',
      description: 'Needs no bearer: the `token` is signed by this API and expires after an hour. `Range: bytes=N-` ' +
        'answers 206 with the bytes from N, or 416 when there is nothing past N yet (for tailing).',
      query: [{ name: 'token', description: 'The signed token from the logs link', schema: { type: 'string' } }],
      responses: {
        200: { description: 'The log', contentType: 'text/plain' }, 206: { description: 'The requested bytes', contentType: 'text/plain' },
        404: { description: 'Invalid or expired token, or the log is not written yet', schema: PROBLEM_RESPONSES[404].schema },
        416: { description: 'Nothing past the requested start yet' },
      },
      handler: async (req, reply: FastifyReply) => {
        const artifactRef = cm.logTokens.verify(req.query.token ?? '');
        if (!artifactRef) throw cm.notFound('this log URL is not valid or has expired: read the step\'s logs link again');
        const text = await cm.readArtifact(artifactRef);
        if (!text) throw cm.notFound('this log is not written yet');
        const answer = rangeOf(text, req.headers.range);
        void reply.code(answer.status).header('accept-ranges', 'bytes')
          .type(artifactRef.endsWith('.xml') ? 'application/xml' : 'text/plain; charset=utf-8');
        if (answer.status === 200) return answer.body;
        void reply.header('content-range', answer.contentRange);
        return answer.status === 206 ? answer.body : '';
      },
    },
  ];
}
