// Prometheus metrics of one authmesh process (prom-client). Each process object (a mesh, a
// gateway, or both in embedded mode) shares one Metrics with its own Registry, never prom-client's
// global default, so two meshes started in one test process do not collide.
//
// Names and units follow the Prometheus conventions (base units: seconds, bytes; counters end in
// _total). Every label has a bounded value set fixed by code: service and method names from the
// registered gRPC definitions, route templates, the error vocabulary, grant types, store/grid
// operation names. No label ever carries a client id, a user, a token or anything else a caller
// chooses.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration, type LabelValues } from 'prom-client';
import { ERROR_CODES } from '../errors/index.js';

/** Buckets (seconds) for in-process work: 0.1 ms to 2.5 s. */
export const LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Grant types a token counter is labelled with (RFC 6749 §4, RFC 8628, RFC 8693); others are `other`. */
export const GRANT_TYPE_LABELS: ReadonlySet<string> = new Set([
  'authorization_code',
  'client_credentials',
  'refresh_token',
  'password',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
]);

const ERROR_LABELS: ReadonlySet<string> = new Set(ERROR_CODES);

/** Client types (services/core/store/types.ts ClientType). */
const CLIENT_TYPE_LABELS: ReadonlySet<string> = new Set(['confidential', 'public', 'trusted']);

/** Why a login failed, as services/user/login-guard.ts records it in its audit event. */
const LOGIN_FAILURE_REASONS: ReadonlySet<string> = new Set(['bad_password', 'unknown_user', 'disabled', 'locked', 'source_throttled', 'password_changed']);

/** A label value from a fixed set, or `other`: whatever reaches it, the label set stays bounded. */
export function boundedLabel(value: string | undefined, allowed: ReadonlySet<string>, fallback = 'other'): string {
  return value !== undefined && allowed.has(value) ? value : fallback;
}

/**
 * Counts of a hot path kept as plain numbers and added to their prom-client counter when it is
 * collected (before every exposition), so an increment costs an addition, not prom-client's label
 * validation and hashing. The exposition is exact: nothing is sampled or dropped.
 */
class HotCounts<L extends string> {
  private readonly entries: { labels: LabelValues<L>; n: number }[] = [];

  /** A counter of one label set; keep it (each call adds an entry). */
  child(labels: LabelValues<L>): { inc(): void } {
    const entry = { labels, n: 0 };
    this.entries.push(entry);
    return {
      inc: () => {
        entry.n += 1;
      },
    };
  }

  flush(counter: Counter<L>): void {
    for (const e of this.entries) {
      if (e.n > 0) {
        counter.inc(e.labels, e.n);
        e.n = 0;
      }
    }
  }
}

type CountChild = { inc(): void };
type ObserveChild = { observe(value: number): void };

/** One unary method's metrics: `observe` records a finished call (its gRPC status name, seconds). */
export interface RpcMethodMetrics {
  observe(code: string, seconds: number): void;
}

/** A store or grid operation's outcome, recorded by the instrumented wrappers (instrument.ts). */
export interface OperationMetrics {
  observe(operation: string, seconds: number, failed: boolean): void;
}

export interface MetricsOptions {
  /** Collect prom-client's process and Node.js metrics (CPU, memory, GC, event-loop lag). Default true. */
  defaultMetrics?: boolean;
}

/**
 * The metric families of one process and the registry that serves them.
 *
 * | family | type | labels |
 * |---|---|---|
 * | authmesh_rpc_server_requests_total, authmesh_rpc_server_duration_seconds | counter, histogram | service, method, code (gRPC status name) |
 * | authmesh_http_server_requests_total, authmesh_http_server_duration_seconds | counter, histogram | route, method, status_code, error (RFC error code or "none") |
 * | authmesh_tokens_issued_total | counter | grant_type, client_type (confidential, public) |
 * | authmesh_refresh_token_reuse_detected_total | counter | — |
 * | authmesh_authorization_code_replays_total | counter | — |
 * | authmesh_login_failures_total | counter | reason (bad_password, unknown_user, disabled, locked, source_throttled, password_changed) |
 * | authmesh_login_lockouts_total | counter | scope (account, source) |
 * | authmesh_store_operation_duration_seconds, authmesh_store_operation_errors_total | histogram, counter | operation |
 * | authmesh_grid_operation_duration_seconds, authmesh_grid_operation_errors_total | histogram, counter | map, operation |
 * | authmesh_cache_lookups_total | counter | cache, result (hit, miss) |
 * | authmesh_audit_queue_depth_events | gauge | — |
 * | authmesh_signing_key_age_seconds | gauge | — |
 * plus prom-client's process_* and nodejs_* defaults (nodejs_eventloop_lag_seconds and its percentiles).
 */
export class Metrics {
  readonly registry: Registry;
  readonly rpcRequests: Counter<'service' | 'method' | 'code'>;
  readonly rpcDuration: Histogram<'service' | 'method' | 'code'>;
  readonly httpRequests: Counter<'route' | 'method' | 'status_code' | 'error'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'status_code' | 'error'>;
  readonly tokensIssued: Counter<'grant_type' | 'client_type'>;
  readonly refreshReuse: Counter;
  readonly codeReplays: Counter;
  readonly loginFailures: Counter<'reason'>;
  readonly loginLockouts: Counter<'scope'>;
  readonly storeDuration: Histogram<'operation'>;
  readonly storeErrors: Counter<'operation'>;
  readonly gridDuration: Histogram<'map' | 'operation'>;
  readonly gridErrors: Counter<'map' | 'operation'>;
  readonly cacheLookups: Counter<'cache' | 'result'>;
  private readonly auditDepthSources = new Set<() => number>();
  private readonly keyAgeSources = new Set<() => Promise<number | undefined>>();
  private readonly hotRpc = new HotCounts<'service' | 'method' | 'code'>();
  private readonly hotHttp = new HotCounts<'route' | 'method' | 'status_code' | 'error'>();
  private readonly hotTokens = new HotCounts<'grant_type' | 'client_type'>();
  private readonly hotCache = new HotCounts<'cache' | 'result'>();
  private readonly httpChildren = new Map<string, { count: CountChild; duration: ObserveChild }>();
  private readonly tokenChildren = new Map<string, CountChild>();
  private readonly cacheStatSources = new Map<string, { read: () => { hits: number; misses: number }; last: { hits: number; misses: number } }>();

  constructor(options: MetricsOptions = {}) {
    const registry = new Registry();
    this.registry = registry;
    const counter = <L extends string>(c: CounterConfiguration<L>) => new Counter<L>({ ...c, registers: [registry] });
    const histogram = <L extends string>(c: HistogramConfiguration<L>) => new Histogram<L>({ buckets: LATENCY_BUCKETS_SECONDS, ...c, registers: [registry] });
    const gauge = <L extends string>(c: GaugeConfiguration<L>) => new Gauge<L>({ ...c, registers: [registry] });

    const hotRpc = this.hotRpc;
    const hotHttp = this.hotHttp;
    const hotTokens = this.hotTokens;
    const hotCache = this.hotCache;
    this.rpcRequests = counter({
      name: 'authmesh_rpc_server_requests_total',
      help: 'Unary gRPC calls served, by service, method and gRPC status code name.',
      labelNames: ['service', 'method', 'code'],
      collect() {
        hotRpc.flush(this);
      },
    });
    this.rpcDuration = histogram({ name: 'authmesh_rpc_server_duration_seconds', help: 'Time to serve a unary gRPC call (access check, handler, error mapping), seconds.', labelNames: ['service', 'method', 'code'] });
    this.httpRequests = counter({
      name: 'authmesh_http_server_requests_total',
      help: 'HTTP requests the gateway answered, by route template, method, status code and RFC error code ("none" when the answer is not an error).',
      labelNames: ['route', 'method', 'status_code', 'error'],
      collect() {
        hotHttp.flush(this);
      },
    });
    this.httpDuration = histogram({ name: 'authmesh_http_server_duration_seconds', help: 'Time to answer an HTTP request at the gateway, seconds.', labelNames: ['route', 'method', 'status_code', 'error'] });
    this.tokensIssued = counter({
      name: 'authmesh_tokens_issued_total',
      help: 'Access tokens issued, by grant type and client type (confidential, public or trusted).',
      labelNames: ['grant_type', 'client_type'],
      collect() {
        hotTokens.flush(this);
      },
    });
    this.refreshReuse = counter({ name: 'authmesh_refresh_token_reuse_detected_total', help: 'Refresh tokens presented again after rotation (RFC 9700 §4.14.2): each revoked its token family.' });
    this.codeReplays = counter({ name: 'authmesh_authorization_code_replays_total', help: 'Authorization codes presented after they were redeemed (RFC 6749 §4.1.2): each revoked the tokens of its grant.' });
    this.loginFailures = counter({ name: 'authmesh_login_failures_total', help: 'User authentications that failed, by reason.', labelNames: ['reason'] });
    this.loginLockouts = counter({ name: 'authmesh_login_lockouts_total', help: 'Lockouts after too many failed logins: an account locked, or a source throttled for one account.', labelNames: ['scope'] });
    this.storeDuration = histogram({ name: 'authmesh_store_operation_duration_seconds', help: 'Time of an SQL store operation, by store role and method (e.g. clients.get), seconds.', labelNames: ['operation'] });
    this.storeErrors = counter({ name: 'authmesh_store_operation_errors_total', help: 'SQL store operations that failed, by store role and method.', labelNames: ['operation'] });
    this.gridDuration = histogram({ name: 'authmesh_grid_operation_duration_seconds', help: 'Time of a grid map operation, by map and operation, seconds.', labelNames: ['map', 'operation'] });
    this.gridErrors = counter({ name: 'authmesh_grid_operation_errors_total', help: 'Grid map operations that failed, by map and operation.', labelNames: ['map', 'operation'] });
    const cacheStats = this.cacheStatSources;
    this.cacheLookups = counter({
      name: 'authmesh_cache_lookups_total',
      help: 'Lookups in the read-through caches and in-process caches, by cache and result (hit or miss).',
      labelNames: ['cache', 'result'],
      // In-process caches that keep their own counts (the verified-token LRU) are read at scrape time.
      collect() {
        hotCache.flush(this);
        for (const [cache, source] of cacheStats) {
          const now = source.read();
          if (now.hits > source.last.hits) this.inc({ cache, result: 'hit' }, now.hits - source.last.hits);
          if (now.misses > source.last.misses) this.inc({ cache, result: 'miss' }, now.misses - source.last.misses);
          source.last = { hits: now.hits, misses: now.misses };
        }
      },
    });

    const auditSources = this.auditDepthSources;
    gauge({
      name: 'authmesh_audit_queue_depth_events',
      help: 'Audit events queued in memory and not yet written to the store.',
      collect() {
        let depth = 0;
        for (const read of auditSources) depth += read();
        this.set(depth);
      },
    });
    const keySources = this.keyAgeSources;
    gauge({
      name: 'authmesh_signing_key_age_seconds',
      help: 'Age of the active signing key (since it was generated), seconds; NaN in a process without the key service.',
      async collect() {
        let age: number | undefined;
        for (const read of keySources) age = (await read().catch(() => undefined)) ?? age;
        this.set(age ?? Number.NaN);
      },
    });
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
      // Gauges named *_total break the naming convention (promtool: "non-counter metrics should
      // not have _total suffix"); their per-type siblings (nodejs_active_handles{type}, …) sum
      // to the same number.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
    }
  }

  /** Reads the audit queue's depth (events) at every scrape; returns the removal. */
  addAuditQueue(depth: () => number): () => void {
    this.auditDepthSources.add(depth);
    return () => this.auditDepthSources.delete(depth);
  }

  /** Reads the active signing key's age (seconds, undefined when there is none) at every scrape; returns the removal. */
  addSigningKeyAge(ageSeconds: () => Promise<number | undefined>): () => void {
    this.keyAgeSources.add(ageSeconds);
    return () => this.keyAgeSources.delete(ageSeconds);
  }

  /**
   * Reports an in-process cache that counts its own hits and misses (monotonic totals) as
   * authmesh_cache_lookups_total{cache}, read at every scrape; returns the removal.
   */
  addCacheStats(cache: string, read: () => { hits: number; misses: number }): () => void {
    this.cacheStatSources.set(cache, { read, last: { hits: 0, misses: 0 } });
    return () => this.cacheStatSources.delete(cache);
  }

  /**
   * The metrics of one registered unary method. The children of each status code are made on
   * first use and kept, so a call costs two increments and no label hashing of our own.
   * @param service fully qualified service name (authmesh.token.v1.TokenService)
   * @param method the method's name from its definition (Token)
   */
  rpcMethod(service: string, method: string): RpcMethodMetrics {
    const children = new Map<string, { count: CountChild; duration: ObserveChild }>();
    return {
      observe: (code, seconds) => {
        let child = children.get(code);
        if (!child) {
          child = { count: this.hotRpc.child({ service, method, code }), duration: this.rpcDuration.labels(service, method, code) };
          children.set(code, child);
        }
        child.count.inc();
        child.duration.observe(seconds);
      },
    };
  }

  /** Records one answered HTTP request. `route` is the matched route template or a fixed label. */
  observeHttp(route: string, method: string, statusCode: number, error: string | undefined, seconds: number): void {
    const errorLabel = error === undefined ? 'none' : boundedLabel(error, ERROR_LABELS);
    const key = `${route} ${method} ${statusCode} ${errorLabel}`;
    let child = this.httpChildren.get(key);
    if (!child) {
      const status_code = String(statusCode);
      child = { count: this.hotHttp.child({ route, method, status_code, error: errorLabel }), duration: this.httpDuration.labels(route, method, status_code, errorLabel) };
      this.httpChildren.set(key, child);
    }
    child.count.inc();
    child.duration.observe(seconds);
  }

  /** One access token issued (RFC 6749 §5.1): grant type and client type (both bounded). */
  tokenIssued(grantType: string, clientType: string): void {
    const grant_type = boundedLabel(grantType, GRANT_TYPE_LABELS);
    const client_type = boundedLabel(clientType, CLIENT_TYPE_LABELS);
    const key = `${grant_type} ${client_type}`;
    let child = this.tokenChildren.get(key);
    if (!child) {
      child = this.hotTokens.child({ grant_type, client_type });
      this.tokenChildren.set(key, child);
    }
    child.inc();
  }

  /** The hit and miss counters of one cache (authmesh_cache_lookups_total{cache,result}); keep them. */
  cacheCounters(cache: string): { hit: CountChild; miss: CountChild } {
    return { hit: this.hotCache.child({ cache, result: 'hit' }), miss: this.hotCache.child({ cache, result: 'miss' }) };
  }

  /**
   * Counts the security events whose audit event is recorded where they happen (MeshDeps.audit):
   * refresh.reuse_detected (RFC 9700 §4.14.2), code.replay_detected (RFC 6749 §4.1.2),
   * login.failure (by details.reason), login.locked and login.source_throttled. Counted before
   * AUTHMESH_AUDIT_SUCCESS filters anything, so the counters do not depend on the audit setting.
   * Only the event type and the bounded reason are read: never a client id or a subject.
   */
  auditEvent(event: { type: string; details?: Record<string, unknown> | undefined }): void {
    switch (event.type) {
      case 'refresh.reuse_detected':
        this.refreshReuse.inc();
        break;
      case 'code.replay_detected':
        this.codeReplays.inc();
        break;
      case 'login.failure': {
        const reason = event.details?.reason;
        this.loginFailures.inc({ reason: boundedLabel(typeof reason === 'string' ? reason : undefined, LOGIN_FAILURE_REASONS) });
        break;
      }
      case 'login.locked':
        this.loginLockouts.inc({ scope: 'account' });
        break;
      case 'login.source_throttled':
        this.loginLockouts.inc({ scope: 'source' });
        break;
    }
  }

  /** What the instrumented store reports to. */
  get store(): OperationMetrics {
    return {
      observe: (operation, seconds, failed) => {
        this.storeDuration.observe({ operation }, seconds);
        if (failed) this.storeErrors.inc({ operation });
      },
    };
  }

  /** The exposition text (Prometheus text format 0.0.4) and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A fresh Metrics with its own registry (see the class comment for its families). */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  return new Metrics(options);
}
