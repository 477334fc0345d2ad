/**
 * The environment keeper's contract: what a finished deployment hands it (the release it keeps the environment on),
 * and what its `state` query answers. One keeper per environment of a pipeline (ids.ts keeperWorkflowId); its
 * messages are in messages.ts. Glossary: a *check* inspects every node; a *heal* replaces one node from the release
 * with the rollout's own node cycle; a node *marked failing* is reported and left alone until the next release.
 */
import type { Trust } from './identity';
import type { EnvironmentConfig, EnvironmentType, ExecutionMode, Trigger, WebhookConfig } from './types';

/** The images and settings an environment's last finished deployment put there: all a heal needs. */
export interface KeeperRelease {
  executionId: string;
  /** The execution workflow's first run id (absent in older executions): keeps heal keys unique. */
  executionUid?: string;
  /** Who and what started the execution that deployed it: the heal events say whose release they restored. */
  execution: { trigger: Trigger; mode: ExecutionMode; user: string };
  finishedAt: string;
  environment: EnvironmentConfig;
  /** Image IDs by container image: `app` runs on the author and every publish, `dispatcher` on every dispatcher. */
  images: { app?: string; dispatcher: string };
  app: { port: number; healthPath: string; mounts?: string[]; readOnlyRootFilesystem?: boolean };
  warmPages: string[];
  webhooks: WebhookConfig[];
  /** Who may decide on the environment (a scale), as the deploying execution knew them (absent: names as given). */
  trust?: Trust;
}

/**
 * What a check found on a node (`author` or `pair-N`): `healthy`; `suspect` (unhealthy or out of service once: a
 * second check in a row makes it a heal); or the reason it needs a heal, at once: `lost` (no container), `stopped`,
 * `drifted` (another image than the release's), `unhealthy` and `out-of-service` (twice in a row). `healing` while a
 * heal runs; `failing` once the hour's heal budget is spent on it (marked, reported, left alone until a release).
 */
export type NodeCondition = 'healthy' | 'suspect' | 'lost' | 'stopped' | 'drifted' | 'unhealthy' | 'out-of-service' | 'healing' | 'failing';

export interface KeeperNodeState {
  name: string;
  condition: NodeCondition;
  /** What was seen, in words: which container, which check, what HAProxy said. */
  detail?: string;
  checkedAt?: string;
}

/** One heal: why, what it ran, how it ended. */
export interface HealRecord {
  id: string;
  node: string;
  reason: string;
  /** The release's images the node was replaced with, by container role. */
  images: Record<string, string>;
  /** The execution whose release it restored. */
  executionId: string;
  startedAt: string;
  endedAt?: string;
  outcome: 'healing' | 'healed' | 'failed';
  detail?: string;
}

/** One scale: who asked, from and to how many pairs, what it did. */
export interface ScaleRecord {
  id: string;
  by: string;
  from: number;
  to: number;
  outcome: 'scaled' | 'failed';
  detail: string;
}

/** The keeper's own log: every heal with its reason, every mark, pause, resume, new release, scale and refused scale. */
export interface KeeperAuditEntry {
  at: string;
  what: 'heal' | 'marked' | 'paused' | 'resumed' | 'release' | 'scale' | 'refused';
  node?: string;
  detail: string;
}

export type KeeperStatus = 'WAITING_FOR_RELEASE' | 'WATCHING' | 'HEALING' | 'SCALING' | 'PAUSED';

export interface KeeperState {
  pipelineId: string;
  environmentType: EnvironmentType;
  environment?: string;
  status: KeeperStatus;
  /** The execution whose deployment pauses the keeper, while one runs. */
  pausedBy?: string;
  release?: { executionId: string; images: KeeperRelease['images']; finishedAt: string };
  interval?: string | number;
  checks: number;
  lastCheckAt?: string;
  nodes: KeeperNodeState[];
  lastHeal?: HealRecord;
  /** Heals started in the last hour against the configured budget. */
  budget: { perHour: number; usedLastHour: number; left: number };
  audit: KeeperAuditEntry[];
}

export interface KeeperPauseRequest { executionId: string }
export interface KeeperPauseResult { paused: true; detail: string }
/** Sent by a deployment when it ends: `release` only when it finished (the environment now runs it). */
export interface DeploymentEnded { executionId: string; status: string; release?: KeeperRelease }

/** What a signed scale is signed for (its decision's `execution`): the environment's keeper stands where an execution would. */
export const scaleDecisionTarget = (environmentType: string) => `keeper-${environmentType}`;

/**
 * Who may scale: changing a live environment's capacity is an operator's decision, as re-executing a production
 * deployment is. A pipeline that names no people (a declared demo) lets anyone, as its approvals do. The API's
 * `scale` permission is the same roles.
 */
export const SCALE_ROLES = ['DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER'] as const;

/** Newest entries kept in the keeper's audit log and heal list (its state stays small across runs). */
export const KEEPER_LOG_LIMIT = 100;
