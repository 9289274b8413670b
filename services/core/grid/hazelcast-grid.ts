// The grid on a Hazelcast cluster (hazelcast-client), shared by every process of the stack.
//
// Failure behaviour, chosen so a caller never hangs on the grid:
// - Start waits at most `startTimeoutMs` for a member and then fails with TemporarilyUnavailable
//   naming the members and cluster (wrong address, wrong cluster name, no cluster).
// - Reconnect is ASYNC: while no member is reachable every operation fails at once with
//   ClientOfflineError (mapped to TemporarilyUnavailable) and the client reconnects in the
//   background (backoff capped at `maxReconnectBackoffMs`). The client's connect timeout is also
//   what ends its own reconnecting: after an outage longer than `startTimeoutMs` it shuts itself
//   down, and the grid then starts a new client in the background until one connects. Either way
//   operations succeed again once the cluster is back, through the same Grid object.
// - A lost member alone is survived by smart routing and the synchronous backup (backup-count 1
//   in hazelcast/hazelcast.xml); an operation caught on the dying connection fails cleanly.
// - Every operation is bounded by `operationTimeoutMs` (the client's invocation timeout, with an
//   outer timer as a backstop). Infrastructure failures become TemporarilyUnavailable, which the
//   edge answers as 503 temporarily_unavailable; they never turn a check into a pass.
//
// TTLs: a member keeps expiry in whole seconds of its clock: an entry written with a TTL of n s
// expires at the start of second floor(now)+n, i.e. after anything between n-1 and n seconds
// (measured: a 1000 ms TTL lasted 273-986 ms; a 1500 ms one is truncated to 1 s first). So a TTL
// is sent as ceil(ttl / 1 s) + 1 s: an entry then never disappears before the caller's TTL, and
// lives at most about a second past it rounded up to a whole second.
import {
  Client,
  ClientNotActiveError,
  ClientOfflineError,
  HazelcastInstanceNotActiveError,
  IllegalStateError,
  IndeterminateOperationStateError,
  IOError,
  LifecycleState,
  LogLevel,
  NoDataMemberInClusterError,
  OperationTimeoutError,
  RetryableHazelcastError,
  TargetDisconnectedError,
  ReconnectMode,
  type ClientConfig,
  type IMap,
  type ILogger,
  type NearCacheConfig,
} from 'hazelcast-client';
import { TemporarilyUnavailable } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Grid, GridMap } from './grid.js';
import { assertKey, assertMapName, assertTtl, decodeValue, encodeValue } from './grid-input.js';

export interface HazelcastGridOptions {
  /** host:port of cluster members; the client discovers the rest from any one of them. */
  members: string[];
  clusterName: string;
  /** How long start waits for a first member. Default 5000. */
  startTimeoutMs?: number;
  /** Bound on every operation. Default 2000. */
  operationTimeoutMs?: number;
  /** Upper bound between reconnect attempts while the cluster is unreachable. Default 2000. */
  maxReconnectBackoffMs?: number;
  /**
   * Map names (exact, or with one `*`) whose reads are served from a client-side near cache.
   * Default DEFAULT_NEAR_CACHE_MAPS: the hot copies of users, services and keys, read on every
   * request and written rarely. Never for single-use or revocation maps (see below), nor for
   * client records: there a stale copy would accept a rotated secret.
   */
  nearCacheMaps?: string[];
  /** Where the client's own messages go; omitted = silent. */
  log?: Logger;
  /** Shown in the cluster's client list. */
  clientName?: string;
}

export interface HazelcastGrid extends Grid {
  /** Whether the client currently holds a connection to the cluster. */
  isConnected(): boolean;
}

const DEFAULT_START_TIMEOUT_MS = 5_000;
const DEFAULT_OPERATION_TIMEOUT_MS = 2_000;
const DEFAULT_MAX_RECONNECT_BACKOFF_MS = 2_000;
// Room for the client's own timeout error to arrive before the backstop timer fires.
const BACKSTOP_MARGIN_MS = 500;
const INCREMENT_MAX_ATTEMPTS = 50;
// Hazelcast reports "no expiry" as Long.MAX_VALUE; anything this far out is not a real deadline.
const NO_EXPIRY_THRESHOLD_MS = 100 * 365 * 86_400_000;

/**
 * Near cache for hot copies. Invalidations are pushed by the members as each write happens (the
 * member config turns batching off), so another instance sees a change within milliseconds; the
 * near cache's own TTL bounds staleness should an invalidation ever be lost (the client also
 * reconciles periodically). Reads then cost no network round trip (≈0.6 ms each on loopback
 * otherwise). Not used for codes, replay markers or revocations: there a stale read would accept
 * a replayed code or a revoked token, and those maps are written as often as they are read.
 */
const NEAR_CACHE: NearCacheConfig = {
  invalidateOnChange: true,
  inMemoryFormat: 'OBJECT' as NearCacheConfig['inMemoryFormat'],
  timeToLiveSeconds: 60,
  maxIdleSeconds: 0,
  evictionPolicy: 'LRU' as NearCacheConfig['evictionPolicy'],
  evictionMaxSize: 10_000,
};

/**
 * Near-cached by default. Not cache:clients: an invalidation reaches other instances only after
 * the write (milliseconds, or the near cache's TTL should one be lost), and until then a client
 * secret rotated, or a grant type removed, on one instance would still work on another. Each
 * client authentication therefore reads the grid (one get from the partition owner, which has
 * the write before the rotation is acknowledged).
 */
export const DEFAULT_NEAR_CACHE_MAPS = ['cache:users*', 'cache:services*', 'cache:keys*'];

/** The TTL to send for a lifetime of at least `ttlMs`: whole seconds, see the top of this file. */
export function hazelcastTtlMs(ttlMs: number): number {
  return (Math.ceil(ttlMs / 1000) + 1) * 1000;
}

/** The TTL that makes an entry expire at `expiresAt` (a member deadline, epoch ms) again. */
function ttlUntil(expiresAt: number, now: number): number {
  return Math.max(1, Math.ceil(expiresAt / 1000) - Math.floor(now / 1000)) * 1000;
}

export async function createHazelcastGrid(options: HazelcastGridOptions): Promise<HazelcastGrid> {
  const members = checkOptions(options);
  const startTimeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  const log = options.log?.child({ component: 'grid', grid: 'hazelcast', cluster: options.clusterName });
  const where = `cluster "${options.clusterName}" at ${members.join(', ')}`;

  let connected = false;
  let closed = false;
  // The client in use; replaced when one shuts itself down after an outage longer than
  // `startTimeoutMs` (see the top of this file). Each client's lifecycle events carry its own
  // token so a replaced or failed client cannot change the state of the current one.
  let current: { client: Client; token: object } | undefined;
  let replacing = false;
  let proxies = new Map<string, Promise<IMap<string, string>>>();

  const nearCaches: Record<string, NearCacheConfig> = {};
  for (const pattern of options.nearCacheMaps ?? DEFAULT_NEAR_CACHE_MAPS) nearCaches[pattern] = { ...NEAR_CACHE };

  const configFor = (token: object): ClientConfig => ({
    clusterName: options.clusterName,
    instanceName: options.clientName ?? 'authmesh',
    network: {
      clusterMembers: members,
      smartRouting: true,
      // Bounds one TCP connect, so a black-holed address cannot stall a reconnect round.
      connectionTimeout: Math.min(operationTimeoutMs, 5_000),
      // Off: a write whose connection dropped may or may not have happened, and repeating a take
      // or putIfAbsent could report the wrong winner. Reads are retried by the client anyway.
      redoOperation: false,
    },
    connectionStrategy: {
      // Not asyncStart: in hazelcast-client 5.6.0 an async start never opens connections to the
      // other members, so every operation on their partitions waits for the backup-ack timeout.
      asyncStart: false,
      reconnectMode: ReconnectMode.ASYNC,
      connectionRetry: {
        initialBackoffMillis: 250,
        maxBackoffMillis: options.maxReconnectBackoffMs ?? DEFAULT_MAX_RECONNECT_BACKOFF_MS,
        multiplier: 1.5,
        jitter: 0.2,
        clusterConnectTimeoutMillis: startTimeoutMs,
      },
    },
    nearCaches,
    lifecycleListeners: [(state: LifecycleState) => onLifecycle(token, state)],
    customLogger: clientLogger(log),
    properties: {
      'hazelcast.client.invocation.timeout.millis': operationTimeoutMs,
      'hazelcast.client.invocation.retry.pause.millis': 200,
      // A member that hangs (rather than dies) is given up after 10 s instead of 60.
      'hazelcast.client.heartbeat.interval': 2_000,
      'hazelcast.client.heartbeat.timeout': 10_000,
      'hazelcast.client.operation.backup.timeout.millis': operationTimeoutMs,
      // A write whose backup never acknowledged fails (IndeterminateOperationStateError, mapped to
      // TemporarilyUnavailable) instead of succeeding: an acknowledged write is then on two
      // members, so losing one never rolls a revocation bucket back to an older version.
      'hazelcast.client.operation.fail.on.indeterminate.state': true,
      'hazelcast.client.statistics.enabled': false,
    },
  });

  function onLifecycle(token: object, state: LifecycleState): void {
    if (current?.token !== token) return;
    if (state === LifecycleState.CONNECTED) {
      if (!connected) log?.info('grid connected to the Hazelcast cluster');
      connected = true;
    } else if (state === LifecycleState.DISCONNECTED) {
      connected = false;
      if (!closed) log?.warn('grid lost the Hazelcast cluster; operations fail with temporarily_unavailable until it is back');
    } else if (state === LifecycleState.SHUTDOWN && !closed) {
      // The client gave up reconnecting: start a new one, in the background, until one connects.
      connected = false;
      current = undefined;
      void replaceClient();
    }
  }

  async function connect(): Promise<{ client: Client; token: object }> {
    const token = {};
    const pending = { client: undefined as Client | undefined, token };
    // Lifecycle events of this client count from the moment it exists.
    const previous = current;
    current = pending as { client: Client; token: object };
    try {
      pending.client = await Client.newHazelcastClient(configFor(token));
      return pending as { client: Client; token: object };
    } catch (err) {
      if (current === pending) current = previous;
      throw new TemporarilyUnavailable(`no Hazelcast member of ${where} answered within ${startTimeoutMs} ms (is the cluster up, and is the cluster name right?)`, {
        cause: err,
      });
    }
  }

  async function replaceClient(): Promise<void> {
    if (replacing) return;
    replacing = true;
    try {
      while (!closed) {
        try {
          const next = await connect();
          if (closed) {
            await next.client.shutdown().catch(() => undefined);
            return;
          }
          proxies = new Map();
          current = next;
          connected = true;
          log?.info('grid reconnected to the Hazelcast cluster with a new client');
          return;
        } catch {
          await sleep(options.maxReconnectBackoffMs ?? DEFAULT_MAX_RECONNECT_BACKOFF_MS);
        }
      }
    } finally {
      replacing = false;
    }
  }

  current = await connect();
  connected = true;

  function proxy(name: string): Promise<IMap<string, string>> {
    const client = current?.client;
    if (client === undefined) return Promise.reject(new TemporarilyUnavailable('the grid is reconnecting to the cluster'));
    const cached = proxies.get(name);
    if (cached !== undefined) return cached;
    const made = client.getMap<string, string>(name);
    proxies.set(name, made);
    // A proxy that failed to be created (cluster offline) must be retried on next use.
    made.catch(() => {
      if (proxies.get(name) === made) proxies.delete(name);
    });
    return made;
  }

  /** Runs one grid call under the operation bound, translating infrastructure failures. */
  async function call<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (closed) throw new TemporarilyUnavailable('the grid is closed');
    let timer: NodeJS.Timeout | undefined;
    const backstop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new GridTimeout()), operationTimeoutMs + BACKSTOP_MARGIN_MS);
    });
    try {
      return await Promise.race([op(), backstop]);
    } catch (err) {
      if (closed) throw new TemporarilyUnavailable('the grid is closed');
      if (err instanceof TemporarilyUnavailable) throw err;
      if (isUnavailable(err)) {
        throw new TemporarilyUnavailable('the grid is temporarily unavailable', { cause: err });
      }
      log?.error({ err, op: what }, 'unexpected grid failure');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  function mapHandle<V>(name: string): GridMap<V> {
    return {
      async get(key) {
        assertKey(key);
        const json = await call('get', async () => (await proxy(name)).get(key));
        return json === null || json === undefined ? undefined : decodeValue<V>(json);
      },
      async set(key, value, ttlMs) {
        assertKey(key);
        assertTtl(ttlMs, false);
        const json = encodeValue(value);
        // Without a TTL: -1 = the map's configured TTL, which is "never" except for the safety
        // nets hazelcast.xml puts on the ephemeral maps. It also clears a previous entry's TTL.
        await call('set', async () => (await proxy(name)).set(key, json, ttlMs === undefined ? -1 : hazelcastTtlMs(ttlMs)));
      },
      async putIfAbsent(key, value, ttlMs) {
        assertKey(key);
        assertTtl(ttlMs, false);
        const json = encodeValue(value);
        const previous = await call('putIfAbsent', async () =>
          (await proxy(name)).putIfAbsent(key, json, ttlMs === undefined ? -1 : hazelcastTtlMs(ttlMs)),
        );
        return previous === null || previous === undefined;
      },
      async replace(key, expected, value) {
        assertKey(key);
        const expectedJson = encodeValue(expected);
        const json = encodeValue(value);
        // One partition operation comparing the stored JSON text: of concurrent replacers exactly
        // one sees its expected text. The member drops the entry's TTL (see increment below).
        return call('replace', async () => (await proxy(name)).replaceIfSame(key, expectedJson, json));
      },
      async take(key) {
        assertKey(key);
        // remove() is one partition operation: of concurrent takers exactly one gets the value.
        const json = (await call('take', async () => (await proxy(name)).remove(key))) as string | null | undefined;
        return json === null || json === undefined ? undefined : decodeValue<V>(json);
      },
      async delete(key) {
        assertKey(key);
        await call('delete', async () => (await proxy(name)).delete(key));
      },
      async increment(key, ttlMs) {
        assertKey(key);
        assertTtl(ttlMs, true);
        return increment(name, key, ttlMs);
      },
    };
  }

  /**
   * A fixed-window counter without server-side code: compare-and-set on the JSON text. Hazelcast's
   * replace() drops the entry's TTL, so each successful replace puts back the time left in the
   * window the first increment opened. Until it does, the entry briefly shows no expiry; a
   * concurrent incrementer seeing that waits for the TTL rather than copying "no expiry", and after
   * a few tries (the writer died in between) opens a fresh window so no counter lives forever.
   */
  async function increment(name: string, key: string, ttlMs: number): Promise<number> {
    let sawNoExpiry = 0;
    for (let attempt = 0; attempt < INCREMENT_MAX_ATTEMPTS; attempt++) {
      const view = await call('increment', async () => (await proxy(name)).getEntryView(key));
      if (view === null || view === undefined) {
        const previous = await call('increment', async () => (await proxy(name)).putIfAbsent(key, '1', hazelcastTtlMs(ttlMs)));
        if (previous === null || previous === undefined) return 1;
        continue;
      }
      const count: unknown = JSON.parse(view.value);
      if (!Number.isSafeInteger(count)) throw new TypeError(`grid map ${name} holds a non-counter value under this key`);
      const next = (count as number) + 1;
      const expiresAt = Number(view.expirationTime.toString());
      let restoreTtl: number;
      if (!Number.isFinite(expiresAt) || expiresAt - Date.now() > NO_EXPIRY_THRESHOLD_MS) {
        if (++sawNoExpiry < 5) {
          await sleep(20 * sawNoExpiry);
          continue;
        }
        restoreTtl = hazelcastTtlMs(ttlMs);
      } else {
        // Past its expiry but not yet dropped: the next read drops it, and counting starts afresh.
        if (expiresAt <= Date.now()) {
          await sleep(50);
          continue;
        }
        restoreTtl = ttlUntil(expiresAt, Date.now());
      }
      const replaced = await call('increment', async () => (await proxy(name)).replaceIfSame(key, view.value, String(next)));
      if (!replaced) {
        await sleep(Math.random() * 5 * (attempt + 1));
        continue;
      }
      await call('increment', async () => (await proxy(name)).setTtl(key, restoreTtl));
      return next;
    }
    throw new TemporarilyUnavailable('the grid counter is too contended, try again');
  }

  return {
    map<V>(name: string): GridMap<V> {
      assertMapName(name);
      return mapHandle<V>(name);
    },
    async ping() {
      // Disconnected: say so at once rather than wait out the invocation timeout.
      if (!closed && !connected) throw new TemporarilyUnavailable('the grid is not connected to the cluster');
      // A read of a key nobody writes, in a map of its own: a real round trip to a partition owner.
      await call('ping', async () => (await proxy(PING_MAP)).get('ping'));
    },
    async close() {
      if (closed) return;
      closed = true;
      proxies.clear();
      const client = current?.client;
      current = undefined;
      await client?.shutdown().catch((err: unknown) => log?.warn({ err }, 'grid client shutdown failed'));
    },
    isConnected: () => connected && !closed,
  };
}

/** The map readiness reads (never written); named apart from every map the services use. */
const PING_MAP = 'authmesh:ping';

class GridTimeout extends Error {
  constructor() {
    super('grid operation timed out');
    this.name = 'GridTimeout';
  }
}

function isUnavailable(err: unknown): boolean {
  return (
    err instanceof GridTimeout ||
    err instanceof ClientOfflineError ||
    err instanceof ClientNotActiveError ||
    err instanceof HazelcastInstanceNotActiveError ||
    err instanceof TargetDisconnectedError ||
    err instanceof IOError ||
    err instanceof OperationTimeoutError ||
    err instanceof RetryableHazelcastError ||
    err instanceof NoDataMemberInClusterError ||
    err instanceof IndeterminateOperationStateError ||
    // "Client is being shutdown" and similar states of a client that is going away.
    err instanceof IllegalStateError
  );
}

function checkOptions(options: HazelcastGridOptions): string[] {
  if (!Array.isArray(options.members) || options.members.length === 0) throw new TypeError('hazelcast grid: members must list at least one host:port');
  for (const m of options.members) {
    if (typeof m !== 'string' || !/^[\w.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(m)) {
      throw new TypeError(`hazelcast grid: member ${JSON.stringify(m)} is not host:port`);
    }
  }
  if (typeof options.clusterName !== 'string' || options.clusterName === '') throw new TypeError('hazelcast grid: clusterName must be a non-empty string');
  for (const [name, v] of [
    ['startTimeoutMs', options.startTimeoutMs],
    ['operationTimeoutMs', options.operationTimeoutMs],
    ['maxReconnectBackoffMs', options.maxReconnectBackoffMs],
  ] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v <= 0)) throw new RangeError(`hazelcast grid: ${name} must be a positive integer`);
  }
  return [...options.members];
}

// The client's messages, at levels that fit a service log: its INFO chatter is debug here, and
// the warning it repeats on every reconnect attempt during an outage is debug too (the grid logs
// the outage once itself).
function clientLogger(log: Logger | undefined): ILogger {
  const emit = (level: LogLevel, objectName: string, message: string, furtherInfo?: unknown): void => {
    if (log === undefined) return;
    const fields = { source: objectName, ...(furtherInfo instanceof Error ? { err: furtherInfo } : {}) };
    if (level === LogLevel.ERROR) log.error(fields, message);
    else if (level === LogLevel.WARN && objectName !== 'WaitStrategy' && objectName !== 'ConnectionManager') log.warn(fields, message);
    else if (level <= LogLevel.INFO || level === LogLevel.WARN) log.debug(fields, message);
    else log.trace(fields, message);
  };
  return {
    log: (level, objectName, message, furtherInfo) => emit(level, objectName, message, furtherInfo),
    error: (o, m, f) => emit(LogLevel.ERROR, o, m, f),
    warn: (o, m, f) => emit(LogLevel.WARN, o, m, f),
    info: (o, m, f) => emit(LogLevel.INFO, o, m, f),
    debug: (o, m, f) => emit(LogLevel.DEBUG, o, m, f),
    trace: (o, m, f) => emit(LogLevel.TRACE, o, m, f),
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
