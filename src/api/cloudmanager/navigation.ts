/**
 * Cloud Manager's navigation resources, the ones its clients walk before reaching an execution: programs, a program,
 * its pipelines and environments (Program, PipelineList, Pipeline, EnvironmentList, Environment in
 * reference/cloudmanager-api.yaml). Pure: the routes (./routes.ts) read the configurations and states and pass them in.
 *
 * A program is a configured group of pipelines (`programs:` in a pipeline's configuration); the default program, id
 * 1, holds every pipeline, so a client that only knows "program 1" sees everything.
 */
import { stepsFor, isConfigured, type StepDefinition } from '../../shared/steps';
import type { EnvironmentType, ExecutionState, PipelineConfig, PipelineState } from '../../shared/types';
import { REL, cloudManagerAction, paths, type Links, type LinkContext } from '../representation';

export const DEFAULT_PROGRAM = { id: '1', name: 'Default program' } as const;

export interface ProgramInfo { id: string; name: string }

/** Every program the configurations name, the default first. */
export function programsOf(configs: PipelineConfig[]): ProgramInfo[] {
  const byId = new Map<string, ProgramInfo>([[DEFAULT_PROGRAM.id, { ...DEFAULT_PROGRAM }]]);
  for (const c of configs) for (const p of c.programs ?? []) if (!byId.has(p.id)) byId.set(p.id, { id: p.id, name: p.name ?? p.id });
  return [...byId.values()];
}

export function pipelinesOf(programId: string, configs: PipelineConfig[]): PipelineConfig[] {
  if (programId === DEFAULT_PROGRAM.id) return configs;
  return configs.filter((c) => (c.programs ?? []).some((p) => p.id === programId));
}

export const programPath = (programId: string) => `/api/program/${encodeURIComponent(programId)}`;
const environmentPath = (programId: string, environmentId: string) => `${programPath(programId)}/environment/${encodeURIComponent(environmentId)}`;

export function toEmbeddedProgram(p: ProgramInfo) {
  return { id: p.id, name: p.name, enabled: true, status: 'ready', _links: { self: { href: programPath(p.id), templated: false } } as Links };
}

export function toProgramList(programs: ProgramInfo[]) {
  return {
    _totalNumberOfItems: programs.length,
    _embedded: { programs: programs.map(toEmbeddedProgram) },
    _links: { self: { href: '/api/programs', templated: false } } as Links,
  };
}

export function toProgram(p: ProgramInfo) {
  const self = programPath(p.id);
  return {
    id: p.id,
    name: p.name,
    enabled: true,
    status: 'ready',
    // Cloud Manager's program types are AEM's; a containerized app deployed as AEM Cloud Service is the closest.
    type: 'aem_cloud_service',
    _links: {
      self: { href: self, templated: false },
      [REL.pipelines]: { href: `${self}/pipelines`, templated: false },
      [REL.environments]: { href: `${self}/environments`, templated: false },
    } as Links,
  };
}

/** IDLE, BUSY (running) or WAITING (waiting for a user), from the pipeline workflow and the running execution. */
export function pipelineStatus(pipeline: PipelineState | undefined, running: ExecutionState | undefined): 'IDLE' | 'BUSY' | 'WAITING' {
  if (!pipeline?.running) return 'IDLE';
  return running?.waiting && running.waiting.accepts.some((a) => a !== 'cancel') ? 'WAITING' : 'BUSY';
}

type CloudManagerPhaseType = 'VALIDATE' | 'BUILD' | 'DEPLOY';

/** Cloud Manager's phase of a Stagecoach step: its pipelines show validate, build, then a deploy phase per environment. */
function phaseOf(d: StepDefinition): { type: CloudManagerPhaseType; environmentType?: EnvironmentType } {
  if (d.action === 'validate') return { type: 'VALIDATE' };
  if (d.phaseId === 'stageDeployment' && d.action !== 'deploy') return { type: 'BUILD' };
  return { type: 'DEPLOY', environmentType: d.phaseId === 'production' ? 'prod' : 'stage' };
}

export function environmentId(pipelineId: string, type: EnvironmentType): string {
  return `${pipelineId}-${type}`;
}

function toPhases(config: PipelineConfig) {
  const phases: Array<{ name: string; type: CloudManagerPhaseType; environmentType?: EnvironmentType; environmentId?: string;
    repositoryId?: string; branch?: string; steps: Array<{ name: string }> }> = [];
  for (const d of stepsFor(config.type, 'MANUAL').filter((s) => isConfigured(s, config))) {
    const { type, environmentType } = phaseOf(d);
    let phase = phases.find((p) => p.type === type && p.environmentType === environmentType);
    if (!phase) {
      phase = {
        name: environmentType ? `${environmentType} ${type.toLowerCase()}` : type.toLowerCase(), type,
        ...(environmentType ? { environmentType, environmentId: environmentId(config.id, environmentType) } : {}),
        ...(type === 'BUILD' ? { repositoryId: config.repository, branch: config.branch } : {}),
        steps: [],
      };
      phases.push(phase);
    }
    phase.steps.push({ name: cloudManagerAction(d.action) });
  }
  return phases;
}

export function toPipeline(config: PipelineConfig, c: LinkContext, pipeline: PipelineState | undefined, running: ExecutionState | undefined) {
  const self = paths.pipeline(c, config.id);
  const ended = pipeline?.executions ?? [];
  const lastStarted = pipeline?.running?.createdAt ?? ended.at(-1)?.createdAt;
  const lastFinished = [...ended].reverse().find((e) => e.finishedAt)?.finishedAt;
  return {
    id: config.id,
    programId: c.programId,
    name: config.name,
    trigger: config.triggers.onCommit ? 'ON_COMMIT' : 'MANUAL',
    status: pipelineStatus(pipeline, running),
    ...(lastStarted ? { lastStartedAt: lastStarted } : {}),
    ...(lastFinished ? { lastFinishedAt: lastFinished } : {}),
    ...(running?.updatedAt ?? lastFinished ? { updatedAt: running?.updatedAt ?? lastFinished } : {}),
    type: 'CI_CD',
    stagecoachPipelineType: config.type,
    phases: toPhases(config),
    _links: {
      self: { href: self, templated: false },
      [REL.program]: { href: programPath(c.programId), templated: false },
      [REL.execution]: { href: `${self}/execution`, templated: false },
      [REL.executionId]: { href: `${self}/execution/{executionId}`, templated: true },
      [REL.executions]: { href: paths.executions(c, config.id), templated: false },
    } as Links,
  };
}

export function toPipelineList(programId: string, pipelines: Array<ReturnType<typeof toPipeline>>) {
  return {
    _totalNumberOfItems: pipelines.length,
    _embedded: { pipelines },
    _links: { self: { href: `${programPath(programId)}/pipelines`, templated: false } } as Links,
  };
}

/**
 * A pipeline's environment. `urls` are where the last execution that reached it saw it serve; `deploying` is true
 * while the running execution deploys there.
 */
export function toEnvironment(config: PipelineConfig, type: EnvironmentType, programId: string, view: { url?: string; deploying: boolean }) {
  const id = environmentId(config.id, type);
  const links: Links = {
    self: { href: environmentPath(programId, id), templated: false },
    [REL.program]: { href: programPath(programId), templated: false },
    [REL.pipeline]: { href: paths.pipeline({ programId }, config.id), templated: false },
  };
  if (view.url) links[REL.publish] = { href: view.url, templated: false };
  return {
    id,
    programId,
    name: config.environments[type].name,
    description: `${type === 'prod' ? 'Production' : 'Stage'} of pipeline ${config.name}`,
    type,
    // Cloud Manager's states: `ready` once deployed, `updating` while a deployment runs, `created` before the first.
    status: view.deploying ? 'updating' : view.url ? 'ready' : 'created',
    pipelineId: config.id,
    ...(view.url ? { publishUrl: view.url } : {}),
    _links: links,
  };
}

export function toEnvironmentList(programId: string, environments: Array<ReturnType<typeof toEnvironment>>) {
  return {
    _totalNumberOfItems: environments.length,
    _embedded: { environments },
    _links: { self: { href: `${programPath(programId)}/environments`, templated: false } } as Links,
  };
}
