/** JSON data: the only kind of value a grid stores, so every implementation can keep it as a JSON string. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Hot and ephemeral state shared by every service instance: authorization codes, the hot copy of
 * access-token revocations (durable in the SQL store, services/core/rpc/revocation-list.ts),
 * client-assertion jti replay markers, rate and lockout counters, and caches of rows that live in
 * the SQL store (written after the store, read before it). Nothing here is the system of record
 * except what is ephemeral by nature; a lost grid costs sessions, not data, and no revocation.
 *
 * Contract shared by every implementation (see grid-contract.ts, which checks it):
 * - Every GridMap method returns a promise and reports failure by rejecting, never by throwing.
 * - Programmer errors reject with TypeError or RangeError and change nothing: an empty key, a key
 *   or map name that is not well-formed UTF-16 (a remote grid encodes them as UTF-8, where lone
 *   surrogates collapse into one character), a TTL that is not a positive safe integer, a value
 *   that would not survive a JSON round trip (Date, Map, class instances, NaN, bigint, cycles…).
 *   Object properties whose value is undefined are dropped, as JSON.stringify does.
 * - When the grid cannot be reached, or has been closed, operations reject with
 *   TemporarilyUnavailable from services/core/errors, so callers answer a retryable error
 *   instead of server_error and never fall back to skipping a single-use or revocation check.
 */
export interface Grid {
  /** A handle on the named map (e.g. 'codes', 'revocations', 'cache:clients'); handles of one name share data. */
  map<V>(name: string): GridMap<V>;
  /**
   * One cheap round trip to the grid, for readiness (services/core/health): resolves when the grid
   * answers, rejects with TemporarilyUnavailable when it cannot be reached or has been closed.
   * Bounded by the implementation's operation timeout; touches no caller's data.
   */
  ping(): Promise<void>;
  /** Releases connections and timers. Idempotent. */
  close(): Promise<void>;
}

/**
 * A named map of JSON values. Values are copied in and out: mutating an object after `set` or
 * after `get` never changes what the grid holds, as with any remote store.
 *
 * TTLs are in milliseconds and count from the write that sets them. An entry written without a
 * TTL never expires, even when the previous entry under that key had one: implementations must
 * not apply a map-level default behind the caller's back. A remote grid may keep an expired entry
 * visible for up to about a second (Hazelcast tracks expiry at that granularity), so TTLs are
 * for bounding lifetimes, never for timing within a second.
 */
export interface GridMap<V> {
  /** The value, or undefined when absent or expired. A stored null comes back as null. */
  get(key: string): Promise<V | undefined>;
  /** Stores the value, replacing any previous value and its TTL. */
  set(key: string, value: V, ttlMs?: number): Promise<void>;
  /**
   * Stores the value only when the key is absent or expired. Resolves true when this call
   * inserted; of concurrent callers exactly one wins. A losing call leaves the existing value and
   * its TTL untouched. Used for replay markers (jti of client assertions) and for minting codes.
   */
  putIfAbsent(key: string, value: V, ttlMs?: number): Promise<boolean>;
  /**
   * Atomic get-and-remove: of concurrent takers exactly one receives the value, the others
   * undefined. This is what makes authorization codes single use (RFC 6749 §4.1.2).
   */
  take(key: string): Promise<V | undefined>;
  /**
   * Compare-and-set: stores `value` only when the key currently holds a value equal to `expected`
   * (compared as JSON text, so pass back exactly what `get` returned). Resolves true when this call
   * replaced; of concurrent callers with the same `expected` exactly one wins. An absent or expired
   * key is never replaced (use putIfAbsent to create). The replaced entry has no TTL: replace is
   * for entries that live until deleted, such as the revocation buckets (Hazelcast's replace drops
   * an entry's TTL, so no implementation promises to keep one).
   */
  replace(key: string, expected: V, value: V): Promise<boolean>;
  /** Removes the key; resolves whether or not it was present. */
  delete(key: string): Promise<void>;
  /**
   * Adds one to a counter and resolves the new count. A missing or expired key starts at 1 with
   * the given TTL; later increments keep the window the first one opened (fixed window), which is
   * what rate limits and lockouts want. `get` reads the count as a number and `delete` resets it.
   * Rejects with TypeError when the key holds something other than an integer.
   */
  increment(key: string, ttlMs: number): Promise<number>;
}
