// The audit tail's cursor (cli/tail-cursor.ts): each event printed exactly once even when events
// become visible out of id order, as concurrent inserts that commit in another order make them.
import { describe, expect, it } from 'vitest';
import { compareEventIds, createTailCursor } from '../../cli/tail-cursor.js';

/** What a poll returns: the visible ids after `after`, ascending, as ListAuditEvents does. */
const visibleAfter = (visible: string[], after: string) => visible.filter((id) => compareEventIds(id, after) > 0).sort(compareEventIds);

describe('audit tail cursor', () => {
  it('orders decimal ids by value, not as text', () => {
    expect(compareEventIds('9', '10')).toBeLessThan(0);
    expect(compareEventIds('0010', '10')).toBe(0);
    expect(compareEventIds('123456789012345678901', '99')).toBeGreaterThan(0);
  });

  it('audit_tail_commit_order_gap: prints an event committed after a higher id was printed, and nothing twice', () => {
    const cursor = createTailCursor('100', 10_000);
    const printed: string[] = [];
    const poll = (visible: string[], now: number) => {
      for (const id of visibleAfter(visible, cursor.after)) if (cursor.admit(id, now)) printed.push(id);
      cursor.settle(now);
    };
    // 101 and 103 committed; 102 was inserted first but its transaction has not committed yet.
    poll(['101', '103'], 0);
    expect(printed).toEqual(['101', '103']);
    // 102 commits 3 s later: a cursor at the last id printed (103) would never ask for it.
    poll(['101', '102', '103'], 3_000);
    poll(['101', '102', '103', '104'], 6_000);
    expect(printed).toEqual(['101', '103', '102', '104']);
    // Once settled, the cursor moves on and forgets what is behind it; nothing is printed again.
    poll(['101', '102', '103', '104'], 20_000);
    expect(cursor.after).toBe('104');
    poll(['101', '102', '103', '104', '105'], 21_000);
    expect(printed).toEqual(['101', '103', '102', '104', '105']);
  });

  it('settles events recorded long ago at once, so a catch-up keeps no list of every id (review 9 F4)', () => {
    const cursor = createTailCursor('0', 10_000);
    const now = 1_000_000;
    for (let id = 1; id <= 1000; id++) expect(cursor.admit(String(id), now, now - 3_600_000)).toBe(true);
    cursor.settle(now);
    expect(cursor.after).toBe('1000');
    // A fresh event still waits for its settle time.
    expect(cursor.admit('1001', now, now)).toBe(true);
    cursor.settle(now + 1);
    expect(cursor.after).toBe('1000');
  });

  it('never prints an event at or before the starting id', () => {
    const cursor = createTailCursor('50');
    expect(cursor.admit('50', 0)).toBe(false);
    expect(cursor.admit('7', 0)).toBe(false);
    expect(cursor.admit('51', 0)).toBe(true);
    expect(cursor.admit('51', 1)).toBe(false);
  });
});
