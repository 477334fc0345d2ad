/** The audit log keeps every decision; refused floods are bounded per sender and counted (issue 16, item 6). */
import { describe, expect, it } from 'vitest';
import {
  OTHER_SENDERS, REFUSALS_KEPT, REFUSALS_KEPT_PER_SENDER, SENDERS_COUNTED, appendAuditEntry, type AuditLog,
} from '../../src/workflows/audit-log';
import type { AuditEntry } from '../../src/shared/types';

const entry = (by: string, outcome: AuditEntry['outcome'], n = 0): AuditEntry =>
  ({ at: `2026-12-01T00:00:${String(n % 60).padStart(2, '0')}Z`, by, action: 'approve', via: 'signal', outcome });

describe('appendAuditEntry', () => {
  it('keeps every accepted decision however many refusals flood in after it', () => {
    const log: AuditLog = { audit: [] };
    appendAuditEntry(log, entry('alice', 'accepted'));
    for (let i = 0; i < 5_000; i++) appendAuditEntry(log, entry('mallory', 'refused', i));
    appendAuditEntry(log, entry('bob', 'accepted'));
    expect(log.audit.filter((e) => e.outcome === 'accepted').map((e) => e.by)).toEqual(['alice', 'bob']);
    expect(log.audit.filter((e) => e.outcome === 'refused')).toHaveLength(REFUSALS_KEPT_PER_SENDER);
    expect(log.refusalsDropped).toEqual({ mallory: 5_000 - REFUSALS_KEPT_PER_SENDER });
  });

  it('counts one sender however the name is typed, and keeps another sender\'s refusals', () => {
    const log: AuditLog = { audit: [] };
    for (let i = 0; i < REFUSALS_KEPT_PER_SENDER + 3; i++) appendAuditEntry(log, entry(i % 2 ? ' Mallory ' : 'mallory', 'refused', i));
    appendAuditEntry(log, entry('carol', 'refused'));
    expect(log.audit.filter((e) => e.by === 'carol')).toHaveLength(1);
    expect(log.refusalsDropped).toEqual({ mallory: 3 });
  });

  it('bounds refusals from many made-up senders in all, and the counter by sender too', () => {
    const log: AuditLog = { audit: [] };
    appendAuditEntry(log, entry('alice', 'accepted'));
    const senders = SENDERS_COUNTED * 4;
    for (let i = 0; i < senders; i++) appendAuditEntry(log, entry(`user-${i}`, 'refused', i));
    expect(log.audit.filter((e) => e.outcome === 'refused')).toHaveLength(REFUSALS_KEPT);
    expect(log.audit[0].by).toBe('alice');
    const dropped = log.refusalsDropped!;
    expect(Object.keys(dropped).length).toBeLessThanOrEqual(SENDERS_COUNTED + 1);
    expect(Object.values(dropped).reduce((a, b) => a + b, 0)).toBe(senders - REFUSALS_KEPT);
    expect(dropped[OTHER_SENDERS]).toBeGreaterThan(0);
  });

  it('bounds accepted entries only when asked (the pipeline\'s own log)', () => {
    const log: AuditLog = { audit: [] };
    for (let i = 0; i < 30; i++) appendAuditEntry(log, entry(`u${i}`, 'accepted', i), { acceptedKept: 10 });
    expect(log.audit.map((e) => e.by)).toEqual(Array.from({ length: 10 }, (_, i) => `u${i + 20}`));
  });
});
