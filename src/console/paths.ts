/** The console's own URLs, in one place so that pages and routes agree on them. */
const enc = encodeURIComponent;

export const consolePaths = {
  home: '/',
  signIn: '/console/sign-in',
  signOut: '/console/sign-out',
  pipeline: (pipelineId: string) => `/console/pipelines/${enc(pipelineId)}`,
  start: (pipelineId: string) => `/console/pipelines/${enc(pipelineId)}/start`,
  insights: (pipelineId: string) => `/console/pipelines/${enc(pipelineId)}/insights`,
  keeper: (pipelineId: string, environmentType: string) => `/console/pipelines/${enc(pipelineId)}/keepers/${enc(environmentType)}`,
  keeperScale: (pipelineId: string, environmentType: string) => `/console/pipelines/${enc(pipelineId)}/keepers/${enc(environmentType)}/scale`,
  execution: (pipelineId: string, executionId: string) => `/console/pipelines/${enc(pipelineId)}/executions/${enc(executionId)}`,
  events: (pipelineId: string, executionId: string) => `${consolePaths.execution(pipelineId, executionId)}/events`,
  actions: (pipelineId: string, executionId: string) => `${consolePaths.execution(pipelineId, executionId)}/actions`,
  log: (pipelineId: string, executionId: string, stepId: string, file: string) =>
    `${consolePaths.execution(pipelineId, executionId)}/steps/${enc(stepId)}/log?file=${enc(file)}`,
  file: (pipelineId: string, executionId: string, stepId: string, file: string) =>
    `${consolePaths.execution(pipelineId, executionId)}/steps/${enc(stepId)}/files/${enc(file)}`,
};
