/** The workflow types the worker registers: pipeline, pipelineExecution, rollingDeployment. */
export { pipeline } from './pipeline';
export { pipelineExecution } from './pipeline-execution';
export { rollingDeployment } from './rolling-deployment';
export { eventDelivery } from './event-delivery';
