// Bounds how many rows repeated failures add to the audit trail. Junk traffic (wrong secrets,
// random client ids) fails forever and must not grow the audit table without bound, yet the
// first failures of every key, and the fact that more followed, stay on record.
//
// Per fixed window (counters in the grid, so the bound holds for the whole cluster): the first
// `perKey` failures of a key are recorded one row each; the next one records a single
// "suppressed" row and later ones none. Over every key together at most `global` rows are
// recorded per window, plus one row saying the global bound was reached. So a window adds at
// most global + 1 rows, whatever the traffic.
import type { Grid } from './core/grid/index.js';
import type { Logger } from './core/log/index.js';

export const AUDIT_SAMPLE_MAP = 'audit-sample';

/** What to write for one failure: its own row, a single "further failures suppressed" row, or nothing. */
export type AuditSample = 'record' | 'suppress_key' | 'suppress_all' | 'skip';

export interface AuditSamplerOptions {
  /** Window length, milliseconds. */
  windowMs: number;
  /** Rows recorded per key and window before that key is summarised. */
  perKey: number;
  /** Rows recorded per window over all keys. */
  global: number;
}

export interface AuditSampler {
  /**
   * Counts one failure of `key` (e.g. "ip:198.51.100.7" or "client:abc") and says what to
   * write. Never rejects: when the grid cannot count, the failure is recorded (an audit row too
   * many is better than a lost one while the grid is down).
   */
  sample(key: string): Promise<AuditSample>;
}

export const DEFAULT_AUDIT_SAMPLING: AuditSamplerOptions = { windowMs: 60_000, perKey: 5, global: 100 };

export function createAuditSampler(grid: Grid, log: Logger, options: AuditSamplerOptions = DEFAULT_AUDIT_SAMPLING): AuditSampler {
  const counters = grid.map<number>(AUDIT_SAMPLE_MAP);
  return {
    async sample(key) {
      try {
        const mine = await counters.increment(`k:${key.slice(0, 200)}`, options.windowMs);
        if (mine > options.perKey + 1) return 'skip';
        // Only failures that would write a row count against the global bound, so one noisy key
        // cannot hide the first failures of the others.
        const rows = await counters.increment('*', options.windowMs);
        if (rows > options.global + 1) return 'skip';
        if (rows === options.global + 1) return 'suppress_all';
        return mine <= options.perKey ? 'record' : 'suppress_key';
      } catch (err) {
        log.warn({ error: err instanceof Error ? err.message : String(err) }, 'audit sampling could not count; recording the event');
        return 'record';
      }
    },
  };
}
