/** The pipeline's steps as data: which steps an execution runs, in order, for each pipeline type and trigger. */
import type { EnvironmentType, ExecutionMode, PhaseId, PipelineConfig, PipelineType, StepAction, Trigger } from './types';

export interface StepDefinition {
  stepId: string;
  phaseId: PhaseId;
  action: StepAction;
  environmentType?: EnvironmentType;
  /** Modes in which the step is skipped (EMERGENCY skips the security/performance tests and the audit, never the approval). */
  skippedIn?: ExecutionMode[];
  /**
   * Present only when the pipeline configures it (the config section of that name; the schedule unless it is turned
   * off). Executions started before a section existed carry configs without it, so their step lists (and replays)
   * stay as they were.
   */
  when?: 'managedReview' | 'securityTest' | 'performanceTest' | 'schedule';
}

const step = (phaseId: PhaseId, action: StepAction, extra: Partial<StepDefinition> = {}): StepDefinition => ({
  stepId: extra.environmentType ? `${action}-${extra.environmentType}` : action,
  phaseId,
  action,
  ...extra,
});

/** Production, the same for every pipeline type: the approval, a managed review where configured, the schedule, the deploy. */
const PRODUCTION_STEPS: readonly StepDefinition[] = [
  step('production', 'approval'),
  step('production', 'managed', { when: 'managedReview' }),
  step('production', 'schedule', { when: 'schedule' }),
  step('production', 'deploy', { environmentType: 'prod' }),
];

const FULL_STACK_STEPS: readonly StepDefinition[] = [
  step('stageDeployment', 'validate'),
  step('stageDeployment', 'build'),
  step('stageDeployment', 'codeQuality'),
  step('stageDeployment', 'buildImage'),
  step('stageDeployment', 'deploy', { environmentType: 'stage' }),
  step('stageTesting', 'productTest'),
  step('stageTesting', 'functionalTest'),
  step('stageTesting', 'uiTest'),
  step('stageTesting', 'securityTest', { when: 'securityTest', skippedIn: ['EMERGENCY'] }),
  step('stageTesting', 'performanceTest', { when: 'performanceTest', skippedIn: ['EMERGENCY'] }),
  step('stageTesting', 'contentAudit', { skippedIn: ['EMERGENCY'] }),
  ...PRODUCTION_STEPS,
];

/** Web tier: dispatcher configuration only, so a cache rule change ships in minutes. */
const WEB_TIER_STEPS: readonly StepDefinition[] = [
  step('stageDeployment', 'validate'),
  step('stageDeployment', 'buildImage'),
  step('stageDeployment', 'deploy', { environmentType: 'stage' }),
  ...PRODUCTION_STEPS,
];

/** Re-executing the production deployment: validate, copy the previous artifacts, deploy them. */
const RE_EXECUTE_STEPS: readonly StepDefinition[] = [
  step('stageDeployment', 'validate'),
  step('stageDeployment', 'build'),
  step('production', 'deploy', { environmentType: 'prod' }),
];

/** Whether a step with a `when` is part of an execution of this configuration. */
export function isConfigured(definition: StepDefinition, config: PipelineConfig): boolean {
  switch (definition.when) {
    case undefined: return true;
    case 'managedReview': return config.approval.managedReview !== undefined;
    case 'securityTest': return config.securityTest !== undefined;
    case 'performanceTest': return config.performanceTest !== undefined;
    case 'schedule': return config.schedule.enabled !== false;
  }
}

export function stepsFor(type: PipelineType, trigger: Trigger): readonly StepDefinition[] {
  if (trigger === 'RE_EXECUTE') return RE_EXECUTE_STEPS;
  return type === 'webTier' ? WEB_TIER_STEPS : FULL_STACK_STEPS;
}

/** The default limit of every waiting step, as Cloud Manager has it. */
export const DEFAULT_WAIT_TIMEOUT = '14 days';
