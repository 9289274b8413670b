// Latency and error metrics of the store and the grid, as decorators of their interfaces: one
// wrapper each, applied where the process creates its store and grid (services/mesh.ts), so
// every implementation (PGlite, Postgres, MariaDB; memory, Hazelcast) is measured the same way
// and none of them knows about metrics. The wrappers change no behaviour: every call, result and
// rejection passes through untouched (the contract suites run against the wrapped forms too).
import type { Grid, GridMap } from '../grid/grid.js';
import type { Store } from '../store/store.js';
import type { Metrics, OperationMetrics } from './metrics.js';

const GRID_OPERATIONS = ['get', 'set', 'putIfAbsent', 'take', 'replace', 'delete', 'increment'] as const;

/** Times a call that may return a promise; a rejection or throw counts as a failed operation. */
function timed<R>(observe: (seconds: number, failed: boolean) => void, call: () => R): R {
  const started = performance.now();
  let result: R;
  try {
    result = call();
  } catch (err) {
    observe((performance.now() - started) / 1000, true);
    throw err;
  }
  if (result instanceof Promise) {
    return result.then(
      (value: unknown) => {
        observe((performance.now() - started) / 1000, false);
        return value;
      },
      (err: unknown) => {
        observe((performance.now() - started) / 1000, true);
        throw err;
      },
    ) as R;
  }
  observe((performance.now() - started) / 1000, false);
  return result;
}

/**
 * A Grid whose maps record authmesh_grid_operation_duration_seconds{map,operation} and
 * authmesh_grid_operation_errors_total per call. Map names are fixed in code ('codes',
 * 'cache:clients', …), so the label set is bounded. `metrics` is also what the read-through
 * caches built on this grid report their hits and misses to (read-through.ts).
 */
export class InstrumentedGrid implements Grid {
  constructor(
    readonly inner: Grid,
    readonly metrics: Metrics,
  ) {}

  private readonly maps = new Map<string, GridMap<unknown>>();

  map<V>(name: string): GridMap<V> {
    // Handles of one name share data, so one measured handle per name serves every caller (and
    // a handle taken per request costs no label lookups).
    const known = this.maps.get(name);
    if (known) return known as GridMap<V>;
    // The inner grid validates the name (and throws TypeError for a bad one) first.
    const map = this.inner.map<V>(name);
    const out = {} as Record<(typeof GRID_OPERATIONS)[number], unknown>;
    for (const op of GRID_OPERATIONS) {
      const duration = this.metrics.gridDuration.labels(name, op);
      const errors = this.metrics.gridErrors.labels(name, op);
      const observe = (seconds: number, failed: boolean) => {
        duration.observe(seconds);
        if (failed) errors.inc();
      };
      const fn = (map[op] as (...args: unknown[]) => unknown).bind(map);
      out[op] = (...args: unknown[]) => timed(observe, () => fn(...args));
    }
    this.maps.set(name, out as unknown as GridMap<unknown>);
    return out as unknown as GridMap<V>;
  }

  /** Readiness probes (services/core/health) pass through unmeasured: they run every 2 s off any request. */
  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The grid, measured (see InstrumentedGrid). */
export function instrumentGrid(grid: Grid, metrics: Metrics): Grid {
  return grid instanceof InstrumentedGrid ? grid : new InstrumentedGrid(grid, metrics);
}

/** The metrics a read-through cache on `grid` reports its lookups to, when the grid is measured. */
export function metricsOfGrid(grid: Grid): Metrics | undefined {
  return grid instanceof InstrumentedGrid ? grid.metrics : undefined;
}

const INSTRUMENTED = Symbol('authmesh.instrumentedStore');

/**
 * A Store whose every role method (clients.get, refreshTokens.rotate, …) records
 * authmesh_store_operation_duration_seconds{operation="<role>.<method>"} and, when it rejects or
 * throws, authmesh_store_operation_errors_total. Method names come from the Store interfaces,
 * never from input. `close` is passed through unmeasured.
 */
export function instrumentStore(store: Store, metrics: Metrics | OperationMetrics): Store {
  if ((store as unknown as Record<symbol, unknown>)[INSTRUMENTED]) return store;
  const sink: OperationMetrics = 'registry' in metrics ? metrics.store : metrics;
  const roles = new Map<string | symbol, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === INSTRUMENTED) return true;
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop === 'close' || typeof prop !== 'string' || value === null || typeof value !== 'object') return value;
      let wrapped = roles.get(prop);
      if (!wrapped) {
        wrapped = instrumentRole(value, prop, sink);
        roles.set(prop, wrapped);
      }
      return wrapped;
    },
  });
}

function instrumentRole(role: object, roleName: string, sink: OperationMetrics): object {
  const methods = new Map<string | symbol, unknown>();
  return new Proxy(role, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      let wrapped = methods.get(prop);
      if (!wrapped) {
        const operation = `${roleName}.${prop}`;
        const fn = value as (...args: unknown[]) => unknown;
        wrapped = (...args: unknown[]) => timed((seconds, failed) => sink.observe(operation, seconds, failed), () => fn.apply(target, args));
        methods.set(prop, wrapped);
      }
      return wrapped;
    },
  });
}
