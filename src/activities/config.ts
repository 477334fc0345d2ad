/** Pipeline configuration, read and validated on the worker: its result is recorded in history, so replays agree. */
import { ApplicationFailure } from '@temporalio/common';
import { InvalidPipelineConfigError, PipelineNotFoundError, loadPipelineConfig } from '../config/pipeline-config';
import { NonRetryable } from '../shared/errors';
import type { PipelineConfig } from '../shared/types';

export function createConfigActivities(deps: { pipelinesDir: string }) {
  async function loadPipeline(input: { pipelineId: string }): Promise<PipelineConfig> {
    try {
      return await loadPipelineConfig(input.pipelineId, deps.pipelinesDir);
    } catch (err) {
      if (err instanceof PipelineNotFoundError) throw ApplicationFailure.nonRetryable(err.message, NonRetryable.PipelineNotFound);
      if (err instanceof InvalidPipelineConfigError) throw ApplicationFailure.nonRetryable(err.message, NonRetryable.InvalidConfig);
      throw err;
    }
  }
  return { loadPipeline };
}
