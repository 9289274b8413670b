// Starts the services named in the configuration in this process, on one gRPC server, wired to
// their peers through RPC clients (in process for the services run here unless
// AUTHMESH_PEER_TRANSPORT=grpc, over gRPC for the others). `npm start` runs all seven (embedded
// mode); AUTHMESH_SERVICES runs a subset with the others' addresses from configuration (the
// scaled-out shape).
import { createClientService } from './client/index.js';
import { createCodeService } from './code/index.js';
import type { Config, ServiceName } from './core/config/index.js';
import { resolveMeshSecret } from './core/config/data-dir-secrets.js';
import type { Grid } from './core/grid/index.js';
import { createGridFromConfig } from './core/grid/index.js';
import { createLogger, type Logger } from './core/log/index.js';
import { createReadiness, type Readiness } from './core/health/readiness.js';
import { createMetrics, instrumentGrid, instrumentStore, type Metrics } from './core/metrics/index.js';
import { createAccessTokenVerifier, createDpopProofs, createMeshAuthenticator, createRpcServer, type RpcServer } from './core/rpc/index.js';
import type { Store } from './core/store/index.js';
import { createStoreFromConfig } from './core/store/store-from-config.js';
import { traceGrid, traceStore } from './core/telemetry/index.js';
import { listenFailure } from './listen-failure.js';
import { createKeyServiceModule } from './key/index.js';
import { createAuditQueue } from './audit-queue.js';
import { createPeers, type MeshDeps, type Peers, type ServiceFactory, type ServiceModule } from './mesh-deps.js';
import { createRefreshTokenService } from './refresh-token/index.js';
import { createServiceRegistryService } from './service/index.js';
import { createTokenService } from './token/index.js';
import { createUserService } from './user/index.js';

const FACTORIES: Record<ServiceName, ServiceFactory> = {
  client: createClientService,
  service: createServiceRegistryService,
  user: createUserService,
  key: createKeyServiceModule,
  code: createCodeService,
  token: createTokenService,
  'refresh-token': createRefreshTokenService,
};

export interface Mesh {
  port: number;
  /** Resolves when every audit event recorded so far is in the store. */
  flushAudit(): Promise<void>;
  /** gRPC address of every service, as this process reaches it. */
  addresses: Record<ServiceName, string>;
  deps: MeshDeps;
  rpc: RpcServer;
  /** Store and grid reachability (gRPC health `readiness`, the gateway's GET /readyz). */
  readiness: Readiness;
  modules: Partial<Record<ServiceName, ServiceModule>>;
  close(): Promise<void>;
}

export interface StartMeshOptions {
  config: Config;
  store?: Store;
  grid?: Grid;
  log?: Logger;
  /**
   * This process's metrics (main.ts serves them on AUTHMESH_METRICS_PORT). Default: a fresh
   * Metrics of this mesh alone (own registry, no process metrics), so meshes started side by side
   * in one test process never share counters.
   */
  metrics?: Metrics;
}

/**
 * Opens the store and grid (unless given), starts the configured services on one gRPC server
 * and runs their start hooks. A failure closes whatever it had opened (a half-started embedded
 * database is closed cleanly, not abandoned) and rethrows; start-up failures are StartupErrors.
 */
export async function startMesh(options: StartMeshOptions): Promise<Mesh> {
  const opened: Array<() => Promise<void>> = [];
  try {
    return await openMesh(options, opened);
  } catch (err) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

async function openMesh(options: StartMeshOptions, opened: Array<() => Promise<void>>): Promise<Mesh> {
  const { config } = options;
  const log = options.log ?? createLogger({ level: config.logLevel });
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: false });
  const ownsStore = !options.store;
  const rawStore = options.store ?? (await createStoreFromConfig(config, log));
  if (ownsStore) opened.push(() => rawStore.close());
  const ownsGrid = !options.grid;
  const rawGrid = options.grid ?? (await createGridFromConfig(config, log));
  if (ownsGrid) opened.push(() => rawGrid.close());
  // Every store and grid call of this mesh is measured (latency, errors) by one decorator each,
  // and traced (a span per store method and grid operation; the backend itself with tracing off).
  // Measured outermost: the read-through caches find the metrics they report to on the grid.
  const store = instrumentStore(traceStore(rawStore), metrics);
  const grid = instrumentGrid(traceGrid(rawGrid), metrics);
  const meshSecret = resolveMeshSecret(config, log);

  // Peers need the bound port (AUTHMESH_GRPC_PORT=0 in tests), so they exist only after listen.
  const holder: { peers?: Peers } = {};
  const peersRef = (): Peers => {
    if (!holder.peers) throw new Error('peers are used before the server listens');
    return holder.peers;
  };
  const verifier = createAccessTokenVerifier({
    issuer: config.issuer,
    grid,
    revocationStore: store.revocations,
    log,
    cacheSize: config.verifiedTokenCacheSize,
    fetchJwks: async () => {
      const res = await peersRef().key.getJwks({});
      return res.keys.map((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== '')));
    },
  });
  const removeVerifierStats = metrics.addCacheStats('verified-tokens', () => verifier.cacheStats());
  opened.push(async () => removeVerifierStats());
  const auditQueue = createAuditQueue(store.audit, log, { success: config.auditSuccess });
  opened.push(() => auditQueue.close());
  const removeAuditGauge = metrics.addAuditQueue(() => auditQueue.depth);
  opened.push(async () => removeAuditGauge());
  const deps: MeshDeps = {
    config,
    store,
    grid,
    log,
    get peers() {
      return peersRef();
    },
    verifier,
    metrics,
    async audit(event) {
      metrics.auditEvent(event);
      auditQueue.push(event);
    },
    now: () => new Date(),
  };

  const modules: Partial<Record<ServiceName, ServiceModule>> = {};
  for (const name of config.services) modules[name] = FACTORIES[name](deps);
  const rpc = createRpcServer({
    services: Object.values(modules).flatMap((m) => [m.registration, ...(m.extra ?? [])]),
    authenticator: createMeshAuthenticator({ meshSecret, verifier, audience: config.issuer, dpop: createDpopProofs({ grid, config, now: () => new Date() }), edgeSecret: config.mtlsEdgeSecret }),
    log,
    realm: config.issuer,
    metrics,
  });
  const port = await rpc.listen(config.grpcHost, config.grpcPort).catch((err: unknown) => {
    throw listenFailure('gRPC', `${config.grpcHost}:${config.grpcPort}`, 'AUTHMESH_GRPC_PORT', 'AUTHMESH_GRPC_HOST', err);
  });
  opened.push(async () => {
    await rpc.shutdown(1_000);
    holder.peers?.close();
  });
  const own = `${config.grpcHost.includes(':') ? `[${config.grpcHost}]` : config.grpcHost}:${port}`;
  const addresses = { ...config.addresses };
  for (const name of config.services) addresses[name] = own;
  holder.peers = createPeers(addresses, meshSecret, { inProcess: config.peerTransport === 'in-process' ? rpc.inProcess : undefined });

  // Key first: other services' start hooks may need to sign (the bootstrap admin client does not,
  // but nothing should race the first key).
  const order: ServiceName[] = ['key', 'client', 'service', 'user', 'refresh-token', 'code', 'token'];
  opened.push(async () => {
    for (const m of Object.values(modules)) await m.stop?.();
  });
  for (const name of order) await modules[name]?.start?.();
  rpc.setServing(true);
  const readiness = startReadiness(store, grid, rpc, log);
  opened.push(async () => readiness.close());
  log.info({ grpc: own, services: config.services }, 'authmesh gRPC services are serving');

  return {
    port,
    flushAudit: () => auditQueue.flush(),
    addresses,
    deps,
    rpc,
    readiness,
    modules,
    async close() {
      readiness.drain();
      readiness.close();
      await rpc.shutdown(5_000);
      for (const m of Object.values(modules)) await m.stop?.();
      await auditQueue.close();
      removeAuditGauge();
      removeVerifierStats();
      holder.peers?.close();
      if (ownsGrid) await grid.close();
      if (ownsStore) await store.close();
    },
  };
}

// Probes run every 2 s in the background (so gRPC health Watch and Check follow them without a
// caller), each bounded by 1 s; GET /readyz reuses a result up to 1 s old.
const READINESS_INTERVAL_MS = 2_000;

function startReadiness(store: Store, grid: Grid, rpc: RpcServer, log: Logger): Readiness {
  return createReadiness({
    probes: [
      { name: 'store', check: () => store.ping() },
      { name: 'grid', check: () => grid.ping() },
    ],
    intervalMs: READINESS_INTERVAL_MS,
    onChange(report) {
      rpc.setReady(report.ready);
      // Names and states only: never an address or a driver's error text.
      if (report.ready) log.info({ checks: report.checks }, 'ready: the store and grid answer');
      else log.warn({ checks: report.checks, draining: report.draining }, 'not ready');
    },
  });
}
