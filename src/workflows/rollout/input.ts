/** What a rollout is given by its execution, and what one run hands the next when it continues as new. */
import type { EnvironmentConfig, RolloutResult } from '../../shared/types';

export interface RolloutInput {
  pipelineId: string;
  executionId: string;
  /** The execution workflow's first run id: unique per execution, whatever its number (absent in older rollouts). */
  executionUid?: string;
  environment: EnvironmentConfig;
  /** Image IDs to deploy; without `app` (web tier) only the dispatchers change. */
  images: { app?: string; dispatcher: string };
  app: {
    port: number;
    healthPath: string;
    /** The app's deploy and post-deploy hooks (absent in older executions: none). */
    hooks?: { deploy: string[]; postDeploy: string[] };
    /** Writable paths under a read-only root filesystem (publish and author). */
    mounts?: string[];
    readOnlyRootFilesystem?: boolean;
  };
  warmPages: string[];
  /** Where a rollout that continued as new picks up (absent on its first run). */
  resume?: RolloutResume;
}

/** What one run of a rollout hands the next when it continues as new, at a window boundary. */
export interface RolloutResume {
  state: RolloutResult;
  /** Names of the nodes already (or possibly) replaced: what a rollback restores, whichever run fails. */
  touched: string[];
  /** The plan stage and the window group within it to run next. */
  stage: number;
  group: number;
}
