// Hot copies of durable records in the grid: reads hit the grid and fall back to the store once;
// writes go to the store first (durable), then replace the grid copy. Every instance of a
// service shares the grid, so a write on one is seen by reads on all.
import type { Grid, GridMap, JsonValue } from './grid.js';

export interface ReadThroughCache<T> {
  get(key: string): Promise<T | undefined>;
  /** Call after the store write succeeded. */
  put(key: string, value: T): Promise<void>;
  /** Call after a store delete (or when the copy may be stale). */
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
  /** Bounds staleness should a write ever miss the grid; default 5 minutes. */
  ttlMs?: number;
}

export function createReadThroughCache<T>(options: ReadThroughOptions<T>): ReadThroughCache<T> {
  const map: GridMap<JsonValue> = options.grid.map(`cache:${options.name}`);
  const ttl = options.ttlMs ?? 300_000;
  return {
    async get(key) {
      const hit = await map.get(key);
      if (hit !== undefined) return options.fromJson(hit);
      const value = await options.load(key);
      // putIfAbsent, not set: a write that replaced the copy while this load read the store
      // (put() after a secret rotation) must not be overwritten by the older record read here.
      if (value !== undefined) await map.putIfAbsent(key, options.toJson(value), ttl);
      return value;
    },
    async put(key, value) {
      await map.set(key, options.toJson(value), ttl);
    },
    async evict(key) {
      await map.delete(key);
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
