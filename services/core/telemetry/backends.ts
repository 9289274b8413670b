// Tracing decorators for the two backend interfaces, applied once where each is created
// (services/mesh.ts): every Store method becomes a `store.<role>.<method>` span and every grid map
// operation a `grid.<operation>` span, children of the RPC that made them. Spans carry the role,
// method and map name only, never an argument (grid keys are code and token hashes, store
// arguments hold client secrets' hashes and user data). With tracing off the backend is
// returned as it is: not even a proxy stands in the hot path.
import type { Grid, GridMap } from '../grid/index.js';
import type { Store } from '../store/index.js';
import { inSpan, tracingActive } from './spans.js';

/**
 * The store with a span around every method of every role (clients, users, keys, …); close()
 * is passed through. Behaviour is the store's own (the Store contract suite runs on it wrapped).
 * @returns `store` itself when tracing is off
 */
export function traceStore(store: Store): Store {
  if (!tracingActive()) return store;
  const out: Record<string, unknown> = {};
  for (const [role, part] of Object.entries(store) as [string, unknown][]) {
    out[role] =
      typeof part === 'object' && part !== null
        ? tracedObject(part, `store.${role}.`, { 'db.system.name': 'authmesh.store', 'authmesh.store.role': role })
        : typeof part === 'function'
          ? (part as (...args: unknown[]) => unknown).bind(store)
          : part;
  }
  const traced = out as unknown as Store;
  traced.close = () => store.close();
  return traced;
}

/**
 * The grid with a span around every operation of every map it hands out; close() is passed
 * through. Behaviour is the grid's own (the Grid contract suite runs on it wrapped).
 * @returns `grid` itself when tracing is off
 */
export function traceGrid(grid: Grid): Grid {
  if (!tracingActive()) return grid;
  return {
    map: <V>(name: string): GridMap<V> => tracedObject(grid.map<V>(name), 'grid.', { 'authmesh.grid.map': name }),
    // Readiness probes (services/core/health) are not traced: they run every 2 s off any request.
    ping: () => grid.ping(),
    close: () => grid.close(),
  };
}

/** `target` with each function property wrapped in a span `<prefix><property>`. */
function tracedObject<T extends object>(target: T, prefix: string, attributes: Record<string, string>): T {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value: unknown = Reflect.get(t, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      let w = wrapped.get(prop);
      if (!w) {
        const name = `${prefix}${prop}`;
        const fn = value as (...args: unknown[]) => unknown;
        w = (...args: unknown[]) => inSpan(name, attributes, () => fn.apply(t, args));
        wrapped.set(prop, w);
      }
      return w;
    },
  });
}
