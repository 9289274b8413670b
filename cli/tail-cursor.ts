// The cursor of `authmesh audit tail`. Event ids come from the store's sequence when a row is
// inserted, but inserts commit in any order: an event can become visible after one with a higher
// id was already printed. A cursor at "the last id printed" would skip it for good. This one
// trails: the query asks for events after the newest id printed at least `settleMs` ago, and the
// events printed since are recognised by id and not printed twice. An event whose insert commits
// more than `settleMs` after a higher id was printed can still be missed; audit rows are written
// in short single transactions, so the default 10 s is far beyond their commit delay.

/** Orders event ids: decimal strings by numeric value, anything else as plain strings. */
export function compareEventIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface TailCursor {
  /** The `after` to query from: every event with an id up to it has been printed or settled. */
  readonly after: string;
  /**
   * True when the event was not printed yet (and records it as printed at `nowMs`).
   * @param eventMs when the event was recorded (its eventTime), if known: an event recorded
   *   settleMs before now settles at once, so a catch-up (--since) holds no long list of ids.
   */
  admit(eventId: string, nowMs: number, eventMs?: number): boolean;
  /** Moves `after` past the events printed (or recorded) at least settleMs before `nowMs`; forgets them. */
  settle(nowMs: number): void;
}

/**
 * @param start the id after which events are wanted ('0' for all)
 * @param settleMs how long an id gap below a printed event is waited for, milliseconds
 */
export function createTailCursor(start: string, settleMs = 10_000): TailCursor {
  let after = start;
  // Ids printed above `after`, with when they were printed.
  const recent = new Map<string, number>();
  return {
    get after() {
      return after;
    },
    admit(eventId, nowMs, eventMs) {
      if (compareEventIds(eventId, after) <= 0 || recent.has(eventId)) return false;
      // Settles from the earlier of the two: printed long ago, or recorded long ago.
      recent.set(eventId, eventMs !== undefined && eventMs < nowMs ? eventMs : nowMs);
      return true;
    },
    settle(nowMs) {
      let next = after;
      for (const [id, at] of recent) if (nowMs - at >= settleMs && compareEventIds(id, next) > 0) next = id;
      for (const id of [...recent.keys()]) if (compareEventIds(id, next) <= 0) recent.delete(id);
      after = next;
    },
  };
}
