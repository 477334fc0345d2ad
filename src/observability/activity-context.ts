/**
 * One activity interceptor, for every activity: it learns where the activity runs (pipeline, execution, step,
 * environment, node) from its workflow id, the step header and its input, and puts that on every log line the
 * activity's logger writes and on the activity's span. No activity says it itself.
 */
import path from 'node:path';
import { trace } from '@opentelemetry/api';
import type { Context } from '@temporalio/activity';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInterceptorsFactory, ReplayWorkerOptions, WorkerOptions, WorkerPlugin } from '@temporalio/worker';
import { STEP_HEADER, contextOfWorkflowId, type LogContext } from '../shared/log-context';

/** The context one activity call runs in; later sources win (the input names the environment, not only its type). */
export function activityLogContext(info: Context['info'], input: ActivityExecuteInput): LogContext {
  const fields: LogContext = contextOfWorkflowId(info.workflowExecution?.workflowId ?? '');
  const header = input.headers[STEP_HEADER];
  if (header && !fields.step) fields.step = defaultPayloadConverter.fromPayload<string>(header);
  const arg = input.args[0] as Record<string, unknown> | undefined;
  if (arg && typeof arg === 'object') {
    if (typeof arg.pipelineId === 'string') fields.pipeline = arg.pipelineId;
    if (typeof arg.executionId === 'string') fields.execution = arg.executionId;
    const environment = arg.environment as { name?: unknown } | undefined;
    if (typeof environment?.name === 'string') fields.environment = environment.name;
    if (typeof arg.node === 'string') fields.node = arg.node;
    else if (typeof arg.pair === 'number') fields.node = `pair-${arg.pair}`;
  }
  return fields;
}

/** The workflow interceptors' module, as the bundler resolves it (.ts in development, .js once compiled). */
const CONTEXT_INTERCEPTORS_MODULE = path.join(__dirname, '..', 'workflows', 'context-interceptors');

const contextInterceptors: ActivityInterceptorsFactory = (ctx) => {
  let fields: LogContext = {};
  return {
    inbound: {
      async execute(input, next) {
        fields = activityLogContext(ctx.info, input);
        // The activity's span, when tracing is on (Temporal's interceptor, registered before this one, started it).
        trace.getActiveSpan()?.setAttributes(Object.fromEntries(Object.entries(fields).map(([k, v]) => [`stagecoach.${k}`, v])));
        return next(input);
      },
    },
    outbound: {
      getLogAttributes: (input, next) => next({ ...input, ...fields }),
    },
  };
};

/**
 * A worker plugin with the activity interceptor above and, when the worker bundles its workflows, the workflow
 * interceptors that pass the step on (src/workflows/context-interceptors.ts). Listed after the tracing plugin, so
 * its interceptors run inside the activity's span.
 */
export const logContextPlugin: WorkerPlugin = {
  name: 'stagecoach-log-context',
  configureWorker: withLogContext,
  configureReplayWorker: withLogContext,
};

function withLogContext<T extends WorkerOptions | ReplayWorkerOptions>(options: T): T {
  const interceptors = options.interceptors ?? {};
  return {
    ...options,
    interceptors: {
      ...interceptors,
      activity: [...(interceptors.activity ?? []), contextInterceptors],
      // A prebuilt bundle has its interceptor modules already (or not): the worker would only warn about these.
      ...(options.workflowsPath ? { workflowModules: [...(interceptors.workflowModules ?? []), CONTEXT_INTERCEPTORS_MODULE] } : {}),
    },
  };
}
