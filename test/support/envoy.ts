// The mesh behind a real Envoy, for end-to-end tests: the real services and gateway in-process
// (issuer = the ENVOY URL, since clients only ever talk to Envoy), the sample API, optionally more
// token-service instances as separate processes, and Envoy itself running envoy/envoy.yaml
// rendered by scripts/envoy-render.mjs — the same template and renderer as scripts/envoy.sh and
// docker-compose. Envoy is found in .tools/envoy-venv (scripts/envoy.sh install), AUTHMESH_ENVOY_BIN
// or PATH. Without it, suites skip with a reason — or fail when AUTHMESH_REQUIRE_STACK=1 (CI).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { TokenRequest, type TokenServiceService } from '../../gen/ts/authmesh/token/v1/token.js';
import { repoRoot, type RpcClient } from '../../services/core/rpc/index.js';
import { SERVICE_NAMES, type ServiceName } from '../../services/core/config/index.js';
import { resolvePairwiseSalt } from '../../services/core/config/data-dir-secrets.js';
import { silentLogger } from '../../services/core/log/index.js';
import { startSampleApi, type SampleApi } from '../sample-api/server.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { freePort } from './ports.js';
import { startAuthmesh } from './processes.js';
import { stackBackends } from './stack.js';

const exec = promisify(execFile);

/** The sample API's audience: its registry entry and Envoy's jwt_authn both use it. */
export const SAMPLE_API_AUDIENCE = 'https://sample-api.authmesh.test';

export function findEnvoy(): string | undefined {
  const candidates = [process.env.AUTHMESH_ENVOY_BIN, join(repoRoot, '.tools', 'envoy-venv', 'bin', 'envoy'), ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'envoy'))];
  return candidates.find((c): c is string => Boolean(c) && existsSync(c!));
}

/** Why Envoy suites do not run, or undefined when they can. Throws when the stack is required. */
export function envoySkipReason(): string | undefined {
  if (findEnvoy()) return undefined;
  const reason = 'Envoy is not installed: run `scripts/envoy.sh install` (or set AUTHMESH_ENVOY_BIN)';
  if (process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`${reason}; AUTHMESH_REQUIRE_STACK=1 requires it`);
  return reason;
}

/**
 * Why a stack with extra instances cannot run here (Envoy, Postgres or Hazelcast missing), or
 * undefined. Throws when AUTHMESH_REQUIRE_STACK=1 requires them.
 */
export function extraInstancesSkipReason(): string | undefined {
  return envoySkipReason() ?? stackBackends().skip;
}

export interface ExtraInstance {
  service: ServiceName;
  port: number;
  child: ChildProcess;
  output(): string;
  /** SIGKILL: a crash, not a clean shutdown. */
  kill(): Promise<void>;
  /** SIGTERM: the graceful stop (drain, then close); resolves with the exit status. */
  stop(): Promise<number | null>;
}

export interface EnvoyStack {
  /** http://127.0.0.1:<envoy port>: the issuer, and the only URL clients use. */
  url: string;
  /** The audience Envoy's /sample/ routes name (SAMPLE_API_AUDIENCE unless the options chose one). */
  sampleApiAudience: string;
  envoyPort: number;
  adminUrl: string;
  gateway: TestGateway;
  sampleApi: SampleApi;
  extra: ExtraInstance[];
  /** The rendered config Envoy runs. */
  renderedConfig: string;
  accessLogPath: string;
  envoyOutput(): string;
  /** Endpoints Envoy's admin /clusters reports for a cluster, with their health and request counts. */
  hosts(cluster: string): Promise<{ address: string; healthy: boolean; requests: number; flags: string }[]>;
  close(): Promise<void>;
}

/** Thrown from a waitFor check to stop waiting at once (the process being waited for has exited). */
class GaveUp extends Error {}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, detail: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err instanceof GaveUp) throw new Error(`${what}: ${err.message}\n${detail()}`);
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms\n${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts another process serving only `service`, using the mesh's other services. */
async function startInstance(gateway: TestGateway, service: ServiceName, env: Record<string, string>): Promise<ExtraInstance> {
  const dataDir = mkdtempSync(join(tmpdir(), `authmesh-${service}-`));
  const meshAddr = `127.0.0.1:${gateway.mesh.port}`;
  const peers = Object.fromEntries(SERVICE_NAMES.filter((s) => s !== service).map((s) => [`AUTHMESH_${s.replace('-', '_').toUpperCase()}_ADDR`, meshAddr]));
  const p = await startAuthmesh(
    {
      ...env,
      ...peers,
      AUTHMESH_SERVICES: service,
      // Port 0: the process binds first and reports the port, so no other socket can take it between.
      AUTHMESH_GRPC_PORT: '0',
      AUTHMESH_DATA_DIR: dataDir,
      AUTHMESH_ISSUER: gateway.config.issuer,
      AUTHMESH_MESH_SECRET: gateway.config.meshSecret!,
      AUTHMESH_MASTER_KEY: gateway.config.masterKey!.toString('base64'),
      // The mesh's own salt (from its data directory): pairwise subs must not depend on the instance.
      AUTHMESH_PAIRWISE_SALT: resolvePairwiseSalt(gateway.config, silentLogger()),
      AUTHMESH_LOG_LEVEL: 'warn',
    },
    60_000,
  ).catch((err: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  return {
    service,
    port: p.grpcPort,
    child: p.child,
    output: p.output,
    async kill() {
      await p.kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
    async stop() {
      const code = await p.stop();
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

export interface EnvoyStackOptions {
  /**
   * Extra processes per service, each added to that service's Envoy cluster. They share state with
   * the mesh the way a deployment does (a split process refuses per-process state): the whole stack
   * then runs on a fresh Postgres database and the Hazelcast cluster (see stackBackends and
   * extraInstancesSkipReason).
   */
  extraInstances?: Partial<Record<ServiceName, number>>;
  env?: Record<string, string>;
  /**
   * The sample API's audience from the edge URL, e.g. (url) => `${url}/sample` for a resource on
   * the edge's origin, which gets Protected Resource Metadata (RFC 9728). Default SAMPLE_API_AUDIENCE.
   */
  sampleApiAudience?: (url: string) => string;
  /**
   * Envoy's listener over TLS (the URL and issuer become https), with the template's TLS variables:
   * AUTHMESH_ENVOY_TLS_CERT/KEY, and for mutual TLS (RFC 8705) AUTHMESH_MTLS_CA and
   * AUTHMESH_MTLS_EDGE_SECRET (pass the same two in `env` for the gateway and the services).
   */
  tls?: { certPath: string; keyPath: string; mtlsCaPath?: string; edgeSecret?: string };
}

export async function startEnvoyStack(opts: EnvoyStackOptions = {}): Promise<EnvoyStack> {
  const envoy = findEnvoy();
  if (!envoy) throw new Error(envoySkipReason() ?? 'Envoy not found');
  const descriptor = join(repoRoot, 'build', 'descriptor.binpb');
  if (!existsSync(descriptor)) throw new Error(`${descriptor} is missing: run npm run gen`);

  const envoyPort = await freePort();
  const adminPort = await freePort();
  const url = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${envoyPort}`;
  const sampleApiAudience = opts.sampleApiAudience?.(url) ?? SAMPLE_API_AUDIENCE;
  const work = mkdtempSync(join(tmpdir(), 'authmesh-envoy-'));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(work, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    let shared: Record<string, string> = {};
    if (Object.values(opts.extraInstances ?? {}).some((n) => n > 0)) {
      const backends = stackBackends();
      if (backends.skip) throw new Error(`extra instances need the shared backends: ${backends.skip}`);
      cleanups.push(() => backends.cleanup());
      shared = await backends.env();
    }
    const gateway = await startTestGateway({ AUTHMESH_ISSUER: url, AUTHMESH_TRUSTED_PROXIES: '127.0.0.1', ...shared, ...opts.env });
    cleanups.push(() => gateway.close());
    const sampleApi = await startSampleApi();
    cleanups.push(() => sampleApi.close());
    const extra: ExtraInstance[] = [];
    for (const [service, count] of Object.entries(opts.extraInstances ?? {}) as [ServiceName, number][]) {
      for (let i = 0; i < count; i++) {
        const inst = await startInstance(gateway, service, { ...shared, ...opts.env });
        extra.push(inst);
        cleanups.push(() => inst.kill());
      }
    }

    const meshAddr = `127.0.0.1:${gateway.mesh.port}`;
    const accessLogPath = join(work, 'access.log');
    const renderEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      AUTHMESH_ISSUER: url,
      AUTHMESH_ENVOY_PORT: String(envoyPort),
      AUTHMESH_ENVOY_ADMIN_PORT: String(adminPort),
      AUTHMESH_ENVOY_LISTEN_HOST: '127.0.0.1',
      AUTHMESH_ENVOY_ACCESS_LOG: accessLogPath,
      AUTHMESH_ENVOY_DESCRIPTOR: descriptor,
      AUTHMESH_SAMPLE_API_AUDIENCE: sampleApiAudience,
      // The production 250 ms assumes a token service with CPU to spare; a test run shares two cores
      // between Envoy, the mesh, PGlite and other suites running in parallel.
      AUTHMESH_ENVOY_EXT_AUTHZ_TIMEOUT: process.env.AUTHMESH_ENVOY_EXT_AUTHZ_TIMEOUT ?? '1s',
      // Each try's share of it (the retry's per-try timeout, envoy.yaml): half, as in production.
      AUTHMESH_GATEWAY_UPSTREAMS: new URL(gateway.baseUrl).host,
      AUTHMESH_SAMPLE_API_UPSTREAMS: `127.0.0.1:${sampleApi.port}`,
      ...(opts.tls ? { AUTHMESH_ENVOY_TLS_CERT: opts.tls.certPath, AUTHMESH_ENVOY_TLS_KEY: opts.tls.keyPath } : {}),
      ...(opts.tls?.mtlsCaPath ? { AUTHMESH_MTLS_CA: opts.tls.mtlsCaPath } : {}),
      ...(opts.tls?.edgeSecret ? { AUTHMESH_MTLS_EDGE_SECRET: opts.tls.edgeSecret } : {}),
      // OpenTelemetry (tracing-envoy.test.ts): Envoy traces to the same OTLP endpoint as the mesh.
      ...Object.fromEntries(Object.entries(opts.env ?? {}).filter(([k]) => k.startsWith('OTEL_'))),
    };
    for (const s of SERVICE_NAMES) {
      const own = extra.filter((e) => e.service === s).map((e) => `127.0.0.1:${e.port}`);
      renderEnv[`AUTHMESH_${s.replace('-', '_').toUpperCase()}_UPSTREAMS`] = [meshAddr, ...own].join(',');
    }
    const configPath = join(work, 'envoy.yaml');
    await exec(process.execPath, [join(repoRoot, 'scripts', 'envoy-render.mjs'), join(repoRoot, 'envoy', 'envoy.yaml'), configPath], { env: renderEnv });
    const renderedConfig = readFileSync(configPath, 'utf8');

    // --disable-hot-restart: test files run in parallel, and hot restart's shared memory would
    // make two Envoys on one machine collide.
    const child = spawn(envoy, ['-c', configPath, '--disable-hot-restart', '--log-level', 'warn', '--concurrency', '1', '--file-flush-interval-msec', '250'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    let exited = false;
    const exitedP = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
    cleanups.push(async () => {
      if (!exited) child.kill('SIGTERM');
      await Promise.race([exitedP, new Promise((r) => setTimeout(r, 3_000))]);
      if (!exited) child.kill('SIGKILL');
    });
    const adminUrl = `http://127.0.0.1:${adminPort}`;

    const hosts: EnvoyStack['hosts'] = async (cluster) => {
      const text = await (await fetch(`${adminUrl}/clusters`)).text();
      const byHost = new Map<string, { address: string; healthy: boolean; requests: number; flags: string }>();
      for (const line of text.split('\n')) {
        const [name, address, key, value] = line.split('::');
        if (name !== cluster || !address || !key || !/^[\w.-]+:\d+$/.test(address)) continue;
        const h = byHost.get(address) ?? { address, healthy: false, requests: 0, flags: '' };
        if (key === 'health_flags') {
          h.flags = value ?? '';
          h.healthy = value === 'healthy';
        }
        if (key === 'rq_total') h.requests = Number(value);
        byHost.set(address, h);
      }
      return [...byHost.values()];
    };

    await waitFor('Envoy', async () => {
      if (exited) throw new GaveUp('envoy exited');
      const ready = await fetch(`${adminUrl}/ready`);
      return ready.status === 200;
    }, 40_000, () => out);
    // Every endpoint of every cluster passes its first active health check before tests send traffic.
    const clusters = ['gateway', 'sample_api', ...SERVICE_NAMES.map((s) => `authmesh_${s.replace('-', '_')}`)];
    let lastClusters = '';
    await waitFor('healthy upstreams', async () => {
      lastClusters = '';
      for (const c of clusters) {
        const hs = await hosts(c);
        lastClusters += `${c}: ${JSON.stringify(hs)}\n`;
        if (hs.length === 0 || hs.some((h) => !h.healthy)) return false;
      }
      return true;
    }, 40_000, () => `${out}\n${lastClusters}`);

    return {
      url,
      sampleApiAudience,
      envoyPort,
      adminUrl,
      gateway,
      sampleApi,
      extra,
      renderedConfig,
      accessLogPath,
      envoyOutput: () => out,
      hosts,
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

export interface SampleApiClient {
  clientId: string;
  clientSecret: string;
}

/**
 * The sample client's client_credentials token (scope sample.read) over native gRPC, through
 * whatever `tokens` dials (Envoy's authmesh_token cluster in the failover and drain suites).
 * @param deadlineMs the call's deadline, ms (default: the client's)
 */
export async function sampleTokenOverGrpc(tokens: RpcClient<typeof TokenServiceService>, sample: SampleApiClient, deadlineMs?: number): Promise<string> {
  const res = await tokens.token(
    TokenRequest.fromPartial({
      client: { credential: { $case: 'clientSecret', value: { clientId: sample.clientId, clientSecret: sample.clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } },
      grant: { $case: 'clientCredentials', value: { scope: 'sample.read', resource: [] } },
    }),
    deadlineMs === undefined ? {} : { deadline: new Date(Date.now() + deadlineMs) },
  );
  return res.accessToken;
}

/**
 * GET /sample/hello through Envoy with `token` (jwt_authn, then ext_authz on the token cluster):
 * its HTTP status. Bounded well above Envoy's own timeouts (15 s): a call that outlives it is a hang.
 */
export async function callSampleHello(stack: EnvoyStack, token: string): Promise<number> {
  return (await fetch(`${stack.url}/sample/hello`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(15_000) })).status;
}

/**
 * Registers the sample API in the service registry (its audience, endpoints and their scopes) and
 * a confidential client allowed to call it, both over the REST admin surface through Envoy — the
 * way an operator would.
 */
export async function registerSampleApi(stack: EnvoyStack): Promise<SampleApiClient> {
  const audience = stack.sampleApiAudience;
  const admin = await stack.gateway.bearer();
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${stack.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const existing = await fetch(`${stack.url}/v1/services:lookup?audience=${encodeURIComponent(audience)}`, { headers: { authorization: `Bearer ${admin}` } });
  if (existing.status !== 200) {
    await post('/v1/services', {
      display_name: 'sample API',
      audience,
      endpoints: [
        { method: 'GET', path: '/sample/hello', scope: 'sample.read' },
        { method: 'GET', path: '/sample/whoami' },
        { method: 'POST', path: '/sample/orders', scope: 'sample.write' },
        { method: '*', path: '/sample/admin/**', scope: 'sample.read' },
        // Envoy requires DPoP on /sample/dpop/ (context_extensions dpop: required).
        { method: 'GET', path: '/sample/dpop/**', scope: 'sample.read' },
      ],
    });
  }
  const created = (await post('/v1/clients', {
    client_name: 'sample API caller',
    client_type: 'CLIENT_TYPE_CONFIDENTIAL',
    token_endpoint_auth_method: 'TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC',
    grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'],
    scopes: ['sample.read', 'sample.write', 'sample.admin'],
    audience: [audience],
  })) as { client: { client_id: string }; client_secret: string };
  return { clientId: created.client.client_id, clientSecret: created.client_secret };
}

