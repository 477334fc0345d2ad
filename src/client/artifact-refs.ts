/**
 * The artifact-store references an execution's state records (logs, reports), found the same way by `stagecoach
 * logs` and the API's logs route. Pure: state in, references out.
 */
import type { ExecutionState, StepState } from '../shared/types';

/** How a step is named to users: its action, and its environment for deploy and test steps. */
export function stepLabel(step: StepState): string {
  return step.environment ? `${step.action} ${step.environment}` : step.action;
}

/** The artifact-store references an execution knows of, with the step each belongs to when one does. */
export interface ArtifactRef { ref: string; name: string; step?: string }

export function artifactRefs(state: ExecutionState, stepAction?: string): ArtifactRef[] {
  const byRef = new Map<string, ArtifactRef>();
  const stepOfRef = new Map<string, StepState>();
  for (const step of state.steps) {
    for (const [key, value] of Object.entries(step.details ?? {})) {
      if (/Ref$/.test(key) && typeof value === 'string' && value) stepOfRef.set(value, step);
    }
  }
  for (const report of state.artifacts?.reports ?? []) {
    const step = stepOfRef.get(report.ref);
    byRef.set(report.ref, { ref: report.ref, name: report.name, step: step ? stepLabel(step) : undefined });
  }
  for (const step of state.steps) {
    const logRef = step.details?.logRef;
    if (typeof logRef === 'string' && logRef && !byRef.has(logRef)) {
      byRef.set(logRef, { ref: logRef, name: `${stepLabel(step)} log`, step: stepLabel(step) });
    }
  }
  const all = [...byRef.values()];
  if (!stepAction) return all;
  return all.filter((a) => {
    const step = stepOfRef.get(a.ref);
    return step !== undefined && (step.action === stepAction || step.stepId === stepAction);
  });
}
