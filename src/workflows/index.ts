/** The workflow types the worker registers: pipeline, pipelineExecution, rollingDeployment, eventDelivery, environmentKeeper. */
export { pipeline } from './pipeline';
export { pipelineExecution } from './pipeline-execution';
export { rollingDeployment } from './rolling-deployment';
export { eventDelivery } from './event-delivery';
export { environmentKeeper } from './environment-keeper';
