// authmesh entry point. `npm start` runs all seven services and the HTTP gateway in one process
// (embedded mode). AUTHMESH_SERVICES selects a subset (e.g. `token` or `gateway`), with the other
// services' addresses from AUTHMESH_<SVC>_ADDR — the shape production scales.
import { resolveCookieSecret, resolveMasterKey, resolveMeshSecret } from './core/config/data-dir-secrets.js';
import { ConfigError, loadConfig, redactDatabaseUrl, SERVICE_NAMES, type Config, type ServiceName } from './core/config/index.js';
import { formatStartupFailure } from './core/config/startup-error.js';
import { createLogger, type Logger } from './core/log/index.js';
import { createReadiness, type Readiness } from './core/health/readiness.js';
import { drainProcess } from './core/health/drain.js';
import { defaultServiceName, startTelemetry, TelemetryConfigError, tracingDecision, type Telemetry } from './core/telemetry/index.js';
import { createMetrics, startMetricsListener, type Metrics, type MetricsListener } from './core/metrics/index.js';
import { listenFailure } from './listen-failure.js';
import { startMesh, type Mesh } from './mesh.js';
import { createPeers, type Peers } from './mesh-deps.js';

const PEER_SERVICE: Record<keyof Omit<Peers, 'close'>, ServiceName> = {
  client: 'client',
  service: 'service',
  user: 'user',
  key: 'key',
  code: 'code',
  token: 'token',
  refreshToken: 'refresh-token',
};

async function startGateway(config: Config, log: Logger, peers: Peers, addresses: Record<ServiceName, string>, readiness: Readiness | undefined, metrics: Metrics) {
  // Loaded only by a process that runs the gateway: fastify, the routes and their pages are ~12 MiB
  // of RSS that a stack-mode service process (token, key, …) never uses (issue 12 target 7).
  const { ALL_ROUTES, createGateway } = await import('../gateway/index.js');
  const app = await createGateway(
    {
      config,
      log,
      peers,
      grpcAddress: (peer) => addresses[PEER_SERVICE[peer as keyof typeof PEER_SERVICE]],
      cookieSecret: resolveCookieSecret(config, log),
      meshSecret: resolveMeshSecret(config, log),
      readiness,
      metrics,
    },
    ALL_ROUTES,
  );
  try {
    const address = await app.listen({ host: config.httpHost, port: config.httpPort });
    return { app, address };
  } catch (err) {
    await app.close().catch(() => undefined);
    throw listenFailure('HTTP', `${config.httpHost}:${config.httpPort}`, 'AUTHMESH_HTTP_PORT', 'AUTHMESH_HTTP_HOST', err);
  }
}

/**
 * `AUTHMESH_ADDR=<host:port> ` for the banner's CLI line when the CLI's default (127.0.0.1:50051)
 * is not where this process serves the user service; '' otherwise (review: the printed command
 * failed on any other port).
 */
function cliAddress(config: Config, grpcPort: number | undefined): string {
  if (grpcPort === undefined || !config.services.includes('user')) return '';
  const host = ['0.0.0.0', '::', ''].includes(config.grpcHost) ? '127.0.0.1' : config.grpcHost;
  const address = `${host.includes(':') ? `[${host}]` : host}:${grpcPort}`;
  return address === '127.0.0.1:50051' ? '' : `AUTHMESH_ADDR=${address} `;
}

/**
 * What a newcomer needs from this process's start: what it runs, on which state, where it listens,
 * the URL clients use (the issuer: Envoy's in a stack, not this gateway's own port) and how to get
 * a first token. Never a secret: only where the admin secret comes from.
 */
function banner(config: Config, grpcPort: number | undefined, httpAddress: string | undefined, metricsUrl: string | undefined): string[] {
  const embedded = config.services.length === SERVICE_NAMES.length && config.gateway;
  const state = [
    config.store === 'embedded' ? `data in ${config.dataDir}` : `store ${redactDatabaseUrl(config.databaseUrl ?? '')}`,
    config.grid === 'hazelcast' ? `grid hazelcast ${config.hazelcastMembers.join(',')}` : 'in-process grid',
  ];
  const runs = [...config.services, ...(config.gateway ? ['gateway'] : [])].join(', ');
  const lines = ['', embedded ? `authmesh is running: embedded mode, ${state.join(', ')}` : `authmesh is running: ${runs} (${state.join(', ')})`];
  if (grpcPort !== undefined) lines.push(`  gRPC on ${config.grpcHost}:${grpcPort} (${config.services.join(', ')})`);
  if (metricsUrl !== undefined) lines.push(`  metrics on ${metricsUrl} (Prometheus; AUTHMESH_METRICS_PORT)`);
  if (httpAddress === undefined) return lines;
  lines.push(`  HTTP on ${httpAddress} (issuer ${config.issuer})`);
  // The default issuer names this process's own port; one set explicitly (Envoy's URL in a
  // stack) is where clients go.
  const clientUrl = config.issuer === `http://127.0.0.1:${config.httpPort}` ? httpAddress : config.issuer;
  if (clientUrl !== httpAddress) lines.push(`  clients use the issuer's URL, ${clientUrl} (this gateway is its upstream)`);
  const secretFrom =
    config.adminClientSecret !== undefined
      ? '<secret> is the value of AUTHMESH_ADMIN_CLIENT_SECRET'
      : config.services.includes('client')
        ? '<secret> was printed once when the admin client was created (set AUTHMESH_ADMIN_CLIENT_SECRET to choose it)'
        : '<secret> was printed once by the process running the client service (set AUTHMESH_ADMIN_CLIENT_SECRET in every process to choose it)';
  lines.push(
    'Get a first token (client_credentials for the bootstrap admin client):',
    `  curl -s -u '${config.adminClientId}:<secret>' -d grant_type=client_credentials -d scope=authmesh.admin ${clientUrl}/oauth2/token`,
    `  ${secretFrom}`,
    // The console's redirect URI is registered under the issuer (services/client/console-bootstrap.ts).
    `Admin console: ${config.issuer.replace(/\/+$/, '')}/console/ (sign in as a user with the role authmesh.admin:`,
    `  ${cliAddress(config, grpcPort)}AUTHMESH_CLIENT_ID=${config.adminClientId} AUTHMESH_CLIENT_SECRET=<secret> npm run -s authmesh -- users create <name> --admin --password-stdin)`,
  );
  return lines;
}
// What main started, so that a failure later in the start closes it before the process exits.
const started: { mesh?: Mesh; peers?: Peers; metrics?: MetricsListener } = {};

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`authmesh: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  // Before any backend or server is made: the decorators and the RPC path check it once.
  let telemetry: Telemetry;
  let tracingTo: string | undefined;
  try {
    const decision = tracingDecision();
    tracingTo = decision.enabled ? decision.endpoint : undefined;
    telemetry = startTelemetry(defaultServiceName(config.services, config.gateway, SERVICE_NAMES.length));
  } catch (err) {
    if (err instanceof TelemetryConfigError) {
      console.error(`authmesh: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({ level: config.logLevel });
  // The data directory and the secrets this process reads from it, before opening a database
  // (seconds): a problem with them fails the start at once.
  if (config.services.includes('key')) resolveMasterKey(config, log);
  resolveMeshSecret(config, log);
  if (config.gateway) resolveCookieSecret(config, log);
  // One registry for everything this process runs (its services and its gateway).
  const metrics = createMetrics();
  let mesh: Mesh | undefined;
  let peers: Peers;
  let addresses = config.addresses;
  if (config.services.length > 0) {
    mesh = await startMesh({ config, log, metrics });
    started.mesh = mesh;
    peers = mesh.deps.peers;
    addresses = mesh.addresses;
  } else {
    peers = createPeers(config.addresses, resolveMeshSecret(config, log));
    started.peers = peers;
  }
  // A gateway-only process holds no store or grid: its readiness is only "not draining".
  const readiness = mesh?.readiness ?? createReadiness({ probes: [] });
  const gateway = config.gateway ? await startGateway(config, log, peers, addresses, readiness, metrics) : undefined;
  let metricsListener: MetricsListener | undefined;
  if (config.metricsPort !== undefined) {
    const { metricsHost, metricsPort } = config;
    metricsListener = await startMetricsListener(metrics, metricsHost, metricsPort).catch(async (err: unknown) => {
      await gateway?.app.close().catch(() => undefined);
      throw listenFailure('metrics', `${metricsHost}:${metricsPort}`, 'AUTHMESH_METRICS_PORT', 'AUTHMESH_METRICS_HOST', err);
    });
    started.metrics = metricsListener;
  }

  const lines = banner(config, mesh?.port, gateway?.address, metricsListener?.url);
  if (tracingTo !== undefined) lines.splice(2, 0, `  traces exported over OTLP/HTTP to ${tracingTo}`);
  process.stdout.write(`${lines.join('\n')}\n\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drainSeconds: config.drainSeconds }, 'shutting down');
    const force = setTimeout(() => process.exit(1), config.drainSeconds * 1_000 + 10_000);
    force.unref();
    // Drain first: readiness (gRPC `readiness`, GET /readyz) and the per-service health names
    // say NOT_SERVING, then the process keeps serving for AUTHMESH_DRAIN_SECONDS while Envoy's
    // health checks take it out of rotation, and only then do the listeners close (running calls
    // finish: services/core/health/drain.ts).
    await drainProcess({
      notServing() {
        readiness.drain();
        mesh?.rpc.setServing(false);
        mesh?.rpc.setReady(false);
      },
      delayMs: config.drainSeconds * 1_000,
      async close() {
        await gateway?.app.close();
        await metricsListener?.close();
        await mesh?.close();
        if (!mesh) peers.close();
      },
    });
    // The last batch of spans, for at most 2 s: an unreachable receiver must not hold the exit.
    await Promise.race([telemetry.shutdown(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // A process never crashes on input: handlers catch their own errors. Anything that still
  // escapes is a bug; log it and keep serving rather than drop every in-flight call.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
}

// Every start-up failure says what failed, where, why (errno in words) and which variable to
// set (see core/config/startup-error.ts); exit status 2 for configuration, 1 otherwise.
main().catch(async (err: unknown) => {
  const { text, exitCode } = formatStartupFailure(err);
  console.error(text);
  const force = setTimeout(() => process.exit(exitCode), 5_000);
  force.unref();
  await started.metrics?.close().catch(() => undefined);
  await started.mesh?.close().catch(() => undefined);
  started.peers?.close();
  process.exit(exitCode);
});
