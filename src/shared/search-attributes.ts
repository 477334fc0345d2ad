/** Search attributes that make executions findable in the Temporal Web UI. All Keyword. */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const PipelineIdKey = defineSearchAttributeKey('PipelineId', SearchAttributeType.KEYWORD);
export const PipelineStepKey = defineSearchAttributeKey('PipelineStep', SearchAttributeType.KEYWORD);
export const PipelineStatusKey = defineSearchAttributeKey('PipelineStatus', SearchAttributeType.KEYWORD);
export const PipelineTriggerKey = defineSearchAttributeKey('PipelineTrigger', SearchAttributeType.KEYWORD);
export const CommitIdKey = defineSearchAttributeKey('CommitId', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [PipelineIdKey, PipelineStepKey, PipelineStatusKey, PipelineTriggerKey, CommitIdKey];
