/**
 * Types shared by workflows, activities, the CLI and the API. Plain data only (it crosses Temporal payloads).
 * Status vocabularies follow Cloud Manager's PipelineExecution and PipelineExecutionStepState definitions.
 */
import type { DurationSpec } from './duration';
import type { PerformanceTestConfig, SecurityTestConfig } from './stage-gates';
import type { Trust, TrustModel } from './identity';

export const EXECUTION_STATUSES = ['NOT_STARTED', 'RUNNING', 'CANCELLING', 'CANCELLED', 'FINISHED', 'ERROR', 'FAILED'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** The statuses an execution ends in: nothing waits, nothing runs, no message is accepted. */
const TERMINAL_EXECUTION_STATUSES: readonly ExecutionStatus[] = ['CANCELLED', 'FINISHED', 'ERROR', 'FAILED'];

export function isTerminal(status: string): boolean {
  return (TERMINAL_EXECUTION_STATUSES as readonly string[]).includes(status);
}

export const STEP_STATUSES = [
  'NOT_STARTED', 'RUNNING', 'FINISHED', 'ERROR', 'ROLLING_BACK', 'ROLLED_BACK', 'WAITING', 'CANCELLED', 'FAILED',
] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export const TRIGGERS = ['MANUAL', 'ON_COMMIT', 'PUSH_UPGRADES', 'RE_EXECUTE'] as const;
export type Trigger = (typeof TRIGGERS)[number];

export const MODES = ['NORMAL', 'EMERGENCY'] as const;
export type ExecutionMode = (typeof MODES)[number];

export type PhaseId = 'stageDeployment' | 'stageTesting' | 'production';
export type StepAction =
  | 'validate' | 'build' | 'codeQuality' | 'buildImage' | 'deploy'
  | 'productTest' | 'functionalTest' | 'uiTest' | 'securityTest' | 'performanceTest' | 'contentAudit' | 'approval' | 'managed' | 'schedule';
export type EnvironmentType = 'stage' | 'prod';
export type PipelineType = 'fullStack' | 'webTier';

// ---------------------------------------------------------------------------------------------------------------
// Pipeline configuration (validated by src/config/pipeline-config.ts; here only its shape)

export interface ApproverConfig {
  name: string;
  /** Cloud Manager roles: BUSINESS_OWNER, DEPLOYMENT_MANAGER, PROGRAM_MANAGER. */
  roles: string[];
}

export interface DockerHostConfig {
  /** Local socket (default), or a remote engine as dockerode supports it. */
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https' | 'ssh';
  username?: string;
  /** Directory holding ca.pem, cert.pem, key.pem for TLS. */
  certPath?: string;
  /** SSH: the private key file (else the running ssh-agent). */
  sshKeyPath?: string;
  /**
   * The one host address this engine publishes container ports on, and the worker reaches them at. Default 127.0.0.1:
   * an engine on another machine names an address of that machine the worker can reach (never 0.0.0.0).
   */
  publishAddress?: string;
}

/** One more Docker Engine an environment's nodes may be placed on (a topology spanning machines). */
export interface EngineConfig {
  docker: DockerHostConfig;
  /** The environment network's subnet on this engine: nodes there get fixed addresses in it. */
  subnet: string;
}

export interface EnvironmentConfig {
  name: string;
  type: EnvironmentType;
  /** Number of dispatcher/publish pairs behind the load balancer. */
  pairs: number;
  /** How many pairs are rolled at once. */
  window: number;
  /** Host port (on 127.0.0.1) where the load balancer serves the site; 0 lets Docker choose. */
  loadBalancerPort: number;
  /** Host port (on 127.0.0.1) of the author instance; 0 lets Docker choose. */
  authorPort: number;
  /** The engine of the load balancer, and of every node that `placement` does not put elsewhere. */
  docker?: DockerHostConfig;
  /** The environment network's subnet on its own engine; required once nodes run on other engines (fixed addresses). */
  subnet?: string;
  /** Other Docker Engines the environment's nodes may run on, by name, each with its network's subnet there. */
  engines?: Record<string, EngineConfig>;
  /** Node (`author` or `pair-N`) → the name of one of `engines`. A node absent here runs on `docker`. */
  placement?: Record<string, string>;
  /** Longest wait for a drained dispatcher's sessions to reach 0 before it is put in maintenance anyway. */
  drainTimeout: DurationSpec;
  /**
   * `rolling` (default): pair by pair, the site keeps serving. `maintenance`: for apps that cannot roll, every node is
   * replaced at once while the load balancer holds incoming requests, then releases them. Absent in older executions.
   */
  strategy?: DeploymentStrategy;
  /** Maintenance mode: longest a request is held; after it the load balancer answers a 503 maintenance page. */
  holdTimeout?: DurationSpec;
  /** Pairs that must stay UP in the load balancer while a window is drained (fewer when there are fewer others). */
  minInService?: number;
  /** Longest a rollout waits for that capacity before it fails instead of draining what carries the traffic. */
  capacityTimeout?: DurationSpec;
  /**
   * A rollout whose history reaches this many events continues as new at the next window boundary (nothing detached
   * then), carrying its state: a large topology never nears Temporal's history limits. Absent in older executions.
   */
  rolloutHistoryLimit?: number;
  /**
   * Version-sticky sessions (default on; absent in older executions): the load balancer keeps a visitor on the version
   * it last saw while a rollout mixes versions (src/topology/haproxy-config.ts).
   */
  stickyVersions?: boolean;
  /** The environment keeper (shared/keeper.ts): heals lost or unhealthy nodes between deployments. Absent in older executions. */
  keeper?: KeeperConfig;
}

export interface KeeperConfig {
  /** Whether a finished deployment starts (or updates) the environment's keeper. */
  enabled: boolean;
  /** Time between two checks of every node: never faster. */
  interval: DurationSpec;
  /** Heals the keeper may start in any hour; past it a node in trouble is marked failing and reported, not replaced. */
  healsPerHour: number;
}

export type DeploymentStrategy = 'rolling' | 'maintenance';

/** Adobe Commerce's hook phases: shell commands the app declares, run in order within each phase. */
export interface AppHooks {
  /** Inside the image build, on top of the runtime stage, without network (no services). */
  build: string[];
  /** Once per rollout, in the new author container, after the new containers are up and before they take traffic. */
  deploy: string[];
  /** Once per rollout, after traffic returns to the new containers (e.g. cache warm-up). */
  postDeploy: string[];
}

export interface PageCheck {
  path: string;
  /** Text the page must contain; `{version}` is replaced by the version being deployed. */
  expect?: string;
}

export interface PipelineConfig {
  id: string;
  name: string;
  /** Programs of the Cloud Manager API this pipeline belongs to, besides the default one. Absent in older executions. */
  programs?: Array<{ id: string; name?: string }>;
  type: PipelineType;
  /** Git URL or local path (a relative path is resolved against the project root). */
  repository: string;
  branch: string;
  app: {
    /** Image name prefix; tags are `<commit12>-<execution>`. */
    imageName: string;
    dockerfile: string;
    testTarget: string;
    runtimeTarget: string;
    port: number;
    healthPath: string;
    /** The dispatcher's (Varnish) build context inside the repository. */
    dispatcherContext: string;
    /** Build, deploy and post-deploy hooks. Absent in executions started before hooks existed. */
    hooks?: AppHooks;
    /** Absolute paths that stay writable (named volumes, kept across replacements) under a read-only root. */
    mounts?: string[];
    /** Publish and author containers run with a read-only root filesystem, except `mounts`. */
    readOnlyRootFilesystem?: boolean;
  };
  environments: { stage: EnvironmentConfig; prod: EnvironmentConfig };
  approval: {
    approvers: ApproverConfig[];
    timeout: DurationSpec;
    /** Distinct approvals needed (default 1). */
    required: number;
    /** Cloud Manager's managed review ("CSE oversight"): a second approval by a designated group, step `managed`. */
    managedReview?: { approvers: string[]; timeout: DurationSpec };
  };
  /** `enabled: false` leaves the schedule step out (absent in executions started before it existed: present). */
  schedule: { enabled?: boolean; timeout: DurationSpec };
  /**
   * Who may decide, proven how (the pipeline's identity keys). Absent in executions started before identity existed:
   * their decisions stay declared, as they were.
   */
  trust?: Trust;
  productTest: { pages: PageCheck[] };
  cache: { warmPages: string[] };
  audit: { pages: string[] };
  /**
   * Code quality gates (step codeQuality). Absent in executions started before the section existed: their
   * codeQuality step keeps its earlier behaviour.
   */
  quality?: QualityConfig;
  /** The app's own test images (steps functionalTest and uiTest). Absent in executions started before it existed. */
  tests?: { functional: CustomTestConfig; ui: CustomTestConfig };
  /** Optional Stage gates (steps securityTest and performanceTest): present only when configured. */
  securityTest?: SecurityTestConfig;
  performanceTest?: PerformanceTestConfig;
  /** Webhooks receiving Cloud Manager's execution and step events as signed CloudEvents. */
  events: { webhooks: WebhookConfig[] };
  triggers: {
    /** Start an ON_COMMIT execution when the branch gets a new commit and the pipeline is idle. */
    onCommit?: { pollInterval: DurationSpec };
  };
}

/** A rating, A (best) to E, as Cloud Manager (SonarQube) rates security, reliability and maintainability. */
export type Rating = 'A' | 'B' | 'C' | 'D' | 'E';
export const RATINGS: readonly Rating[] = ['A', 'B', 'C', 'D', 'E'];

/** What the important tier does when one of its metrics fails. */
export type ImportantFailureBehavior = 'ask' | 'fail' | 'continue';

export interface QualityConfig {
  /** Cloud Manager's failure thresholds; the tier of each metric is fixed (see quality-gates.ts). */
  thresholds: {
    /** critical: fails when the rating is worse than this. */
    securityRating: Rating;
    /** important */
    reliabilityRating: Rating;
    /** important (SonarQube's sqale_rating) */
    maintainabilityRating: Rating;
    /** important: line and branch coverage, percent, at least */
    coverage: number;
    /** informational: skipped unit tests, at most */
    skippedTests: number;
    /** informational: open issues, at most */
    openIssues: number;
    /** informational: duplicated lines, percent, at most */
    duplicatedLines: number;
  };
  /** ask: wait for an override (or a reject); fail: the execution fails; continue: go on, reporting the failures. */
  importantMetricFailures: ImportantFailureBehavior;
  /** Roles (of approval.approvers) allowed to override important failures or reject at the gate. */
  overrideRoles: string[];
  /** How long the gate waits for an override before the execution is cancelled. */
  overrideTimeout: DurationSpec;
}

export interface CustomTestConfig {
  /** Run the app's test image when it ships one (default true). */
  enabled: boolean;
  /** Directory of the test image's Dockerfile (its build context) in the repository. */
  context: string;
  /** Longest run of the test container; it is stopped and the step fails after this. */
  timeout: DurationSpec;
}

export interface WebhookConfig {
  url: string;
  /** Name of the environment variable (on the worker) holding the HMAC secret; never the secret itself. */
  secretEnv: string;
  /** Event kinds sent (default all): started, waiting, ended; healed and scaled (the environment keeper's). */
  events?: Array<'started' | 'waiting' | 'ended' | 'healed' | 'scaled'>;
  /** `cloudevents` (default): a signed CloudEvent. `cloudmanager`: Cloud Manager's own body and `x-adobe-signature`. */
  format?: 'cloudevents' | 'cloudmanager';
}

// ---------------------------------------------------------------------------------------------------------------
// Execution state: what the `state` query returns

export interface StepState {
  /** Position of the step in this execution, as a string (Cloud Manager's step state id). */
  id: string;
  /** Stable step identifier within the pipeline, e.g. `deploy-prod`. */
  stepId: string;
  phaseId: PhaseId;
  action: StepAction;
  environment?: string;
  environmentType?: EnvironmentType;
  status: StepStatus;
  startedAt?: string;
  finishedAt?: string;
  /** What the step did, in words and numbers; large outputs are references into the artifact store. */
  details: Record<string, unknown>;
}

export interface AuditEntry {
  at: string;
  by: string;
  /** The message name: approve, reject, schedule, override, cancel, start, reExecute. */
  action: string;
  via: 'signal' | 'update' | 'system';
  outcome: 'accepted' | 'refused';
  reason?: string;
  details?: Record<string, unknown>;
  /** The step a decision answered, as its proof was checked (absent for a cancel of the whole execution). */
  step?: string;
  /** How the sender was known: by a proof (`signed`) or by name (`declared`). Absent before identity existed. */
  trustModel?: TrustModel;
  /** Who decided, as shown: "alice (signed)", "alice, via the API", "alice (declared)". */
  label?: string;
}

/** What the execution waits for now, and who may act. */
export interface WaitingState {
  stepId: string;
  action: StepAction;
  since: string;
  /** When the wait ends by itself (the step's timeout). */
  expiresAt: string;
  /** Messages accepted right now. */
  accepts: string[];
  /** Who may send them (empty: anyone). */
  allowed: string[];
  /** For a scheduled deployment: when the timer fires. */
  scheduledAt?: string;
  /** For an approval needing several: who has approved so far, and how many are needed. */
  approvedBy?: string[];
  required?: number;
  /** For a quality gate: the failing important metrics an override must list, every one of them. */
  metrics?: string[];
  /** The pipeline takes only signed decisions (identity: signed): a message needs a proof (`--key`). */
  signed?: boolean;
}

export interface ImageArtifact {
  /** Immutable image ID (sha256:...): what every environment deploys. */
  id: string;
  tag: string;
}

export interface ExecutionArtifacts {
  images?: { app: ImageArtifact; dispatcher: ImageArtifact };
  version?: string;
  unitTests?: { passed: number; failed: number; skipped: number; reportRef?: string; coverage?: CoverageSummary };
  /** What the scanners in the build measured (summaries; the reports are in the artifact store). */
  scan?: CodeScanSummary;
  /** The app's functional and UI test images, built from the commit by the build step. */
  testImages?: { functional?: ImageArtifact; ui?: ImageArtifact };
  /** References into the artifact store (relative paths), never the bytes. */
  reports: Array<{ name: string; ref: string }>;
  /** For a re-execution: whose artifacts these are. */
  copiedFrom?: string;
}

export type IssueSeverity = 'blocker' | 'critical' | 'major' | 'minor' | 'info';
export interface IssueCounts { total: number; bySeverity: Partial<Record<IssueSeverity, number>> }

export interface CoverageSummary {
  /** Line and branch coverage combined, percent (Cloud Manager's coverage). */
  percent: number;
  lines?: { covered: number; total: number };
  branches?: { covered: number; total: number };
  format: string;
}

/** Summaries of the code scanners' reports (SARIF, coverage, duplication) found in the test stage's /out. */
export interface CodeScanSummary {
  issues?: {
    /** Vulnerabilities, bugs and code smells. */
    security: IssueCounts;
    reliability: IssueCounts;
    maintainability: IssueCounts;
    securityRating: Rating;
    reliabilityRating: Rating;
    maintainabilityRating: Rating;
    /** Remediation effort of the code smells, minutes. */
    technicalDebtMinutes: number;
    /** Technical debt over development time (30 minutes per line of code), percent. */
    debtRatio: number;
    linesOfCode: number;
    tools: string[];
  };
  coverage?: CoverageSummary;
  duplication?: { lines: number; duplicatedLines: number; density: number };
  /** What was looked for in /out and not found. */
  missing: string[];
}

export type NodeRole = 'author' | 'pair';
export type NodeCyclePhase =
  | 'pending' | 'draining' | 'detached' | 'deploying' | 'health-checking' | 'flushing' | 'warming' | 'attaching'
  | 'done' | 'restoring' | 'restored' | 'failed';

export interface RolloutNodeState {
  /** `author`, or the pair name `pair-1`, ... */
  name: string;
  role: NodeRole;
  phase: NodeCyclePhase;
  previousImages?: Record<string, string>;
  currentImages?: Record<string, string>;
  /** The engine it runs on (one of the environment's `engines`), when placement puts it on another than the environment's. */
  engine?: string;
  /** Host ports of the node's containers, by role (on its engine's publish address, 127.0.0.1 by default). */
  ports?: Record<string, number>;
  updatedAt?: string;
  error?: string;
}

export interface RolloutState {
  environment: string;
  environmentType: EnvironmentType;
  status: 'RUNNING' | 'FINISHED' | 'ROLLING_BACK' | 'ROLLED_BACK' | 'FAILED' | 'CANCELLED';
  window: number;
  currentNode?: string;
  nodes: RolloutNodeState[];
  url?: string;
  reason?: string;
  /**
   * The order pairs roll in, when the rollout chose it: pairs the load balancer already had out of service first,
   * since replacing them takes nothing away. Absent in older rollouts (pair 1, 2, ...).
   */
  pairOrder?: number[];
  /** What the rollout waits for before it drains the next window (capacity that must be in service), while it waits. */
  waitingFor?: string;
}

/** One recorded effect of a rollout: what it did to which node, in order. Proves the order and that nothing doubled. */
export interface CycleRecord { at: string; node: string; op: string; restore: boolean; detail?: string; hook?: HookRun }

/** One hook command run during a rollout: where, what, and how it ended. */
export interface HookRun { phase: 'deploy' | 'postDeploy'; index: number; command: string; exitCode: number; output: string; durationMs: number }

/** Where a rollout is in its plan: the plan stage it runs and, in a stage of pairs, the window of pairs it rolls. */
export interface RolloutPlanPosition {
  plan: DeploymentStrategy;
  /** The plan stage running now (0-based), of `stages`. */
  stage: number;
  stages: number;
  /** What that stage does: `author`, `pairs`, or the environment operation (`deployHook`, `holdRequests`, ...). */
  does: string;
  /** In a stage of pairs: the window rolling now (0-based), of `of`, and its pair numbers. */
  window?: { index: number; of: number; pairs: number[] };
}

/**
 * What a rollingDeployment answers (and its `state` query returns): its state and its recorded cycle. Only the query
 * carries `position`: the progress it reports and the result it returns stay as they were recorded.
 */
export type RolloutResult = RolloutState & { cycle: CycleRecord[]; position?: RolloutPlanPosition };

export interface ExecutionState {
  id: string;
  pipelineId: string;
  pipelineType: PipelineType;
  status: ExecutionStatus;
  trigger: Trigger;
  mode: ExecutionMode;
  /** Who started it (never allowed to approve it). */
  user: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  repository: string;
  branch: string;
  commitId?: string;
  /** When that commit was made (absent in executions from before it was recorded, and in re-executions). */
  commitTime?: string;
  steps: StepState[];
  currentStepId?: string;
  waiting?: WaitingState;
  artifacts: ExecutionArtifacts;
  rollouts: Partial<Record<EnvironmentType, RolloutState>>;
  /** URLs (on 127.0.0.1) where each environment serves. */
  urls: Partial<Record<EnvironmentType, string>>;
  audit: AuditEntry[];
  /** Refused requests left out of `audit` by its per-sender bound, counted by sender (absent: none). */
  refusalsDropped?: Record<string, number>;
  /** Why the execution ended the way it did, when it did not finish. */
  reason?: string;
  /** For a re-execution: the execution whose artifacts it deploys. */
  reExecutionOf?: string;
}

export interface ExecutionSummary {
  id: string;
  workflowId: string;
  status: ExecutionStatus;
  trigger: Trigger;
  user: string;
  createdAt: string;
  finishedAt?: string;
  /** Status of the production deploy step when the execution ended (undefined when never reached). */
  prodDeployStatus?: StepStatus;
  artifacts?: ExecutionArtifacts;
  commitId?: string;
}

export interface PipelineState {
  pipelineId: string;
  running?: ExecutionSummary;
  /** Newest last; only the most recent ones are kept. */
  executions: ExecutionSummary[];
  nextExecutionNumber: number;
  audit: AuditEntry[];
  /** Refused requests left out of `audit` by its per-sender bound, counted by sender (absent: none). */
  refusalsDropped?: Record<string, number>;
}
