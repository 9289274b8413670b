// How the command-line tool reaches the mesh: the gRPC address, the admin credential, and one
// promise-based client per service (services/core/rpc/client.ts, the same clients the services
// use among themselves, so a failure arrives as the one error vocabulary). The admin RPCs take
// a bearer access token: a ready one (--token, AUTHMESH_TOKEN) or one the tool gets first with
// client_credentials from TokenService/Token (RFC 6749 §4.4) with --client-id/--client-secret
// (AUTHMESH_CLIENT_ID/AUTHMESH_CLIENT_SECRET).
import { credentials as grpcCredentials, status as Status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { AuditServiceService } from '../gen/ts/authmesh/audit/v1/audit.js';
import { ClientServiceService, TokenEndpointAuthMethod, type ClientCredentials } from '../gen/ts/authmesh/client/v1/client.js';
import { KeyServiceService } from '../gen/ts/authmesh/key/v1/key.js';
import { RefreshTokenServiceService } from '../gen/ts/authmesh/refresh_token/v1/refresh_token.js';
import { ServiceRegistryServiceService } from '../gen/ts/authmesh/service/v1/service.js';
import { TokenServiceService } from '../gen/ts/authmesh/token/v1/token.js';
import { UserServiceService } from '../gen/ts/authmesh/user/v1/user.js';
import { AuthmeshError, errorInfoOf } from '../services/core/errors/index.js';
import { createRpcClient, type RpcClient } from '../services/core/rpc/client.js';

/** The address `npm start` serves gRPC on (README "Run it, test it"). */
export const DEFAULT_ADDR = '127.0.0.1:50051';
/** The scope the tool asks for when it gets its own token: every admin RPC accepts it. */
export const ADMIN_SCOPE = 'authmesh.admin';

/** Exit statuses a script can rely on (`authmesh --help` and README list them). */
export const EXIT = { ok: 0, refused: 1, usage: 2, unreachable: 3 } as const;

/** A mistake in the command line itself (exit 2): nothing was sent. */
export class UsageError extends Error {}

/** A call that failed (its `cause` is the domain error of services/core/errors) and where it went. */
export class CallFailed extends Error {
  constructor(
    override readonly cause: unknown,
    readonly addr: string,
  ) {
    super('call failed', { cause });
  }
}

/** The options every command accepts, after flags and environment are merged. */
export interface GlobalOptions {
  addr?: string;
  clientId?: string;
  clientSecret?: string;
  token?: string;
  json?: boolean;
  timeout?: string;
  /** TLS to the mesh with the system's CA roots. */
  tls?: boolean;
  /** TLS to the mesh with this PEM CA bundle. */
  cacert?: string;
  /** Plaintext gRPC even to a host that is not loopback (credentials then cross the network in clear). */
  plaintext?: boolean;
}

/** Whether `host:port` names this machine (plaintext gRPC there never leaves it). */
export function isLoopbackAddr(addr: string): boolean {
  // A list of instances (AUTHMESH_<SVC>_ADDR in a stack) is on this machine only if every entry is.
  return addr.split(',').every((entry) => {
    const host = entry.trim().replace(/:\d{1,5}$/, '').replace(/^\[(.*)\]$/, '$1').toLowerCase();
    return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  });
}

/**
 * The channel credentials for `target`: TLS with --cacert or --tls; plaintext on loopback or with
 * --plaintext. Anything else is refused before a byte is sent: a plaintext channel to another
 * host would carry the client secret and the bearer token in clear (RFC 6749 §2.3.1, §10.8;
 * RFC 6750 §5.3).
 * @throws UsageError
 */
function channelCredentials(opts: GlobalOptions, target: string): ChannelCredentials {
  if (opts.cacert !== undefined) {
    let pem: Buffer;
    try {
      pem = readFileSync(opts.cacert);
    } catch {
      throw new UsageError(`--cacert: cannot read ${JSON.stringify(opts.cacert.slice(0, 200))}`);
    }
    return grpcCredentials.createSsl(pem);
  }
  if (opts.tls) return grpcCredentials.createSsl();
  if (opts.plaintext || isLoopbackAddr(target)) return grpcCredentials.createInsecure();
  throw new UsageError(`${target} is not on this machine: use --tls (or --cacert <file>), or --plaintext to send credentials in clear`);
}

const SERVICES = {
  client: [ClientServiceService, 'authmesh.client.v1.ClientService', 'AUTHMESH_CLIENT_ADDR'],
  service: [ServiceRegistryServiceService, 'authmesh.service.v1.ServiceRegistryService', 'AUTHMESH_SERVICE_ADDR'],
  user: [UserServiceService, 'authmesh.user.v1.UserService', 'AUTHMESH_USER_ADDR'],
  key: [KeyServiceService, 'authmesh.key.v1.KeyService', 'AUTHMESH_KEY_ADDR'],
  token: [TokenServiceService, 'authmesh.token.v1.TokenService', 'AUTHMESH_TOKEN_ADDR'],
  refreshToken: [RefreshTokenServiceService, 'authmesh.refresh_token.v1.RefreshTokenService', 'AUTHMESH_REFRESH_TOKEN_ADDR'],
  // Served by the client service's process (proto/authmesh/audit/v1/audit.proto).
  audit: [AuditServiceService, 'authmesh.audit.v1.AuditService', 'AUTHMESH_CLIENT_ADDR'],
} as const;
type Services = typeof SERVICES;
type ServiceKey = keyof Services;

/** A connection to the mesh: lazily created clients and the bearer token of the admin calls. */
export interface Connection {
  /** The address calls go to (for messages). */
  addr: string;
  rpc<K extends ServiceKey>(key: K): RpcClient<Services[K][0]>;
  /** The client credential as TokenService/IntrospectToken want it (client_secret_basic). */
  clientCredentials(): ClientCredentials;
  /**
   * A bearer access token for admin calls: --token as given, else one from client_credentials
   * (`renew`: a new one, for a long-running command whose token expired).
   */
  bearer(renew?: boolean): Promise<string>;
  close(): void;
}

/** `--timeout` in seconds (default 10) as milliseconds; a usage error when it is not a positive number. */
function timeoutMs(raw: string | undefined): number {
  if (raw === undefined) return 10_000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new UsageError(`--timeout must be a number of seconds between 0 and 3600, got ${JSON.stringify(raw)}`);
  return Math.round(seconds * 1000);
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/**
 * host:port, as `npm start` prints it; a URL with a scheme is refused with what to write instead.
 * With `list`, also a comma-separated list of instances (a stack's AUTHMESH_<SVC>_ADDR), which
 * the channel balances over.
 */
function checkAddr(addr: string, from: string, list = false): string {
  const entries = list ? addr.split(',').map((e) => e.trim()) : [addr];
  if (entries.length > 16 || !entries.every((e) => HOST_PORT.test(e))) {
    throw new UsageError(`${from} must be host:port${list ? ' or a comma-separated list of them' : ''} (e.g. ${DEFAULT_ADDR}), got ${JSON.stringify(addr.slice(0, 100))}`);
  }
  return entries.join(',');
}

/**
 * Opens a connection (no network traffic until the first call). Flags win over environment:
 * --addr / AUTHMESH_ADDR (each service's own AUTHMESH_<SVC>_ADDR, when set, for a stack whose
 * services listen apart), --token / AUTHMESH_TOKEN, --client-id / AUTHMESH_CLIENT_ID,
 * --client-secret / AUTHMESH_CLIENT_SECRET.
 */
export function connect(opts: GlobalOptions, env: NodeJS.ProcessEnv = process.env): Connection {
  const addr = checkAddr(opts.addr ?? env.AUTHMESH_ADDR ?? DEFAULT_ADDR, opts.addr !== undefined ? '--addr' : 'AUTHMESH_ADDR');
  const defaultTimeoutMs = timeoutMs(opts.timeout);
  const token = opts.token ?? (env.AUTHMESH_TOKEN || undefined);
  const clientId = opts.clientId ?? (env.AUTHMESH_CLIENT_ID || undefined);
  const clientSecret = opts.clientSecret ?? (env.AUTHMESH_CLIENT_SECRET || undefined);
  const open = new Map<ServiceKey, RpcClient<Services[ServiceKey][0]>>();
  let bearer: Promise<string> | undefined;

  const clientCredentials = (): ClientCredentials => {
    if (clientId === undefined || clientSecret === undefined) {
      throw new UsageError('no client credential: give --client-id and --client-secret (or AUTHMESH_CLIENT_ID and AUTHMESH_CLIENT_SECRET)');
    }
    return { credential: { $case: 'clientSecret', value: { clientId, clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } };
  };

  const connection: Connection = {
    addr,
    rpc<K extends ServiceKey>(key: K) {
      let client = open.get(key);
      if (client === undefined) {
        const [definition, name, envName] = SERVICES[key];
        const own = env[envName];
        const target = own ? checkAddr(own, envName, true) : addr;
        const raw = createRpcClient(definition, name, target, { defaultTimeoutMs, credentials: channelCredentials(opts, target) }) as unknown as Record<string, (req: unknown, o?: unknown) => Promise<unknown>> & { close(): void };
        // Each failure carries the address it was sent to, so "cannot reach" names the right one.
        const wrapped: Record<string, unknown> = { close: () => raw.close() };
        for (const method of Object.keys(definition)) {
          wrapped[method] = (req: unknown, o?: unknown) =>
            raw[method]!(req, o).catch((err: unknown) => {
              throw new CallFailed(err, target);
            });
        }
        client = wrapped as unknown as RpcClient<Services[ServiceKey][0]>;
        open.set(key, client);
      }
      return client as unknown as RpcClient<Services[K][0]>;
    },
    clientCredentials,
    bearer(renew = false) {
      if (token !== undefined) return Promise.resolve(token);
      if (renew) bearer = undefined;
      if (clientId === undefined || clientSecret === undefined) {
        return Promise.reject(
          new UsageError('no credential: give --token (or AUTHMESH_TOKEN), or --client-id and --client-secret (or AUTHMESH_CLIENT_ID and AUTHMESH_CLIENT_SECRET)'),
        );
      }
      // RFC 6749 §4.4: the client_credentials grant, asked of the token service over gRPC.
      bearer ??= connection
        .rpc('token')
        .token({ client: clientCredentials(), grant: { $case: 'clientCredentials', value: { scope: ADMIN_SCOPE, resource: [] } }, remoteIp: '', dpop: undefined, clientCertificate: undefined })
        .then((res) => res.accessToken);
      return bearer;
    },
    close() {
      for (const client of open.values()) client.close();
      open.clear();
    },
  };
  return connection;
}

/**
 * The one line and the exit status a failure ends the command with:
 * `authmesh: <error code>: <description>` on stderr. A refusal by the server (any error it sent
 * with an ErrorInfo, i.e. an RFC error code) is 1; a server that could not be reached at all
 * (connection refused, no answer before the deadline, no ErrorInfo) is 3; a usage error is 2.
 * Error codes are the RFC 6749 / RFC 6750 / RFC 7662 names of services/core/errors.
 */
export function describeFailure(failure: unknown, fallbackAddr: string | undefined): { status: number; line: string } {
  const err = failure instanceof CallFailed ? failure.cause : failure;
  const addr = failure instanceof CallFailed ? failure.addr : fallbackAddr;
  if (err instanceof UsageError) return { status: EXIT.usage, line: `authmesh: invalid_request: ${oneLine(err.message)}` };
  if (err instanceof AuthmeshError) {
    const cause = err.cause as Partial<ServiceError> | undefined;
    const transport = cause !== undefined && errorInfoOf(cause) === undefined && (cause.code === Status.UNAVAILABLE || cause.code === Status.DEADLINE_EXCEEDED);
    if (transport) {
      // grpc-js appends a "Resolution note" (empty for an IP address) to what it says.
      const why = cause.code === Status.DEADLINE_EXCEEDED ? 'no answer before the deadline (--timeout)' : oneLine((cause.details ?? 'unavailable').replace(/\s*Resolution note:\s*$/, ''));
      return { status: EXIT.unreachable, line: `authmesh: temporarily_unavailable: cannot reach the mesh at ${addr ?? '?'}: ${why}` };
    }
    return { status: EXIT.refused, line: `authmesh: ${err.code}: ${oneLine(err.description)}` };
  }
  return { status: EXIT.refused, line: `authmesh: server_error: ${oneLine(err instanceof Error ? err.message : String(err))}` };
}

/** Text from the server or the command line made one printable line: control characters (newlines, terminal escapes) become spaces. */
export const oneLine = (text: string): string => text.replace(/\p{Cc}+/gu, ' ').slice(0, 500);
