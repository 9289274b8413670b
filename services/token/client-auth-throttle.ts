// Throttles failed client authentication at the token, introspection and revocation endpoints.
//
// Client secrets have 256 bits, so the throttle is not what stops guessing: it bounds what junk
// traffic costs (each failure reads the client registry and writes the audit trail). Failures are
// counted in the grid per fixed window, cluster-wide, for two keys: the source address with the
// client_id it presented (a misbehaving client slows down only itself), and the source address
// alone (a sprayer of random client ids). Once a key is over its limit, that source (for that
// client) is answered slow_down (HTTP 429) until the window ends, before any credential is
// looked at. Keys are per source, never per client_id alone: otherwise anyone could lock a
// client out by failing in its name.
//
// The success path reads no grid: blocks are remembered in-process when a failure's count (the
// cluster-wide one) crosses the limit, so another instance notices after one failure of its own.
import { SlowDown } from '../core/errors/index.js';
import type { Grid } from '../core/grid/index.js';
import type { Logger } from '../core/log/index.js';

export const CLIENT_AUTH_FAILURES_MAP = 'client-auth-failures';
/** Length of the counting window, seconds. */
export const CLIENT_AUTH_WINDOW_SECONDS = 60;
/** Most blocks remembered in-process; the oldest go first. */
const MAX_LOCAL_BLOCKS = 10_000;

export interface ClientAuthThrottleOptions {
  /** Failures of one client_id from one source per window before slow_down; 0 disables. */
  perClient: number;
  /** Failures from one source (any client_id) per window before slow_down; 0 disables. */
  perSource: number;
  now(): Date;
}

export interface ClientAuthThrottle {
  /**
   * Throws SlowDown when `source` (with `clientId`) failed too often in the current window.
   * Reads no grid. An empty source (a gRPC caller that sent none) is never throttled.
   */
  assertAllowed(source: string, clientId: string): void;
  /** Counts one failed client authentication; never rejects (a grid error is logged). */
  recordFailure(source: string, clientId: string): Promise<void>;
}

export function createClientAuthThrottle(grid: Grid, log: Logger, options: ClientAuthThrottleOptions): ClientAuthThrottle {
  const counters = grid.map<number>(CLIENT_AUTH_FAILURES_MAP);
  const windowMs = CLIENT_AUTH_WINDOW_SECONDS * 1000;
  const blockedUntil = new Map<string, number>();
  const pairKey = (source: string, clientId: string) => `${source.slice(0, 64)}|${clientId.slice(0, 128)}`;

  const block = (key: string) => {
    const now = options.now().getTime();
    if (blockedUntil.size >= MAX_LOCAL_BLOCKS) {
      for (const [k, until] of blockedUntil) if (until <= now) blockedUntil.delete(k);
      while (blockedUntil.size >= MAX_LOCAL_BLOCKS) blockedUntil.delete(blockedUntil.keys().next().value as string);
    }
    blockedUntil.delete(key);
    blockedUntil.set(key, now + windowMs);
  };
  /** Seconds until the block on `key` ends; 0 when not blocked. */
  const blockedFor = (key: string) => {
    const until = blockedUntil.get(key);
    if (until === undefined) return 0;
    const left = until - options.now().getTime();
    if (left > 0) return Math.ceil(left / 1000);
    blockedUntil.delete(key);
    return 0;
  };

  return {
    assertAllowed(source, clientId) {
      if (source === '') return;
      // RFC 6585 §4: too many requests; the gateway answers 429 for slow_down.
      const seconds = Math.max(blockedFor(`${source.slice(0, 64)}|*`), blockedFor(pairKey(source, clientId)));
      if (seconds > 0) {
        // retry_after (seconds) becomes the HTTP Retry-After header (RFC 6585 §4).
        throw new SlowDown('too many failed client authentications from this address; retry later', { metadata: { retry_after: String(seconds) } });
      }
    },
    async recordFailure(source, clientId) {
      if (source === '') return;
      try {
        if (options.perClient > 0) {
          const key = pairKey(source, clientId);
          if ((await counters.increment(key, windowMs)) >= options.perClient) block(key);
        }
        if (options.perSource > 0) {
          const key = `${source.slice(0, 64)}|*`;
          if ((await counters.increment(key, windowMs)) >= options.perSource) block(key);
        }
      } catch (err) {
        log.warn({ error: err instanceof Error ? err.message : String(err) }, 'failed client authentication could not be counted');
      }
    },
  };
}
