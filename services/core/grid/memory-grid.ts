import { TemporarilyUnavailable } from '../errors/index.js';
import type { Grid, GridMap } from './grid.js';
import { assertKey, assertMapName, assertTtl, decodeValue, encodeValue } from './grid-input.js';

export interface MemoryGridOptions {
  /** Clock in epoch milliseconds; tests inject one to move time without waiting. */
  now?: () => number;
  /** How often expired entries nobody reads again are dropped. Default 30 s. */
  sweepIntervalMs?: number;
}

/** The in-process grid of embedded mode; a single process is its whole cluster. */
export interface MemoryGrid extends Grid {
  /** Drops every expired entry now and returns how many were dropped. */
  sweep(): number;
  /** Entries held in memory across all maps, including expired ones not yet dropped. */
  entryCount(): number;
}

// Values are held as JSON text, as a remote grid holds them: copying in and out is then
// unavoidable, and a value that would change shape on a remote grid is refused here too.
interface Entry {
  json: string;
  expiresAt: number | undefined;
}

const DEFAULT_SWEEP_INTERVAL_MS = 30_000;

export function createMemoryGrid(options: MemoryGridOptions = {}): MemoryGrid {
  if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError('now must be a function');
  const now = options.now ?? Date.now;
  const sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
  if (!Number.isSafeInteger(sweepIntervalMs) || sweepIntervalMs <= 0) {
    throw new RangeError('sweepIntervalMs must be a positive integer');
  }

  const stores = new Map<string, Map<string, Entry>>();
  let closed = false;

  // Lazy expiry alone would keep every code and jti nobody reads again; unref so the sweep never
  // holds a process open.
  const timer = setInterval(sweep, sweepIntervalMs);
  timer.unref();

  function sweep(): number {
    const at = now();
    let dropped = 0;
    for (const store of stores.values()) {
      for (const [key, entry] of store) {
        if (entry.expiresAt !== undefined && entry.expiresAt <= at) {
          store.delete(key);
          dropped++;
        }
      }
    }
    return dropped;
  }

  function ensureOpen(): void {
    if (closed) throw new TemporarilyUnavailable('the grid is closed');
  }

  function expiryOf(ttlMs: number | undefined): number | undefined {
    return ttlMs === undefined ? undefined : now() + ttlMs;
  }

  function liveEntry(store: Map<string, Entry>, key: string): Entry | undefined {
    const entry = store.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return entry;
  }

  // Every method is async with no await before it touches the store, so each runs to completion
  // in one turn of the event loop: that is what makes putIfAbsent, take and increment atomic.
  function mapHandle<V>(name: string, store: Map<string, Entry>): GridMap<V> {
    return {
      async get(key) {
        assertKey(key);
        ensureOpen();
        const entry = liveEntry(store, key);
        return entry === undefined ? undefined : decodeValue<V>(entry.json);
      },
      async set(key, value, ttlMs) {
        assertKey(key);
        assertTtl(ttlMs, false);
        const json = encodeValue(value);
        ensureOpen();
        store.set(key, { json, expiresAt: expiryOf(ttlMs) });
      },
      async putIfAbsent(key, value, ttlMs) {
        assertKey(key);
        assertTtl(ttlMs, false);
        const json = encodeValue(value);
        ensureOpen();
        if (liveEntry(store, key) !== undefined) return false;
        store.set(key, { json, expiresAt: expiryOf(ttlMs) });
        return true;
      },
      async replace(key, expected, value) {
        assertKey(key);
        const expectedJson = encodeValue(expected);
        const json = encodeValue(value);
        ensureOpen();
        const entry = liveEntry(store, key);
        if (entry === undefined || entry.json !== expectedJson) return false;
        store.set(key, { json, expiresAt: undefined });
        return true;
      },
      async take(key) {
        assertKey(key);
        ensureOpen();
        const entry = liveEntry(store, key);
        if (entry === undefined) return undefined;
        store.delete(key);
        return decodeValue<V>(entry.json);
      },
      async delete(key) {
        assertKey(key);
        ensureOpen();
        store.delete(key);
      },
      async increment(key, ttlMs) {
        assertKey(key);
        assertTtl(ttlMs, true);
        ensureOpen();
        const entry = liveEntry(store, key);
        if (entry === undefined) {
          store.set(key, { json: '1', expiresAt: expiryOf(ttlMs) });
          return 1;
        }
        const count: unknown = JSON.parse(entry.json);
        if (!Number.isSafeInteger(count)) throw new TypeError(`grid map ${name} holds a non-counter value under this key`);
        const next = (count as number) + 1;
        // Updating in place keeps the expiry the first increment set: a fixed window.
        entry.json = String(next);
        return next;
      },
    };
  }

  return {
    map<V>(name: string): GridMap<V> {
      assertMapName(name);
      let store = stores.get(name);
      if (store === undefined) {
        store = new Map();
        stores.set(name, store);
      }
      return mapHandle<V>(name, store);
    },
    async ping() {
      // In process: reachable exactly as long as it is open.
      ensureOpen();
    },
    async close() {
      closed = true;
      clearInterval(timer);
      // Handles may outlive the grid; dropping the data keeps them from pinning it in memory.
      for (const store of stores.values()) store.clear();
      stores.clear();
    },
    sweep,
    entryCount() {
      let count = 0;
      for (const store of stores.values()) count += store.size;
      return count;
    },
  };
}
