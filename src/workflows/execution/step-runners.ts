/** Which runner does each step action's work, by phase: stage deployment, stage testing, production. */
import type { StepAction } from '../../shared/types';
import { deploy } from './deploy-step';
import { approvalStep, schedule } from './production-steps';
import { build, buildImage, codeQuality, validate } from './stage-deployment-steps';
import { contentAudit, customTests, performanceTest, productTest, securityTest } from './stage-testing-steps';
import type { StepRunner } from './step-context';

export const STEP_RUNNERS: Record<StepAction, StepRunner> = {
  validate, build, codeQuality, buildImage, deploy, productTest,
  functionalTest: customTests('functional'), uiTest: customTests('ui'), securityTest, performanceTest, contentAudit,
  approval: approvalStep('approval'), managed: approvalStep('managed'), schedule,
};
