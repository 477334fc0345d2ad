/**
 * The part of @adobe/aio-lib-cloudmanager's API the e2e test calls: the package ships its types.d.ts without pointing
 * `types` at it, so TypeScript cannot find them.
 */
declare module '@adobe/aio-lib-cloudmanager' {
  import type { Writable } from 'node:stream';

  /** A HAL resource as halfred parses it: the JSON's fields, and its links. */
  type HalResource = Record<string, unknown> & { id: string; link(rel: string): { href: string } | undefined };
  interface Metric { id: string; kpi: string; severity: string; passed: boolean; override: boolean; actualValue?: string }

  interface CloudManagerAPI {
    listPrograms(): Promise<HalResource[]>;
    listPipelines(programId: string, options?: { busy?: boolean }): Promise<Array<HalResource & { status: string; trigger: string; type: string }>>;
    listEnvironments(programId: string): Promise<Array<HalResource & { type: string; status: string }>>;
    createExecution(programId: string, pipelineId: string, mode?: string): Promise<HalResource & { status: string }>;
    getCurrentExecution(programId: string, pipelineId: string): Promise<Record<string, unknown>>;
    getExecution(programId: string, pipelineId: string, executionId: string): Promise<Record<string, unknown>>;
    listExecutions(programId: string, pipelineId: string, limit?: number): Promise<Array<Record<string, unknown>>>;
    getQualityGateResults(programId: string, pipelineId: string, executionId: string, action: string): Promise<{ metrics: Metric[] }>;
    advanceCurrentExecution(programId: string, pipelineId: string): Promise<object>;
    cancelCurrentExecution(programId: string, pipelineId: string): Promise<object>;
    getExecutionStepLog(programId: string, pipelineId: string, executionId: string, action: string, outputStream: Writable): Promise<object>;
    tailExecutionStepLog(programId: string, pipelineId: string, action: string, outputStream: Writable): Promise<Record<string, unknown>>;
  }

  export function init(orgId: string, apiKey: string, accessToken: string, baseUrl?: string): Promise<CloudManagerAPI>;
}
