/**
 * The audit log of an execution or a pipeline: every decision is kept, and refusals are bounded per sender, so a
 * flood of refused requests (from one name, or from many made-up ones) can neither grow the state without limit nor
 * push an accepted decision out of the log. What a bound drops is counted, per sender, in `refusalsDropped`.
 */
import type { AuditEntry } from '../shared/types';

/** Refused requests kept per sender (the newest ones). */
export const REFUSALS_KEPT_PER_SENDER = 20;
/** Refused requests kept in all (the newest ones), whatever their senders. */
export const REFUSALS_KEPT = 100;
/** Senders counted by name in `refusalsDropped`; drops by further senders are counted together under OTHER_SENDERS. */
export const SENDERS_COUNTED = 50;
export const OTHER_SENDERS = '(other senders)';

export interface AuditLog {
  audit: AuditEntry[];
  /** How many refused requests of each sender the bounds above dropped from `audit`. */
  refusalsDropped?: Record<string, number>;
}

/** One sender however a name is typed: trimmed and case-folded. */
export const senderOf = (entry: Pick<AuditEntry, 'by'>) => entry.by.trim().toLowerCase() || '(unknown)';

/**
 * Appends `entry`. `acceptedKept` bounds accepted entries too, for a log that lives as long as a pipeline (each
 * execution keeps every one of its own decisions in its own log); without it, no accepted entry is ever dropped.
 */
export function appendAuditEntry(log: AuditLog, entry: AuditEntry, options: { acceptedKept?: number } = {}): void {
  log.audit.push(entry);
  if (entry.outcome === 'refused') {
    const sender = senderOf(entry);
    const fromSender = log.audit.filter((e) => e.outcome === 'refused' && senderOf(e) === sender);
    if (fromSender.length > REFUSALS_KEPT_PER_SENDER) drop(log, fromSender[0]);
    const refused = log.audit.filter((e) => e.outcome === 'refused');
    if (refused.length > REFUSALS_KEPT) drop(log, refused[0]);
  } else if (options.acceptedKept !== undefined) {
    const accepted = log.audit.filter((e) => e.outcome !== 'refused');
    if (accepted.length > options.acceptedKept) log.audit.splice(log.audit.indexOf(accepted[0]), 1);
  }
}

function drop(log: AuditLog, entry: AuditEntry): void {
  log.audit.splice(log.audit.indexOf(entry), 1);
  const dropped = (log.refusalsDropped ??= {});
  const sender = senderOf(entry);
  const key = sender in dropped || Object.keys(dropped).length < SENDERS_COUNTED ? sender : OTHER_SENDERS;
  dropped[key] = (dropped[key] ?? 0) + 1;
}
