/**
 * Defaults of the pipeline configuration that the workflows also fall back to (an execution started before the
 * field existed has none in its recorded configuration). Plain data: the schema applies them, the workflows read them.
 */
import type { KeeperConfig, QualityConfig } from './types';

export const DEFAULT_QUALITY: QualityConfig = {
  thresholds: {
    securityRating: 'B', reliabilityRating: 'C', maintainabilityRating: 'A', coverage: 50, skippedTests: 1, openIssues: 0, duplicatedLines: 1,
  },
  importantMetricFailures: 'ask',
  overrideRoles: ['BUSINESS_OWNER', 'DEPLOYMENT_MANAGER', 'PROGRAM_MANAGER'],
  overrideTimeout: '14 days',
};

/** Events in one run of a rollout before it continues as new (Temporal warns at 10,240; our target is 4,096). */
export const DEFAULT_ROLLOUT_HISTORY_LIMIT = 3000;

/**
 * The environment keeper: off unless a pipeline turns it on (it replaces containers on its own between deployments);
 * a check every 30 seconds, at most 3 heals an hour.
 */
export const DEFAULT_KEEPER: KeeperConfig = { enabled: false, interval: '30s', healsPerHour: 3 };
