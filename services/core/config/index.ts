// Configuration from AUTHMESH_* environment variables, checked once at start. Every bad value is
// reported with the variable's name, what was wrong and what is expected; all problems are
// reported together so one restart fixes them all.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export const SERVICE_NAMES = ['client', 'service', 'user', 'key', 'code', 'token', 'refresh-token'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export type SigningAlg = 'ES256' | 'RS256' | 'EdDSA';

export const STORE_KINDS = ['embedded', 'postgres', 'mysql'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export const PEER_TRANSPORTS = ['in-process', 'grpc'] as const;
export type PeerTransport = (typeof PEER_TRANSPORTS)[number];

export interface Config {
  dataDir: string;
  /** Where durable state lives: PGlite in dataDir, or a PostgreSQL or MariaDB server. */
  store: StoreKind;
  /**
   * The server's URL for store postgres or mysql. Carries a password: never log it (see
   * redactDatabaseUrl).
   */
  databaseUrl: string | undefined;
  grpcHost: string;
  grpcPort: number;
  httpHost: string;
  httpPort: number;
  issuer: string;
  /** 32-byte key that encrypts private signing keys at rest; undefined = generate into dataDir. */
  masterKey: Buffer | undefined;
  /** Shared credential of the mesh's own services; undefined = generate into dataDir. */
  meshSecret: string | undefined;
  signingAlg: SigningAlg;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Refresh-token reuse grace window for clients without their own, seconds; 0 = strict reuse detection. */
  refreshReuseGraceSeconds: number;
  codeTtlSeconds: number;
  /** RFC 9126 §2.2: how long a pushed authorization request's request_uri stays usable, seconds. */
  parTtlSeconds: number;
  /** RFC 9126 §6: every client must push its authorization requests (require_pushed_authorization_requests). */
  parRequired: boolean;
  /** RFC 9449 §11.1: how long after its iat a DPoP proof is accepted, seconds. */
  dpopProofMaxAgeSeconds: number;
  /** How far in the future a DPoP proof's iat may be (clock skew), seconds. */
  dpopClockSkewSeconds: number;
  /** RFC 9449 §8: whether the token endpoint requires a server nonce in DPoP proofs. */
  dpopNonceRequired: boolean;
  /** How often the shared DPoP nonce rotates, seconds; a nonce is accepted for one to two periods. */
  dpopNoncePeriodSeconds: number;
  /**
   * RFC 8705 §2.1: the CA certificates (PEM) a tls_client_auth client certificate must chain to,
   * read from the file AUTHMESH_MTLS_CA names; undefined: tls_client_auth cannot succeed.
   */
  mtlsCaPem: string | undefined;
  /**
   * The secret Envoy adds (x-authmesh-edge-proof) to requests it forwards with
   * x-forwarded-client-cert; undefined: the gateway believes no forwarded certificate.
   */
  mtlsEdgeSecret: string | undefined;
  /** RFC 8705 §5: the base URL of the mTLS endpoint aliases in metadata; undefined: none advertised. */
  mtlsBaseUrl: string | undefined;
  passwordGrantEnabled: boolean;
  /** Back-channel logout may call loopback receivers (http on a loopback IP literal included): development only. */
  backchannelLogoutAllowHttpLoopback: boolean;
  /** Failed logins for one account from one source address before that source is refused. */
  loginMaxFailures: number;
  /** Failed logins in a row for one account, from any sources, before new password logins are refused. */
  loginAccountMaxFailures: number;
  loginLockSeconds: number;
  /** Failed client authentications of one client_id from one source per minute before slow_down (0 = off). */
  clientAuthMaxFailures: number;
  /** Failed client authentications from one source, any client_id, per minute before slow_down (0 = off). */
  clientAuthMaxFailuresPerSource: number;
  /** RFC 8628 §3.2: lifetime of a device code and its user code, seconds. */
  deviceCodeTtlSeconds: number;
  /** RFC 8628 §3.2: the minimum interval between polls announced to devices, seconds. */
  devicePollIntervalSeconds: number;
  /** RFC 8628 §5.1: wrong user codes one browser may enter per 15 minutes before it is refused. */
  deviceUserCodeMaxFailures: number;
  /** RFC 8628 §5.1: wrong user codes from one source address per 15 minutes before it is refused. */
  deviceUserCodeMaxFailuresPerSource: number;
  /**
   * Which high-volume success events (SUCCESS_AUDIT_EVENTS: token.issued) reach the audit trail:
   * all, sampled (one in AUDIT_SUCCESS_SAMPLE_RATE) or off. Security events are always written.
   */
  auditSuccess: AuditSuccess;
  /** Verified access tokens remembered for introspection and ext_authz (LRU entries; 0 = off). */
  verifiedTokenCacheSize: number;
  adminClientId: string;
  adminClientSecret: string | undefined;
  logLevel: string;
  /** Services this process runs. */
  services: ServiceName[];
  /** Whether this process serves the HTTP gateway (AUTHMESH_SERVICES contains "gateway"). */
  gateway: boolean;
  /** Origins allowed by CORS on the token, JWKS, metadata and registration endpoints. */
  corsOrigins: string[];
  /** Signs the gateway's session and CSRF cookies; undefined = generate into dataDir. */
  cookieSecret: string | undefined;
  /** Salt of pairwise subject identifiers (OIDC Core §8.1); undefined = generate into dataDir. */
  pairwiseSalt: string | undefined;
  /** Largest accepted HTTP request body, bytes. */
  httpBodyLimit: number;
  /**
   * Addresses (IPs or CIDR ranges) of the proxies in front of the gateway (Envoy) whose
   * X-Forwarded-For the gateway believes; empty = believe none, use the connection's address.
   */
  trustedProxies: string[];
  /**
   * How this process's services and gateway reach the services it runs itself: in-process
   * (handlers called directly, same authentication, deadlines and errors) or grpc (over the
   * socket). Services run elsewhere are always reached over gRPC at their address.
   */
  peerTransport: PeerTransport;
  /**
   * gRPC address of each service: `host:port`, or its instances as a comma-separated list of
   * `host:port` (normalised: no blanks), which peers balance over; those this process runs
   * default to its own address.
   */
  addresses: Record<ServiceName, string>;
  /**
   * Seconds a SIGTERM'd process keeps serving after its health says NOT_SERVING, so that Envoy's
   * health checks and peers stop sending it new calls before its listeners close. Default 5 for a
   * process running part of the mesh (instances behind a balancer), 0 for the all-in-one process.
   */
  drainSeconds: number;
  /** Which grid holds the hot state: in-process (one process only) or a Hazelcast cluster. */
  grid: 'memory' | 'hazelcast';
  /** host:port of Hazelcast members to connect to (any one reachable suffices). */
  hazelcastMembers: string[];
  hazelcastCluster: string;
  /** Suffix of every grid map name, so deployments sharing a cluster stay apart ('' = none). */
  gridNamespace: string;
  /** Address of the Prometheus metrics listener (GET /metrics); loopback by default. */
  metricsHost: string;
  /** Its port (0 = any free port); undefined = no metrics listener (AUTHMESH_METRICS_PORT=off). */
  metricsPort: number | undefined;
  /**
   * Base URL of the Prometheus that scrapes this deployment, which the console's overview reads
   * its rates from (AuditService.GetActivityRates; services/activity-rates.ts): http or https, no
   * credentials, query or fragment, no trailing slash; undefined = no rates shown.
   */
  consolePrometheusUrl: string | undefined;
}

export const AUDIT_SUCCESS_MODES = ['all', 'sampled', 'off'] as const;
export type AuditSuccess = (typeof AUDIT_SUCCESS_MODES)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const str = (name: string, fallback: string) => {
    const v = env[name];
    return v === undefined || v === '' ? fallback : v;
  };
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(raw);
  };
  const bool = (name: string, fallback: boolean) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (['true', '1', 'yes'].includes(raw.toLowerCase())) return true;
    if (['false', '0', 'no'].includes(raw.toLowerCase())) return false;
    problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`);
    return fallback;
  };

  const grpcHost = str('AUTHMESH_GRPC_HOST', '127.0.0.1');
  let grpcPort = int('AUTHMESH_GRPC_PORT', 50051, 0, 65535);
  const httpHost = str('AUTHMESH_HTTP_HOST', '127.0.0.1');
  const httpPort = int('AUTHMESH_HTTP_PORT', 8080, 0, 65535);

  const issuer = str('AUTHMESH_ISSUER', `http://127.0.0.1:${httpPort}`);
  try {
    const u = new URL(issuer);
    // RFC 8414 §2: the issuer is an https URL with no query or fragment (http allowed for loopback dev).
    if (u.search || u.hash) problems.push(`AUTHMESH_ISSUER=${JSON.stringify(issuer)}: must have no query or fragment`);
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) {
      problems.push(`AUTHMESH_ISSUER=${JSON.stringify(issuer)}: must be https (http only on loopback)`);
    }
  } catch {
    problems.push(`AUTHMESH_ISSUER=${JSON.stringify(issuer)}: not an absolute URL`);
  }

  let masterKey: Buffer | undefined;
  const mk = env.AUTHMESH_MASTER_KEY;
  if (mk) {
    const buf = Buffer.from(mk, 'base64');
    if (buf.length !== 32) problems.push('AUTHMESH_MASTER_KEY: expected 32 bytes, base64 encoded (e.g. `openssl rand -base64 32`)');
    else masterKey = buf;
  }
  const meshSecret = env.AUTHMESH_MESH_SECRET || undefined;
  if (meshSecret !== undefined && meshSecret.length < 32) problems.push('AUTHMESH_MESH_SECRET: expected at least 32 characters of random data');

  const alg = str('AUTHMESH_SIGNING_ALG', 'ES256');
  if (!['ES256', 'RS256', 'EdDSA'].includes(alg)) problems.push(`AUTHMESH_SIGNING_ALG=${JSON.stringify(alg)}: expected ES256, RS256 or EdDSA`);

  const adminClientSecret = env.AUTHMESH_ADMIN_CLIENT_SECRET || undefined;
  if (adminClientSecret !== undefined && adminClientSecret.length < 32) {
    problems.push('AUTHMESH_ADMIN_CLIENT_SECRET: expected at least 32 characters (or leave unset to have one generated)');
  }

  const servicesRaw = str('AUTHMESH_SERVICES', [...SERVICE_NAMES, 'gateway'].join(','));
  const services: ServiceName[] = [];
  let gateway = false;
  for (const s of servicesRaw.split(',').map((x) => x.trim()).filter(Boolean)) {
    if ((SERVICE_NAMES as readonly string[]).includes(s)) services.push(s as ServiceName);
    else if (s === 'gateway') gateway = true;
    else problems.push(`AUTHMESH_SERVICES: unknown service ${JSON.stringify(s)} (expected some of ${SERVICE_NAMES.join(', ')}, gateway)`);
  }
  const corsOrigins = str('AUTHMESH_CORS_ORIGINS', '').split(',').map((o) => o.trim()).filter(Boolean);
  for (const o of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(o)) problems.push(`AUTHMESH_CORS_ORIGINS: ${JSON.stringify(o)} is not an origin like https://app.example.com`);
  }
  const trustedProxies = str('AUTHMESH_TRUSTED_PROXIES', '').split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of trustedProxies) {
    if (!isIpOrCidr(p)) problems.push(`AUTHMESH_TRUSTED_PROXIES: ${JSON.stringify(p)} is not an IP address or CIDR range like 10.0.0.0/8`);
  }
  const cookieSecret = env.AUTHMESH_COOKIE_SECRET || undefined;
  if (cookieSecret !== undefined && cookieSecret.length < 32) problems.push('AUTHMESH_COOKIE_SECRET: expected at least 32 characters of random data');
  const pairwiseSalt = env.AUTHMESH_PAIRWISE_SALT || undefined;
  if (pairwiseSalt !== undefined && pairwiseSalt.length < 32) problems.push('AUTHMESH_PAIRWISE_SALT: expected at least 32 characters of random data');
  grpcPort = ownListenPort(env, services, grpcPort, problems);
  const own = `${grpcHost.includes(':') ? `[${grpcHost}]` : grpcHost}:${grpcPort}`;
  const addresses = {} as Record<ServiceName, string>;
  for (const s of SERVICE_NAMES) {
    const name = addrVariable(s);
    const v = env[name];
    const list = v ? addressListProblems(name, v, problems) : [];
    addresses[s] = list.length > 0 ? list.join(',') : own;
    if (!services.includes(s) && !v) problems.push(`${name}: required because this process does not run the ${s} service`);
  }

  const peerTransport = str('AUTHMESH_PEER_TRANSPORT', 'in-process');
  if (!(PEER_TRANSPORTS as readonly string[]).includes(peerTransport)) {
    problems.push(`AUTHMESH_PEER_TRANSPORT=${JSON.stringify(peerTransport)}: expected in-process (co-located services call each other directly) or grpc (every call crosses the gRPC socket)`);
  }

  const store = str('AUTHMESH_STORE', 'embedded');
  if (!(STORE_KINDS as readonly string[]).includes(store)) {
    problems.push(`AUTHMESH_STORE=${JSON.stringify(store)}: expected ${STORE_KINDS.join(', ')}`);
  }
  const databaseUrl = env.AUTHMESH_DATABASE_URL || undefined;
  const urlProblem = checkDatabaseUrl(store, databaseUrl);
  if (urlProblem !== undefined) problems.push(urlProblem);

  const auditSuccess = str('AUTHMESH_AUDIT_SUCCESS', 'off');
  if (!(AUDIT_SUCCESS_MODES as readonly string[]).includes(auditSuccess)) {
    problems.push(`AUTHMESH_AUDIT_SUCCESS=${JSON.stringify(auditSuccess)}: expected ${AUDIT_SUCCESS_MODES.join(', ')}`);
  }

  const grid = str('AUTHMESH_GRID', 'memory');
  if (grid !== 'memory' && grid !== 'hazelcast') problems.push(`AUTHMESH_GRID=${JSON.stringify(grid)}: expected memory or hazelcast`);
  const hazelcastMembers = str('AUTHMESH_HAZELCAST_MEMBERS', '127.0.0.1:5701,127.0.0.1:5702').split(',').map((m) => m.trim()).filter(Boolean);
  if (hazelcastMembers.length === 0) problems.push('AUTHMESH_HAZELCAST_MEMBERS: expected a comma-separated list of host:port');
  for (const m of hazelcastMembers) {
    const port = /:(\d{1,5})$/.exec(m)?.[1];
    if (!/^[\w.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(m) || port === undefined || Number(port) < 1 || Number(port) > 65535) {
      problems.push(`AUTHMESH_HAZELCAST_MEMBERS: ${JSON.stringify(m)} is not host:port (e.g. 127.0.0.1:5701)`);
    }
  }
  const gridNamespace = str('AUTHMESH_GRID_NAMESPACE', '');
  if (!/^[A-Za-z0-9_-]{0,64}$/.test(gridNamespace)) problems.push(`AUTHMESH_GRID_NAMESPACE=${JSON.stringify(gridNamespace)}: expected up to 64 letters, digits, '_' or '-'`);
  const hazelcastCluster = str('AUTHMESH_HAZELCAST_CLUSTER', 'authmesh');
  if (!/^[\w.-]{1,64}$/.test(hazelcastCluster)) {
    problems.push(`AUTHMESH_HAZELCAST_CLUSTER=${JSON.stringify(hazelcastCluster)}: expected 1-64 letters, digits, '.', '_' or '-'`);
  }

  // RFC 8705 §2.1: the trust anchors of tls_client_auth, read once at start.
  let mtlsCaPem: string | undefined;
  const mtlsCa = str('AUTHMESH_MTLS_CA', '');
  if (mtlsCa !== '') {
    try {
      mtlsCaPem = readFileSync(mtlsCa, 'utf8');
      if (!mtlsCaPem.includes('-----BEGIN CERTIFICATE-----')) problems.push(`AUTHMESH_MTLS_CA=${JSON.stringify(mtlsCa)}: the file holds no PEM certificate`);
    } catch {
      problems.push(`AUTHMESH_MTLS_CA=${JSON.stringify(mtlsCa)}: cannot read the file (expected a PEM bundle of CA certificates)`);
    }
  }
  const mtlsEdgeSecret = env.AUTHMESH_MTLS_EDGE_SECRET || undefined;
  if (mtlsEdgeSecret !== undefined && (mtlsEdgeSecret.length < 32 || !/^[\x21-\x7e]+$/.test(mtlsEdgeSecret))) {
    problems.push('AUTHMESH_MTLS_EDGE_SECRET: expected at least 32 printable characters of random data (e.g. `openssl rand -hex 32`)');
  }
  const mtlsBaseUrl = env.AUTHMESH_MTLS_BASE_URL ? env.AUTHMESH_MTLS_BASE_URL.replace(/\/+$/, '') : undefined;
  if (mtlsBaseUrl !== undefined) {
    let ok = false;
    try {
      const u = new URL(mtlsBaseUrl);
      ok = !u.search && !u.hash && (u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)));
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`AUTHMESH_MTLS_BASE_URL=${JSON.stringify(mtlsBaseUrl)}: expected an absolute https URL without query or fragment (the mTLS listener, e.g. https://mtls.auth.example.com)`);
  }

  const config: Config = {
    dataDir: str('AUTHMESH_DATA_DIR', './data'),
    store: store as StoreKind,
    databaseUrl,
    grpcHost,
    grpcPort,
    httpHost,
    httpPort,
    issuer: issuer.replace(/\/+$/, ''),
    masterKey,
    meshSecret,
    signingAlg: alg as SigningAlg,
    accessTokenTtlSeconds: int('AUTHMESH_ACCESS_TOKEN_TTL', 600, 30, 86_400),
    refreshTokenTtlSeconds: int('AUTHMESH_REFRESH_TOKEN_TTL', 30 * 86_400, 60, 365 * 86_400),
    refreshReuseGraceSeconds: int('AUTHMESH_REFRESH_REUSE_GRACE', 0, 0, 300),
    codeTtlSeconds: int('AUTHMESH_CODE_TTL', 60, 10, 600),
    parTtlSeconds: int('AUTHMESH_PAR_TTL_SECONDS', 60, 5, 600),
    parRequired: bool('AUTHMESH_PAR_REQUIRED', false),
    dpopProofMaxAgeSeconds: int('AUTHMESH_DPOP_PROOF_MAX_AGE', 60, 5, 600),
    dpopClockSkewSeconds: int('AUTHMESH_DPOP_CLOCK_SKEW', 5, 0, 60),
    dpopNonceRequired: bool('AUTHMESH_DPOP_NONCE', false),
    dpopNoncePeriodSeconds: int('AUTHMESH_DPOP_NONCE_PERIOD', 300, 10, 86_400),
    mtlsCaPem,
    mtlsEdgeSecret,
    mtlsBaseUrl,
    passwordGrantEnabled: bool('AUTHMESH_PASSWORD_GRANT', false),
    backchannelLogoutAllowHttpLoopback: bool('AUTHMESH_BACKCHANNEL_LOGOUT_ALLOW_HTTP_LOOPBACK', false),
    loginMaxFailures: int('AUTHMESH_LOGIN_MAX_FAILURES', 5, 1, 1000),
    loginAccountMaxFailures: int('AUTHMESH_LOGIN_ACCOUNT_MAX_FAILURES', 50, 1, 100_000),
    loginLockSeconds: int('AUTHMESH_LOGIN_LOCK_SECONDS', 900, 1, 86_400 * 30),
    clientAuthMaxFailures: int('AUTHMESH_CLIENT_AUTH_MAX_FAILURES', 20, 0, 1_000_000),
    clientAuthMaxFailuresPerSource: int('AUTHMESH_CLIENT_AUTH_MAX_FAILURES_PER_SOURCE', 200, 0, 1_000_000),
    deviceCodeTtlSeconds: int('AUTHMESH_DEVICE_CODE_TTL_SECONDS', 600, 60, 1800),
    devicePollIntervalSeconds: int('AUTHMESH_DEVICE_POLL_INTERVAL_SECONDS', 5, 1, 60),
    deviceUserCodeMaxFailures: int('AUTHMESH_DEVICE_USER_CODE_MAX_FAILURES', 5, 1, 1000),
    deviceUserCodeMaxFailuresPerSource: int('AUTHMESH_DEVICE_USER_CODE_MAX_FAILURES_PER_SOURCE', 50, 1, 100_000),
    auditSuccess: (AUDIT_SUCCESS_MODES as readonly string[]).includes(auditSuccess) ? (auditSuccess as AuditSuccess) : 'off',
    verifiedTokenCacheSize: int('AUTHMESH_VERIFIED_TOKEN_CACHE', 10_000, 0, 1_000_000),
    adminClientId: str('AUTHMESH_ADMIN_CLIENT_ID', 'authmesh-admin'),
    adminClientSecret,
    logLevel: str('AUTHMESH_LOG_LEVEL', 'info'),
    services,
    gateway,
    corsOrigins,
    cookieSecret,
    pairwiseSalt,
    httpBodyLimit: int('AUTHMESH_HTTP_BODY_LIMIT', 65_536, 1_024, 10 * 1024 * 1024),
    trustedProxies,
    peerTransport: peerTransport === 'grpc' ? 'grpc' : 'in-process',
    addresses,
    drainSeconds: int('AUTHMESH_DRAIN_SECONDS', services.length === SERVICE_NAMES.length && gateway ? 0 : 5, 0, 120),
    grid: grid === 'hazelcast' ? 'hazelcast' : 'memory',
    hazelcastMembers,
    hazelcastCluster,
    gridNamespace,
    metricsHost: str('AUTHMESH_METRICS_HOST', '127.0.0.1'),
    metricsPort: metricsPort(env.AUTHMESH_METRICS_PORT, problems),
    consolePrometheusUrl: prometheusUrl(env.AUTHMESH_CONSOLE_PROMETHEUS_URL, problems),
  };
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(config.logLevel)) {
    problems.push(`AUTHMESH_LOG_LEVEL=${JSON.stringify(config.logLevel)}: expected fatal, error, warn, info, debug, trace or silent`);
  }
  problems.push(...splitDeploymentProblems(env, config));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * AUTHMESH_CONSOLE_PROMETHEUS_URL: an absolute http(s) URL (a path prefix allowed, for a
 * Prometheus under --web.route-prefix) without credentials (they would be logged with the
 * configuration and fetch refuses them), query or fragment; trailing slashes dropped. Unset or
 * empty: undefined.
 */
function prometheusUrl(raw: string | undefined, problems: string[]): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let u: URL | undefined;
  try {
    u = new URL(raw);
  } catch {
    u = undefined;
  }
  if (u === undefined || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '' || raw.includes('?') || raw.includes('#')) {
    problems.push('AUTHMESH_CONSOLE_PROMETHEUS_URL: expected an absolute http or https URL without credentials, query or fragment (the Prometheus scraping this deployment, e.g. http://127.0.0.1:9090)');
    return undefined;
  }
  return u.href.replace(/\/+$/, '');
}

/** AUTHMESH_METRICS_PORT: a port (default 9464, 0 = any free one) or `off` (no metrics listener). */
function metricsPort(raw: string | undefined, problems: string[]): number | undefined {
  if (raw === undefined || raw === '') return 9464;
  if (raw === 'off') return undefined;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535) {
    problems.push(`AUTHMESH_METRICS_PORT=${JSON.stringify(raw)}: expected a port from 0 to 65535 (0 = any free port) or off (no metrics listener)`);
    return 9464;
  }
  return Number(raw);
}

const ADDR_PATTERN = /^[\w.-]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/;

/** AUTHMESH_<SVC>_ADDR for a service, e.g. AUTHMESH_REFRESH_TOKEN_ADDR. */
export function addrVariable(service: ServiceName): string {
  return `AUTHMESH_${service.replace('-', '_').toUpperCase()}_ADDR`;
}

/**
 * The entries of one AUTHMESH_<SVC>_ADDR: `host:port` or a comma-separated list of them (the
 * instances of that service, each an IP literal or a name; blanks around commas ignored).
 *
 * @returns the entries, or [] after pushing one problem naming every bad or repeated entry.
 */
export function addressListProblems(name: string, value: string, problems: string[]): string[] {
  const entries = value.split(',').map((e) => e.trim());
  const bad = entries.filter((e) => !ADDR_PATTERN.test(e) || !validPort(e));
  if (bad.length > 0) {
    const what = bad.map((e) => (e === '' ? 'an empty entry' : JSON.stringify(e))).join(', ');
    problems.push(`${name}=${JSON.stringify(value)}: expected host:port or a comma-separated list of host:port (the service's instances); ${what} is not host:port with a port from 1 to 65535`);
    return [];
  }
  const repeated = entries.filter((e, i) => entries.indexOf(e) !== i);
  if (repeated.length > 0) {
    problems.push(`${name}=${JSON.stringify(value)}: ${[...new Set(repeated)].join(', ')} is listed twice; list each instance once`);
    return [];
  }
  return entries;
}

function portOf(entry: string): number {
  return Number(/:(\d+)$/.exec(entry)![1]);
}

function validPort(entry: string): boolean {
  const port = portOf(entry);
  return port >= 1 && port <= 65535;
}

/**
 * The gRPC port this process listens on. A process's own AUTHMESH_<SVC>_ADDR (the address the
 * others reach it at) names its port when AUTHMESH_GRPC_PORT is unset; when both are set they must
 * agree, and all own addresses must name one port (a process has one gRPC server). Silently
 * listening elsewhere than the address every peer dials is the failure this prevents. When the
 * own address is a list of instances, AUTHMESH_GRPC_PORT says which one this process is, and
 * every own list must contain an instance on that port.
 */
function ownListenPort(env: NodeJS.ProcessEnv, services: ServiceName[], grpcPort: number, problems: string[]): number {
  const lists = services
    .map((s) => ({ name: addrVariable(s), value: env[addrVariable(s)] ?? '' }))
    .filter((a) => a.value !== '')
    .map((a) => ({ ...a, entries: addressListProblems(a.name, a.value, []) }))
    .filter((a) => a.entries.length > 0);
  const explicitPort = env.AUTHMESH_GRPC_PORT;
  if (lists.some((a) => a.entries.length > 1)) {
    const listed = lists.map((a) => `${a.name}=${a.value}`).join(', ');
    if (explicitPort === undefined || explicitPort === '') {
      problems.push(`${listed}: a list of instances; set AUTHMESH_GRPC_PORT to the port of this process's own instance in it`);
      return grpcPort;
    }
    for (const a of lists) {
      if (!a.entries.some((e) => portOf(e) === grpcPort)) {
        problems.push(`AUTHMESH_GRPC_PORT=${explicitPort} but ${a.name}=${a.value} (this process's own service) names no instance on port ${grpcPort}; add this instance to the list, or fix the port`);
      }
    }
    return grpcPort;
  }
  const own = lists.map((a) => ({ name: a.name, value: a.entries[0]!, port: portOf(a.entries[0]!) }));
  if (own.length === 0) return grpcPort;
  const ports = [...new Set(own.map((a) => a.port))];
  const listed = own.map((a) => `${a.name}=${a.value}`).join(', ');
  if (ports.length > 1) {
    problems.push(`${listed}: these services run in this one process, which listens on one gRPC port; give them the same port (or unset the addresses of the services this process runs)`);
    return grpcPort;
  }
  const port = ports[0]!;
  if (explicitPort === undefined || explicitPort === '') return port;
  if (Number(explicitPort) !== port) {
    problems.push(`AUTHMESH_GRPC_PORT=${explicitPort} but ${listed} (this process's own service) says peers reach it on port ${port}; make them agree, or unset one of them`);
  }
  return grpcPort;
}

/**
 * A process that runs only part of the mesh shares its state with the other processes, so it
 * must not fall back to per-process state: the embedded store and the in-process grid would hold
 * data no other process sees (a revocation on one, unseen by the next), and secrets generated into
 * its own data directory would differ from every other process's. Returns one problem per
 * variable to set. "Part of the mesh": AUTHMESH_SERVICES names fewer than the seven services
 * (gateway alone included); all seven without the gateway still needs the mesh secret, which the
 * gateway elsewhere must present.
 */
/** The services that compute pairwise subject identifiers (OIDC Core §8.1) with the salt. */
const PAIRWISE_SALT_USERS: readonly ServiceName[] = ['code', 'token', 'user'];

function splitDeploymentProblems(env: NodeJS.ProcessEnv, config: Config): string[] {
  const runsAll = config.services.length === SERVICE_NAMES.length;
  const problems: string[] = [];
  // Review 10 F2: a process running every service may still send its peer calls to other
  // instances (AUTHMESH_<SVC>_ADDR lists, over the gRPC transport); those share nothing with it
  // unless the store and the grid are shared. (A split process is held to that below anyway.)
  const listed = SERVICE_NAMES.filter((s) => (env[addrVariable(s)] ?? '').split(',').filter((e) => e.trim() !== '').length > 1).map(addrVariable);
  if (runsAll && listed.length > 0) {
    const several = `${listed.join(', ')} list several instances, which share state only through the store and the grid`;
    if (config.store === 'embedded') problems.push(`AUTHMESH_STORE: ${several}, and the embedded store is a database of this process alone: set AUTHMESH_STORE=postgres (or mysql) and AUTHMESH_DATABASE_URL, the same in every instance`);
    if (config.grid === 'memory') problems.push(`AUTHMESH_GRID: ${several}, and the in-process grid keeps codes, caches and revocations no other instance sees: set AUTHMESH_GRID=hazelcast and AUTHMESH_HAZELCAST_MEMBERS, the same in every instance`);
  }
  if (runsAll && config.gateway) return problems;
  const what = [...config.services, ...(config.gateway ? ['gateway'] : [])].join(',') || '(nothing)';
  const because = `this process runs part of a split deployment (AUTHMESH_SERVICES=${what})`;
  if (!env.AUTHMESH_MESH_SECRET) {
    problems.push(`AUTHMESH_MESH_SECRET: required because ${because}: every process must have the same value (e.g. \`openssl rand -base64 32\`); one generated into this process's data directory would match no other process and every call would fail with "requires the mesh credential"`);
  }
  if (runsAll) return problems;
  if (!env.AUTHMESH_ISSUER) {
    problems.push(`AUTHMESH_ISSUER: required because ${because}: every process must name the same issuer, the URL clients use (Envoy's, e.g. http://127.0.0.1:10000), not a default derived from this process's own HTTP port`);
  }
  if (config.services.length > 0 && config.store === 'embedded') {
    problems.push(`AUTHMESH_STORE: ${because}, and the embedded store would be a database of its own in ${config.dataDir}: set AUTHMESH_STORE=postgres (or mysql) and AUTHMESH_DATABASE_URL, the same in every process`);
  }
  if (config.services.length > 0 && config.grid === 'memory') {
    problems.push(`AUTHMESH_GRID: ${because}, and the in-process grid would keep codes, caches and revocations no other process sees: set AUTHMESH_GRID=hazelcast and AUTHMESH_HAZELCAST_MEMBERS, the same in every process`);
  }
  if (config.services.includes('key') && !env.AUTHMESH_MASTER_KEY) {
    problems.push(`AUTHMESH_MASTER_KEY: required because ${because} and runs the key service: every key-service process must decrypt the signing keys in the shared store with the same key (e.g. \`openssl rand -base64 32\`), not one generated into its data directory`);
  }
  if (config.services.some((s) => PAIRWISE_SALT_USERS.includes(s)) && !env.AUTHMESH_PAIRWISE_SALT) {
    problems.push(`AUTHMESH_PAIRWISE_SALT: required because ${because} and runs a service that computes pairwise subject identifiers (code, token, user): every such process must use the same salt (e.g. \`openssl rand -base64 32\`), or a pairwise client would see a different sub from each`);
  }
  if (config.gateway && !env.AUTHMESH_COOKIE_SECRET) {
    problems.push(`AUTHMESH_COOKIE_SECRET: required because ${because} and runs the gateway: every gateway process must sign session and CSRF cookies with the same value (e.g. \`openssl rand -base64 32\`)`);
  }
  return problems;
}

const DATABASE_SCHEMES: Record<string, string[]> = { postgres: ['postgres:', 'postgresql:'], mysql: ['mysql:', 'mariadb:'] };

// Messages quote the URL only redacted: it carries the database password.
function checkDatabaseUrl(store: string, url: string | undefined): string | undefined {
  const schemes = DATABASE_SCHEMES[store];
  if (schemes === undefined) {
    return url === undefined ? undefined : `AUTHMESH_DATABASE_URL: set, but AUTHMESH_STORE=${JSON.stringify(store)} uses no database server (set AUTHMESH_STORE=postgres or mysql, or unset the URL)`;
  }
  const example = store === 'postgres' ? 'postgres://authmesh:secret@127.0.0.1:5432/authmesh' : 'mysql://authmesh:secret@127.0.0.1:3306/authmesh';
  if (url === undefined) return `AUTHMESH_DATABASE_URL: required with AUTHMESH_STORE=${store}, e.g. ${example}`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `AUTHMESH_DATABASE_URL: not a URL, expected e.g. ${example}`;
  }
  const shown = redactDatabaseUrl(url);
  if (!schemes.includes(u.protocol)) return `AUTHMESH_DATABASE_URL=${shown}: expected a ${schemes.map((x) => `${x}//`).join(' or ')} URL for AUTHMESH_STORE=${store}`;
  if (u.hostname === '') return `AUTHMESH_DATABASE_URL=${shown}: names no host`;
  if (u.pathname.replace(/^\//, '') === '') return `AUTHMESH_DATABASE_URL=${shown}: names no database (…/authmesh at the end)`;
  return undefined;
}

/** The URL with its password replaced, fit for logs and error messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** An IPv4/IPv6 address, or one with a /prefix length that fits its family. */
function isIpOrCidr(value: string): boolean {
  const [address = '', prefix, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
