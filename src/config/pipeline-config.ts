/**
 * Pipeline configuration: one YAML file per pipeline in the pipelines directory (examples/pipelines by default,
 * STAGECOACH_PIPELINES_DIR to change it). Validated here with the path of every bad field, so a mistake is reported
 * before anything starts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { PIPELINE_ID_PATTERN } from '../shared/ids';
import { DEFAULT_WAIT_TIMEOUT } from '../shared/steps';
import { RATINGS, type PipelineConfig, type Rating } from '../shared/types';
import { DEFAULT_KEEPER, DEFAULT_QUALITY, DEFAULT_ROLLOUT_HISTORY_LIMIT } from '../shared/config-defaults';
import { DEFAULT_ENGINE, parseSubnet, subnetsOverlap } from '../topology/placement';
import { msToNumber } from '@temporalio/common/lib/time';
import {
  DEFAULT_PERFORMANCE_TEST, DEFAULT_SECURITY_TEST, PERFORMANCE_LIMITS, PERFORMANCE_METRICS, SECURITY_CHECKS,
  type PerformanceMetricId, type SecurityCheckId,
} from '../shared/stage-gates';
import { readKeyFiles } from './key-files';
import { checkIdentity, identityConfigShape, trustFromConfig } from './identity-config';
import { EXAMPLES_DIR, PROJECT_ROOT } from './paths';
import { sitePathProblem } from '../shared/site-path';

export const DEFAULT_PIPELINES_DIR = path.join(EXAMPLES_DIR, 'pipelines');

export function pipelinesDir(): string {
  return process.env.STAGECOACH_PIPELINES_DIR ? path.resolve(process.env.STAGECOACH_PIPELINES_DIR) : DEFAULT_PIPELINES_DIR;
}

/** '14 days', '90s', '500ms', '2 hours' or a number of milliseconds: what Temporal timers accept. */
const duration = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(\.\d+)?\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)$/i,
    'a duration such as "14 days", "90s", "500ms"'),
]);

/** A duration no longer than `maxMs` (what the activity that waits it out allows), `what` saying that limit. */
const durationAtMost = (maxMs: number, what: string) => duration.refine((d) => msToNumber(d as never) <= maxMs, what);

const port = z.number().int().min(0).max(65535);

const dockerHost = z.object({
  socketPath: z.string().optional(),
  host: z.string().optional(),
  port: z.number().int().optional(),
  protocol: z.enum(['http', 'https', 'ssh']).optional(),
  username: z.string().optional(),
  certPath: z.string().optional(),
  sshKeyPath: z.string().optional(),
  publishAddress: z.string().refine((v) => parseSubnet(`${v}/32`) !== undefined, 'an IPv4 address such as 10.0.0.7')
    .refine((v) => v !== '0.0.0.0', 'one address, not every interface: name the address the worker reaches this engine at').optional(),
}).strict();

/** An IPv4 network for an environment's Docker network: at least a /24, so every node's fixed address fits. */
const subnet = z.string().refine((v) => parseSubnet(v) !== undefined, 'an IPv4 network such as 10.213.1.0/24 (host bits zero)')
  .refine((v) => (parseSubnet(v)?.prefix ?? 0) <= 24, 'at least a /24 (64 pairs need addresses up to .164)');

const engine = z.object({ docker: dockerHost, subnet }).strict();

const environment = (type: 'stage' | 'prod') => z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes').default(type),
  pairs: z.number().int().min(1).max(64).default(type === 'stage' ? 1 : 2),
  window: z.number().int().min(1).default(1),
  loadBalancerPort: port.default(0),
  authorPort: port.default(0),
  docker: dockerHost.optional(),
  subnet: subnet.optional(),
  engines: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'engine names: lowercase letters, digits and dashes'), engine).default({}),
  placement: z.record(z.string(), z.string()).default({}),
  // The drain wait runs inside one load balancer activity (5 minutes to close): its bound leaves it room to finish.
  drainTimeout: durationAtMost(4 * 60_000, 'at most 4 minutes (the load balancer activity\'s own limit is 5)').default('30s'),
  strategy: z.enum(['rolling', 'maintenance']).default('rolling'),
  // A held request waits in HAProxy; a client or proxy in front gives up long before 5 minutes.
  holdTimeout: durationAtMost(5 * 60_000, 'at most 5 minutes').default('60s'),
  minInService: z.number().int().min(1).max(64).default(1),
  capacityTimeout: durationAtMost(60 * 60_000, 'at most 1 hour').default('5 minutes'),
  rolloutHistoryLimit: z.number().int().min(1).max(9000).default(DEFAULT_ROLLOUT_HISTORY_LIMIT),
  stickyVersions: z.boolean().default(true),
  keeper: z.object({
    enabled: z.boolean().default(DEFAULT_KEEPER.enabled),
    // Each check inspects every container and asks the load balancer: a few seconds of work at most.
    interval: duration.refine((d) => msToNumber(d as never) >= 5000, 'at least 5 seconds').default(DEFAULT_KEEPER.interval),
    healsPerHour: z.number().int().min(1).max(60).default(DEFAULT_KEEPER.healsPerHour),
  }).strict().prefault({}),
}).strict().transform((env) => ({ ...env, type }))
  .refine((env) => env.window <= env.pairs, { message: 'window cannot exceed pairs', path: ['window'] })
  .superRefine(checkPlacement);

/**
 * A topology spanning engines must be one HAProxy can reach: every placed node exists and names a declared engine, and
 * each engine's network has its own subnet (fixed addresses, routed between the machines).
 */
function checkPlacement(env: { pairs: number; docker?: unknown; subnet?: string; engines: Record<string, { docker: unknown; subnet: string }>; placement: Record<string, string> }, ctx: z.RefinementCtx) {
  const problem = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path, message });
  const names = Object.keys(env.engines);
  if (names.includes(DEFAULT_ENGINE)) {
    problem(['engines', DEFAULT_ENGINE], `"${DEFAULT_ENGINE}" is the environment's own engine (its docker) in messages and state: give this one another name`);
  }
  for (const [node, name] of Object.entries(env.placement)) {
    const pair = /^(?:pair|publish|dispatcher)-(\d+)$/.exec(node);
    if (node !== 'author' && !pair) {
      problem(['placement', node], `"${node}" is not a node: use "author", "pair-N" (both nodes of a pair), "publish-N" or "dispatcher-N", N from 1 to ${env.pairs}`);
    } else if (pair && (Number(pair[1]) < 1 || Number(pair[1]) > env.pairs)) {
      problem(['placement', node], `there is no ${node}: this environment has pairs 1 … ${env.pairs}`);
    }
    if (!env.engines[name]) {
      problem(['placement', node], `unknown engine "${name}": ${names.length ? `declared engines are ${names.join(', ')}` : 'declare it under engines'}`);
    }
  }
  if (Object.keys(env.placement).length > 0 && !env.subnet) {
    problem(['subnet'], 'required once nodes run on other engines: the load balancer\'s network needs a declared subnet (e.g. 10.213.1.0/24)');
  }
  const seen: Array<{ where: string; subnet: string }> = env.subnet ? [{ where: 'subnet', subnet: env.subnet }] : [];
  const dockers = new Map<string, string>([[JSON.stringify(env.docker ?? {}), 'the environment\'s own docker']]);
  for (const [name, e] of Object.entries(env.engines)) {
    const clash = seen.find((s) => parseSubnet(s.subnet) && parseSubnet(e.subnet) && subnetsOverlap(parseSubnet(s.subnet)!, parseSubnet(e.subnet)!));
    if (clash) problem(['engines', name, 'subnet'], `${e.subnet} overlaps ${clash.subnet} (${clash.where}): each engine's network needs its own subnet`);
    seen.push({ where: `engines.${name}.subnet`, subnet: e.subnet });
    const key = JSON.stringify(e.docker);
    if (dockers.has(key)) problem(['engines', name, 'docker'], `the same engine as ${dockers.get(key)}: one engine holds one network per environment`);
    dockers.set(key, `engines.${name}`);
  }
}

const ROLES = ['BUSINESS_OWNER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER'] as const;

const rating = z.enum(RATINGS as [Rating, ...Rating[]]);
const percent = z.number().min(0).max(100);
const q = DEFAULT_QUALITY;

const quality = z.object({
  thresholds: z.object({
    securityRating: rating.default(q.thresholds.securityRating),
    reliabilityRating: rating.default(q.thresholds.reliabilityRating),
    maintainabilityRating: rating.default(q.thresholds.maintainabilityRating),
    coverage: percent.default(q.thresholds.coverage),
    skippedTests: z.number().int().min(0).default(q.thresholds.skippedTests),
    openIssues: z.number().int().min(0).default(q.thresholds.openIssues),
    duplicatedLines: percent.default(q.thresholds.duplicatedLines),
  }).strict().prefault({}),
  importantMetricFailures: z.enum(['ask', 'fail', 'continue']).default(q.importantMetricFailures),
  overrideRoles: z.array(z.enum(ROLES)).min(1).default(q.overrideRoles as Array<(typeof ROLES)[number]>),
  overrideTimeout: duration.default(q.overrideTimeout),
}).strict().prefault({});

const customTest = (kind: 'functional' | 'ui', timeout: string) => z.object({
  enabled: z.boolean().default(true),
  context: z.string().min(1).default(`tests/${kind}`),
  timeout: duration.default(timeout),
}).strict().prefault({});

const gateSeverity = z.enum(['critical', 'important']);
/** A path on the environment's own site (shared/site-path.ts says what is refused and why). */
const pagePath = z.string().superRefine((value, ctx) => {
  const problem = sitePathProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const S = DEFAULT_SECURITY_TEST;
const P = DEFAULT_PERFORMANCE_TEST;
const validRegExp = (value: string) => { try { new RegExp(value); return true; } catch { return false; } };

/** Optional (absent: no securityTest step). `securityTest: {}` runs every check with its default tier. */
const securityTest = z.object({
  pages: z.array(pagePath).min(1).max(20).default(S.pages),
  requiredHeaders: z.record(z.string().regex(/^[A-Za-z0-9-]+$/, 'a header name'), z.string().refine(validRegExp, 'a regular expression'))
    .default(S.requiredHeaders),
  exposedPaths: z.array(pagePath).max(50).default(S.exposedPaths),
  listingPaths: z.array(pagePath).max(20).default(S.listingPaths),
  severity: z.object(Object.fromEntries(SECURITY_CHECKS.map((id) => [id, gateSeverity.default(S.severity[id])])) as
    Record<SecurityCheckId, z.ZodDefault<typeof gateSeverity>>).strict().prefault({}),
  overrideRoles: z.array(z.enum(ROLES)).min(1).default(S.overrideRoles as Array<(typeof ROLES)[number]>),
  overrideTimeout: duration.default(S.overrideTimeout),
}).strict();

/** Optional (absent: no performanceTest step). A bounded load on Stage's load balancer (127.0.0.1 only). */
const performanceTest = z.object({
  pages: z.array(pagePath).min(1).max(20).default(P.pages),
  requestsPerSecond: z.number().int().min(1).max(PERFORMANCE_LIMITS.maxRequestsPerSecond).default(P.requestsPerSecond),
  duration: duration.default(P.duration)
    .refine((d) => msToNumber(d as never) <= PERFORMANCE_LIMITS.maxDurationMs, 'at most 5 minutes'),
  concurrency: z.number().int().min(1).max(PERFORMANCE_LIMITS.maxConcurrency).default(P.concurrency),
  thresholds: z.object({
    errorRate: percent.default(P.thresholds.errorRate),
    p50Ms: z.number().min(0).default(P.thresholds.p50Ms),
    p95Ms: z.number().min(0).default(P.thresholds.p95Ms),
    minThroughput: z.number().min(0).optional(),
  }).strict().prefault({}),
  severity: z.object(Object.fromEntries(PERFORMANCE_METRICS.map((id) => [id, gateSeverity.default(P.severity[id])])) as
    Record<PerformanceMetricId, z.ZodDefault<typeof gateSeverity>>).strict().prefault({}),
  overrideRoles: z.array(z.enum(ROLES)).min(1).default(P.overrideRoles as Array<(typeof ROLES)[number]>),
  overrideTimeout: duration.default(P.overrideTimeout),
}).strict()
  .refine((p) => msToNumber(p.duration as never) / 1000 * p.requestsPerSecond <= PERFORMANCE_LIMITS.maxTotalRequests,
    { message: `requestsPerSecond × duration exceeds ${PERFORMANCE_LIMITS.maxTotalRequests} requests`, path: ['duration'] });

export const pipelineConfigSchema = z.object({
  id: z.string().regex(PIPELINE_ID_PATTERN, 'lowercase letters, digits and dashes, at most 40 characters'),
  name: z.string().optional(),
  // The Cloud Manager API's programs this pipeline belongs to, besides the default program (id 1) that holds every pipeline.
  programs: z.array(z.object({
    id: z.string().regex(/^[A-Za-z0-9-]{1,40}$/, 'letters, digits and dashes, at most 40').refine((id) => id !== '1', 'program 1 is the default program'),
    name: z.string().min(1).max(64).optional(),
  }).strict()).default([]),
  type: z.enum(['fullStack', 'webTier']).default('fullStack'),
  repository: z.string().min(1),
  branch: z.string().min(1).default('main'),
  app: z.object({
    imageName: z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/).optional(),
    dockerfile: z.string().default('Dockerfile'),
    testTarget: z.string().default('test'),
    runtimeTarget: z.string().default('runtime'),
    port: z.number().int().min(1).max(65535).default(8080),
    healthPath: pagePath.default('/health'),
    dispatcherContext: z.string().default('dispatcher'),
    hooks: z.object({
      build: z.array(z.string().min(1)).default([]),
      deploy: z.array(z.string().min(1)).default([]),
      postDeploy: z.array(z.string().min(1)).default([]),
    }).strict().prefault({}),
    mounts: z.array(z.string().regex(/^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/, 'an absolute path (not /)')).default([]),
    readOnlyRootFilesystem: z.boolean().default(false),
  }).strict().prefault({}),
  environments: z.object({
    stage: environment('stage').prefault({}),
    prod: environment('prod').prefault({}),
  }).strict().prefault({}),
  approval: z.object({
    approvers: z.array(z.object({ name: z.string().min(1), roles: z.array(z.enum(ROLES)).min(1) }).strict()).default([]),
    timeout: duration.default(DEFAULT_WAIT_TIMEOUT),
    required: z.number().int().min(1).default(1),
    managedReview: z.object({
      approvers: z.array(z.string().min(1)).min(1),
      timeout: duration.default(DEFAULT_WAIT_TIMEOUT),
    }).strict().optional(),
  }).strict().prefault({})
    .refine((a) => a.approvers.length === 0 || a.required <= a.approvers.length,
      { message: 'required cannot exceed the number of approvers', path: ['required'] }),
  // Cloud Manager's pipeline setting: without the schedule step, Production deploys as soon as it is approved.
  schedule: z.object({ enabled: z.boolean().default(true), timeout: duration.default(DEFAULT_WAIT_TIMEOUT) }).strict().prefault({}),
  productTest: z.object({
    pages: z.array(z.object({ path: pagePath, expect: z.string().optional() }).strict())
      .default([{ path: '/' }]),
  }).strict().prefault({}),
  cache: z.object({ warmPages: z.array(pagePath).default(['/']) }).strict().prefault({}),
  audit: z.object({ pages: z.array(pagePath).max(25).default(['/']) }).strict().prefault({}),
  quality,
  tests: z.object({
    functional: customTest('functional', '60 minutes'),
    ui: customTest('ui', '30 minutes'),
  }).strict().prefault({}),
  securityTest: securityTest.optional(),
  performanceTest: performanceTest.optional(),
  events: z.object({
    webhooks: z.array(z.object({
      url: z.string().url(),
      secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'the NAME of an environment variable holding the secret'),
      events: z.array(z.enum(['started', 'waiting', 'ended', 'healed', 'scaled'])).min(1).optional(),
      format: z.enum(['cloudevents', 'cloudmanager']).optional(),
    }).strict()).default([]),
  }).strict().prefault({}),
  triggers: z.object({
    onCommit: z.object({ pollInterval: duration.default('1 minute') }).strict().optional(),
  }).strict().prefault({}),
  ...identityConfigShape,
}).strict().superRefine(checkIdentity);

export class InvalidPipelineConfigError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`Invalid pipeline configuration ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InvalidPipelineConfigError';
  }
}

export class PipelineNotFoundError extends Error {
  constructor(readonly pipelineId: string, readonly dir: string, known: string[]) {
    super(`Unknown pipeline "${pipelineId}": no ${pipelineId}.yaml in ${dir}` +
      (known.length ? ` (known pipelines: ${known.join(', ')})` : ' (no pipelines configured there)'));
    this.name = 'PipelineNotFoundError';
  }
}

/** Validates raw configuration (already parsed from YAML) and fills in the defaults. */
export function parsePipelineConfig(raw: unknown, source = 'config'): PipelineConfig {
  const result = pipelineConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new InvalidPipelineConfigError(source, result.error.issues.map((issue) =>
      `${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`));
  }
  // The identity keys travel as one plain `trust` (what the workflow verifies decisions with), not as loose fields.
  const { identity: _identity, people: _people, identityProviders: _providers, revokedKeys: _revoked, decisionMaxAge: _age,
    clockSkew: _skew, emergencyRoles: _emergency, ...config } = result.data;
  return {
    ...config,
    name: config.name ?? config.id,
    app: { ...config.app, imageName: config.app.imageName ?? `stagecoach/${config.id}` },
    trust: trustFromConfig(result.data),
  } as PipelineConfig;
}

export async function listPipelineIds(dir = pipelinesDir()): Promise<string[]> {
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  return entries.filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
}

/** Loads and validates `<dir>/<pipelineId>.yaml`; the file's `id` must match its name. */
export async function loadPipelineConfig(pipelineId: string, dir = pipelinesDir()): Promise<PipelineConfig> {
  if (!PIPELINE_ID_PATTERN.test(pipelineId)) {
    throw new PipelineNotFoundError(pipelineId, dir, await listPipelineIds(dir));
  }
  const file = path.join(dir, `${pipelineId}.yaml`);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new PipelineNotFoundError(pipelineId, dir, await listPipelineIds(dir));
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new InvalidPipelineConfigError(file, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  const withKeys = await readKeyFiles(raw, PROJECT_ROOT);
  if (withKeys.problems.length) throw new InvalidPipelineConfigError(file, withKeys.problems);
  const config = parsePipelineConfig(withKeys.raw, file);
  if (config.id !== pipelineId) {
    throw new InvalidPipelineConfigError(file, [`id: is "${config.id}" but the file is named ${pipelineId}.yaml`]);
  }
  return config;
}

/** A repository given as a relative path is relative to the project root. */
export function resolveRepository(repository: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(repository) || /^[^/]+@[^:]+:/.test(repository)) return repository;
  return path.resolve(PROJECT_ROOT, repository);
}
