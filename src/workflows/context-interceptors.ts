/**
 * Workflow interceptors (a module the worker adds to the bundle it makes): each activity an execution schedules
 * carries the step it is at (its PipelineStep search attribute) in a header, and the workflow's own log lines say
 * it too, so the activity's logs and spans name their step without any activity or step runner saying so. Headers
 * are no part of what a replay compares, so histories recorded without this module replay unchanged.
 */
import { defaultPayloadConverter, workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { STEP_HEADER } from '../shared/log-context';
import { PipelineStepKey } from '../shared/search-attributes';

const currentStep = (): string | undefined => workflowInfo().typedSearchAttributes.get(PipelineStepKey);

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [{
    scheduleActivity(input, next) {
      const step = currentStep();
      return next(step ? { ...input, headers: { ...input.headers, [STEP_HEADER]: defaultPayloadConverter.toPayload(step) } } : input);
    },
    getLogAttributes(input, next) {
      const step = currentStep();
      return next(step ? { ...input, step } : input);
    },
  }],
});
