/**
 * The OpenAPI 3 document of the HTTP API, served at GET /api/openapi.json. Paths come from the same route table the
 * server registers (src/api/server.ts), so every route served is documented; the schemas are written by hand after
 * Cloud Manager's API definitions (PipelineExecution, PipelineExecutionStepState, ...).
 */
import { EXECUTION_STATUSES, STEP_STATUSES } from '../shared/types';
import { PERMISSIONS, type Permission } from './auth';
import { REL } from './representation';

export interface RouteDoc {
  method: 'GET' | 'PUT';
  /** Fastify form: `/api/program/:programId/...`. */
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  permission: Permission;
  query?: Array<{ name: string; description: string; schema: Record<string, unknown> }>;
  requestBody?: { description: string; schema: Record<string, unknown>; required?: boolean };
  /** Status → description, and the schema of its JSON body when it has one. */
  responses: Record<string, { description: string; schema?: Record<string, unknown>; contentType?: string; headers?: Record<string, string> }>;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

export const PROBLEM_RESPONSES = {
  400: { description: 'Invalid request (bad JSON, a body that does not fit the waiting step, an invalid pipeline configuration)', schema: ref('Problem') },
  401: { description: 'No valid bearer token', schema: ref('Problem') },
  403: { description: "The token's roles do not allow this, or the execution refuses this user (approver list, self-approval)", schema: ref('Problem') },
  404: { description: 'Unknown pipeline, execution, phase or step', schema: ref('Problem') },
  412: { description: 'Not possible in the current state (pipeline busy, nothing waits for it, not re-executable); the detail says why', schema: ref('Problem') },
  503: { description: 'Temporal is unreachable or does not answer in time, or no worker polls the task queue', schema: ref('Problem') },
};

const halLink = { type: 'object', properties: { href: { type: 'string' }, templated: { type: 'boolean' } }, required: ['href', 'templated'] };

const stepStatus = [...STEP_STATUSES];
const executionStatus = [...EXECUTION_STATUSES];
const trigger = ['ON_COMMIT', 'MANUAL', 'PUSH_UPGRADES', 'RE_EXECUTE'];

const SCHEMAS = {
  HalLink: halLink,
  Problem: {
    type: 'object',
    description: 'An error (RFC 9457 problem details); `detail` is the reason, in the workflow\'s own words when it refused.',
    properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' } },
    required: ['type', 'title', 'detail'],
  },
  Accepted: {
    type: 'object',
    properties: { accepted: { type: 'boolean' }, message: { type: 'string' } },
  },
  PipelineExecutionStepState: {
    type: 'object',
    description: 'One step of an execution. `_links` holds advance, cancel, reExecute, logs and metrics only when that action is possible now.',
    properties: {
      id: { type: 'string', description: 'Unique step state id: <pipeline>.<execution>.<position>' },
      stepId: { type: 'string', description: 'Stable step identifier, e.g. build, approval, deploy-prod' },
      phaseId: { type: 'string', enum: ['stageDeployment', 'stageTesting', 'production'] },
      action: { type: 'string', example: 'build' },
      repository: { type: 'string' },
      branch: { type: 'string' },
      commitId: { type: 'string' },
      environment: { type: 'string' },
      environmentType: { type: 'string', enum: ['stage', 'prod'] },
      startedAt: { type: 'string', format: 'date-time' },
      finishedAt: { type: 'string', format: 'date-time' },
      status: { type: 'string', enum: stepStatus },
      details: { type: 'object', description: 'What the step did; varies by action (summary, unit tests, metrics, images, environmentUrls, ...)' },
      trigger: { type: 'string', enum: trigger, description: "The execution's trigger" },
      _links: {
        type: 'object',
        properties: {
          self: halLink, [REL.execution]: halLink, [REL.pipeline]: halLink, [REL.program]: halLink, [REL.advance]: halLink,
          [REL.cancel]: halLink, [REL.reExecute]: halLink, [REL.logs]: halLink, [REL.metrics]: halLink,
        },
      },
    },
  },
  PipelineExecution: {
    type: 'object',
    description: 'An execution of a pipeline, with its step states embedded.',
    properties: {
      id: { type: 'string' },
      programId: { type: 'string', description: 'Echoes the program id of the request (program 1 holds every pipeline)' },
      pipelineId: { type: 'string' },
      artifactsVersion: { type: 'string' },
      user: { type: 'string', description: 'Who started it' },
      status: { type: 'string', enum: executionStatus },
      trigger: { type: 'string', enum: trigger },
      pipelineExecutionMode: { type: 'string', enum: ['NORMAL', 'EMERGENCY'] },
      createdAt: { type: 'string', format: 'date-time' },
      updatedAt: { type: 'string', format: 'date-time' },
      finishedAt: { type: 'string', format: 'date-time' },
      pipelineType: { type: 'string', enum: ['CI_CD'] },
      stagecoachPipelineType: { type: 'string', enum: ['fullStack', 'webTier'] },
      repository: { type: 'string' },
      branch: { type: 'string' },
      commitId: { type: 'string' },
      reason: { type: 'string', description: 'Why it ended the way it did, when it did not finish' },
      reExecutionOf: { type: 'string', description: 'For a RE_EXECUTE execution: the execution whose images it deploys' },
      waiting: { type: 'object', description: 'What it waits for now: step, accepted messages, who may send them, expiry' },
      images: { type: 'object', description: 'The image IDs every environment deploys' },
      environmentUrls: { type: 'object', additionalProperties: { type: 'string' } },
      phases: {
        type: 'array',
        items: { type: 'object', properties: { phaseId: { type: 'string' }, status: { type: 'string', enum: stepStatus }, stepIds: { type: 'array', items: { type: 'string' } } } },
      },
      audit: { type: 'array', description: 'Every message received, accepted or refused, with who sent it', items: { type: 'object' } },
      _embedded: { type: 'object', properties: { stepStates: { type: 'array', items: ref('PipelineExecutionStepState') } } },
      _links: { type: 'object', properties: { self: halLink, [REL.executions]: halLink, [REL.pipeline]: halLink, [REL.program]: halLink } },
    },
  },
  PipelineExecutionSummary: {
    type: 'object',
    description: 'A list item; the full PipelineExecution is at its self link.',
    properties: {
      id: { type: 'string' }, programId: { type: 'string' }, pipelineId: { type: 'string' }, artifactsVersion: { type: 'string' },
      user: { type: 'string' }, status: { type: 'string', enum: executionStatus }, trigger: { type: 'string', enum: trigger },
      createdAt: { type: 'string', format: 'date-time' }, finishedAt: { type: 'string', format: 'date-time' },
      commitId: { type: 'string' }, prodDeployStatus: { type: 'string', enum: stepStatus },
      _links: { type: 'object', properties: { self: halLink } },
    },
  },
  PipelineExecutionListRepresentation: {
    type: 'object',
    properties: {
      _totalNumberOfItems: { type: 'integer' },
      _page: { type: 'object', properties: { start: { type: 'integer' }, limit: { type: 'integer' }, next: { type: 'integer' }, prev: { type: 'integer' } } },
      _embedded: { type: 'object', properties: { executions: { type: 'array', items: ref('PipelineExecutionSummary') } } },
      _links: { type: 'object', properties: { self: halLink, next: halLink, prev: halLink, page: halLink } },
    },
  },
  Metric: {
    type: 'object',
    properties: {
      id: { type: 'string' }, kpi: { type: 'string' },
      severity: { type: 'string', enum: ['critical', 'important', 'informational'] },
      passed: { type: 'boolean' }, override: { type: 'boolean' },
      actualValue: { type: 'string' }, expectedValue: { type: 'string' },
      comparator: { type: 'string', enum: ['GT', 'GTE', 'LT', 'LTE', 'EQ', 'NEQ'] },
    },
  },
  PipelineStepMetrics: { type: 'object', properties: { metrics: { type: 'array', items: ref('Metric') } } },
  StepLogs: {
    type: 'object',
    description: 'With Accept: application/json: the log files of the step, and where to read the first one',
    properties: {
      redirect: { type: 'string' },
      files: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, file: { type: 'string' }, href: { type: 'string' } } } },
    },
  },
  AdvanceBody: {
    description: 'Depends on the waiting step, as in Cloud Manager.',
    oneOf: [
      { title: 'approval / managed review', type: 'object', properties: { approved: { type: 'boolean' }, comment: { type: 'string' }, reason: { type: 'string' } }, required: ['approved'] },
      { title: 'schedule', type: 'object', properties: { type: { type: 'string', enum: ['IMMEDIATE', 'SCHEDULED'] }, schedule: { type: 'string', description: 'With SCHEDULED: an ISO 8601 time in the future, within the step\'s waiting limit ("now" is IMMEDIATE)' } } },
      {
        title: 'gate override (code quality, security test, performance test): the failing important metrics or checks', type: 'object', required: ['metrics'],
        properties: { metrics: { type: 'array', items: { oneOf: [{ type: 'string' }, { type: 'object', properties: { kpi: { type: 'string' }, override: { type: 'boolean' } } }] } } },
      },
    ],
  },
  CancelBody: {
    type: 'object', description: 'Optional. `approved`, `start` or `override` false rejects the waiting step instead of cancelling',
    properties: { cancel: { type: 'boolean' }, approved: { type: 'boolean' }, start: { type: 'boolean' }, override: { type: 'boolean' }, reason: { type: 'string' } },
  },
  ...navigationSchemas(),
};

/** Cloud Manager's navigation resources (reference/cloudmanager-api.yaml has every field; these are the ones served). */
function navigationSchemas() {
  const list = (item: string, key: string) => ({
    type: 'object',
    properties: { _totalNumberOfItems: { type: 'integer' }, _embedded: { type: 'object', properties: { [key]: { type: 'array', items: ref(item) } } }, _links: { type: 'object', properties: { self: halLink } } },
  });
  const text = { type: 'string' };
  return {
    Program: {
      type: 'object', description: 'A configured group of pipelines; program 1 holds every pipeline',
      properties: { id: text, name: text, enabled: { type: 'boolean' }, status: text, type: text, _links: { type: 'object', properties: { self: halLink, [REL.pipelines]: halLink, [REL.environments]: halLink } } },
    },
    ProgramList: list('Program', 'programs'),
    Pipeline: {
      type: 'object',
      properties: {
        id: text, programId: text, name: text, trigger: { type: 'string', enum: ['ON_COMMIT', 'MANUAL'] }, status: { type: 'string', enum: ['IDLE', 'BUSY', 'WAITING'] },
        lastStartedAt: { type: 'string', format: 'date-time' }, lastFinishedAt: { type: 'string', format: 'date-time' }, type: text,
        phases: { type: 'array', items: { type: 'object', properties: { name: text, type: { type: 'string', enum: ['VALIDATE', 'BUILD', 'DEPLOY'] }, environmentType: text, steps: { type: 'array', items: { type: 'object', properties: { name: text } } } } } },
        _links: { type: 'object', properties: { self: halLink, [REL.program]: halLink, [REL.execution]: halLink, [REL.executionId]: halLink, [REL.executions]: halLink } },
      },
    },
    PipelineList: list('Pipeline', 'pipelines'),
    Environment: {
      type: 'object',
      properties: { id: text, programId: text, name: text, description: text, type: { type: 'string', enum: ['stage', 'prod'] }, status: text, _links: { type: 'object', properties: { self: halLink, [REL.program]: halLink, [REL.pipeline]: halLink, [REL.publish]: halLink } } },
    },
    EnvironmentList: list('Environment', 'environments'),
    // An environment keeper's state query (shared/keeper.ts KeeperState), with its links.
    Keeper: {
      type: 'object',
      properties: {
        pipelineId: text, environmentType: { type: 'string', enum: ['stage', 'prod'] }, environment: text,
        status: { type: 'string', enum: ['WAITING_FOR_RELEASE', 'WATCHING', 'HEALING', 'SCALING', 'PAUSED'] },
        pausedBy: text, release: { type: 'object' }, checks: { type: 'integer' }, lastCheckAt: text,
        nodes: { type: 'array', items: { type: 'object', properties: { name: text, condition: text, detail: text, checkedAt: text }, required: ['name', 'condition'] } },
        lastHeal: { type: 'object' },
        budget: { type: 'object', properties: { perHour: { type: 'integer' }, usedLastHour: { type: 'integer' }, left: { type: 'integer' } } },
        audit: { type: 'array', items: { type: 'object', properties: { at: text, what: text, node: text, detail: text }, required: ['at', 'what', 'detail'] } },
        _links: { type: 'object', properties: { self: halLink, scale: halLink } },
      },
      required: ['pipelineId', 'environmentType', 'status', 'checks', 'nodes', 'budget', 'audit'],
    },
  };
}

function pathParams(url: string) {
  return [...url.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => ({
    name, in: 'path', required: true, schema: { type: 'string' },
    ...(name === 'programId' ? { description: 'A program: 1 holds every pipeline; execution routes accept any value and echo it in links' } : {}),
    ...(name === 'stepId' ? { description: 'The stable step identifier (build, approval, deploy-prod, ...)' } : {}),
    ...(name === 'phaseId' ? { description: 'stageDeployment, stageTesting or production' } : {}),
  }));
}

export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, '{$1}');
}

export function buildOpenApiDocument(routes: RouteDoc[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const roles = PERMISSIONS[r.permission];
    const who = roles === undefined ? 'No token needed.' : roles.length ? `Roles: ${roles.join(', ')}.` : 'Any valid token.';
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = {
        description: res.description,
        ...(res.schema ? { content: { [res.contentType ?? (Number(status) >= 400 ? 'application/problem+json' : 'application/json')]: { schema: res.schema } } } : {}),
        ...(res.headers ? { headers: Object.fromEntries(Object.entries(res.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) } : {}),
      };
    }
    (paths[openApiPath(r.url)] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      description: [r.description, who].filter(Boolean).join('\n\n'),
      ...(roles === undefined ? { security: [] } : {}),
      parameters: [...pathParams(r.url), ...(r.query ?? []).map((q) => ({ ...q, in: 'query', required: false }))],
      ...(r.requestBody ? { requestBody: { required: r.requestBody.required ?? false, description: r.requestBody.description, content: { 'application/json': { schema: r.requestBody.schema } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Stagecoach API',
      version: '1.0.0',
      description: "Stagecoach's pipeline executions, shaped like Adobe Cloud Manager's pipeline execution API. HAL `_links` " +
        'appear only when the action is possible now. Every request needs `Authorization: Bearer <token>` (tokens map to ' +
        'users and roles in the tokens file, STAGECOACH_API_TOKENS); the user is who the audit logs record. Cloud ' +
        'Manager\'s other identity headers (`x-api-key`, `x-gw-ims-org-id`) are accepted and not checked. Program 1 holds every pipeline.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: SCHEMAS },
    paths,
  };
}
