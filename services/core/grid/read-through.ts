// Hot copies of durable records in the grid: reads hit the grid and fall back to the store once;
// writes go to the store first (durable), then replace the grid copy. Every instance of a
// service shares the grid, so a write on one is seen by reads on all.
//
// The copy is monotonic in the record's store version (the optimistic-concurrency version the
// etag carries): writes on two instances can reach the grid in either order, so `put` replaces
// a copy only with a strictly newer version (compare-and-set), and a read-through fill only
// inserts where nothing is cached. A deletion leaves a tombstone that refuses every later put and
// fill until it expires, so a late put or a reader that loaded the record before the delete cannot
// bring it back. Readers treat a tombstone as absent and read the store (the store is the record:
// the key may have been created again, or the tombstone marks a copy that was only stale).
import { metricsOfGrid } from '../metrics/instrument.js';
import type { Grid, GridMap, JsonValue } from './grid.js';

export interface ReadThroughCache<T> {
  /** The record (from the grid copy, else the store), or undefined when the store has none. */
  get(key: string): Promise<T | undefined>;
  /**
   * Call after the store write succeeded, with the record the store returned. Replaces the copy
   * only when `value` is strictly newer (by `version`) than it; never replaces a tombstone.
   */
  put(key: string, value: T): Promise<void>;
  /**
   * Call after a store delete, or when the copy may be stale and the new record is not at hand.
   * Writes a tombstone (lifetime `tombstoneTtlMs`) that refuses every put and fill of the key
   * until it expires; meanwhile reads of the key go to the store.
   */
  evict(key: string): Promise<void>;
}

export interface ReadThroughOptions<T> {
  grid: Grid;
  name: string;
  /** Loads from the store; undefined when the record does not exist (not cached). */
  load(key: string): Promise<T | undefined>;
  /** To and from the grid's JSON form (dates become strings). */
  toJson(value: T): JsonValue;
  fromJson(json: JsonValue): T;
  /**
   * The record's store version (a positive integer that every store write increments). Without
   * it (a record type that has none) `put` overwrites the copy whatever it holds, and only the TTL
   * bounds how long an out-of-order write can leave an older copy.
   */
  version?(value: T): number;
  /**
   * How long a copy is served before the store is read again (ms, default 5 minutes). Bounds
   * staleness should a write ever miss the grid (the store write succeeded, the grid was down).
   * It is checked against a deadline inside the entry, because GridMap.replace drops the
   * entry's grid TTL.
   */
  ttlMs?: number;
  /** Lifetime of a tombstone (ms, default ttlMs): longer than any put or load is ever in flight. */
  tombstoneTtlMs?: number;
}

/** Compare-and-set attempts of one put before it settles for a tombstone (only writers contend). */
const PUT_ATTEMPTS = 8;

/** What the grid holds under a key: a copy of version `v` served until `exp`, or a tombstone. */
type Entry = { kind: 'copy'; v: number; exp: number; rec: JsonValue } | { kind: 'gone' } | { kind: 'foreign' };

function parseEntry(json: JsonValue): Entry {
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    if (json.gone === true) return { kind: 'gone' };
    const { v, exp, rec } = json;
    if (typeof v === 'number' && typeof exp === 'number' && rec !== undefined) return { kind: 'copy', v, exp, rec };
  }
  // Written by an older release (the bare record): replaced by the next put or fill.
  return { kind: 'foreign' };
}

export function createReadThroughCache<T>(options: ReadThroughOptions<T>): ReadThroughCache<T> {
  const map: GridMap<JsonValue> = options.grid.map(`cache:${options.name}`);
  const ttl = options.ttlMs ?? 300_000;
  const tombstoneTtl = options.tombstoneTtlMs ?? ttl;
  const versionOf = (value: T): number => {
    if (!options.version) return 0;
    const v = options.version(value);
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`cache:${options.name}: version must be a non-negative safe integer`);
    return v;
  };
  const copyOf = (value: T, v: number): JsonValue => ({ v, exp: Date.now() + ttl, rec: options.toJson(value) });
  const tombstone = (): JsonValue => ({ gone: true });
  // On a measured grid (services/core/metrics), each get counts as a hit (served from the grid
  // copy) or a miss (read from the store): authmesh_cache_lookups_total{cache,result}.
  const metrics = metricsOfGrid(options.grid);
  const counters = metrics?.cacheCounters(options.name);
  const hit = counters?.hit;
  const miss = counters?.miss;

  return {
    async get(key) {
      const held = await map.get(key);
      const entry = held === undefined ? undefined : parseEntry(held);
      if (entry?.kind === 'copy' && entry.exp > Date.now()) {
        hit?.inc();
        return options.fromJson(entry.rec);
      }
      miss?.inc();
      const value = await options.load(key);
      if (value === undefined) return undefined;
      // The fill never overwrites what another call wrote while this load read the store (a put
      // after a secret rotation, a tombstone after a delete): putIfAbsent where nothing was held,
      // compare-and-set against exactly the expired or foreign entry read above, nothing over a
      // tombstone, and never an older version over a newer one.
      const v = versionOf(value);
      if (held === undefined) await map.putIfAbsent(key, copyOf(value, v), ttl);
      else if (entry?.kind === 'foreign' || (entry?.kind === 'copy' && v >= entry.v)) await map.replace(key, held, copyOf(value, v));
      return value;
    },

    async put(key, value) {
      const v = versionOf(value);
      if (!options.version) {
        await map.set(key, copyOf(value, v), ttl);
        return;
      }
      for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
        const held = await map.get(key);
        if (held === undefined) {
          if (await map.putIfAbsent(key, copyOf(value, v), ttl)) return;
          continue;
        }
        const entry = parseEntry(held);
        if (entry.kind === 'gone') return;
        // The copy is this version or a newer one: a write that landed first was the later one.
        if (entry.kind === 'copy' && entry.v >= v) return;
        if (await map.replace(key, held, copyOf(value, v))) return;
      }
      // Other writers kept winning: rather than leave a copy this put could not judge, let the
      // store answer reads of the key until the tombstone expires.
      await map.set(key, tombstone(), tombstoneTtl);
    },

    async evict(key) {
      // Unconditional: a tombstone refuses every version, because the store's delete does not
      // report the version it deleted and a version read before the delete can be overtaken.
      await map.set(key, tombstone(), tombstoneTtl);
    },
  };
}

/** JSON form of a record whose Date fields become ISO strings, and back. */
export function datesToJson(value: object): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

export function jsonWithDates<T>(json: JsonValue, dateFields: readonly string[]): T {
  const obj = { ...(json as Record<string, unknown>) };
  for (const f of dateFields) if (typeof obj[f] === 'string') obj[f] = new Date(obj[f] as string);
  return obj as T;
}
