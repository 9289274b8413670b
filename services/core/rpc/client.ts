// Promise-based gRPC clients over ts-proto service definitions. Every call gets a deadline
// (its own, the caller's remaining deadline, or the default) and every failure comes back as a
// domain error through the one gRPC mapping, so callers switch on error codes, never on text.
import {
  type ChannelCredentials,
  type Client,
  type ClientUnaryCall,
  credentials as grpcCredentials,
  makeGenericClientConstructor,
  Metadata,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import { fromGrpcError } from '../errors/index.js';
import { channelTarget } from './peer-target.js';
import { injectTraceContext } from '../telemetry/index.js';

// Inferred from the (de)serializers, which ts-proto types precisely.
type Req<M> = M extends { requestDeserialize: (b: Buffer) => infer R } ? R : never;
type Res<M> = M extends { responseSerialize: (v: infer R) => Buffer } ? R : never;

export interface CallOptions {
  /** Absolute deadline; the earlier of this and the default applies. */
  deadline?: Date;
  metadata?: Metadata;
  /** Bearer access token to send as `authorization`. */
  bearer?: string;
  /**
   * Cancels the call when it aborts: the caller gets the error a cancelled gRPC call maps to and
   * the handler's ctx.signal aborts.
   */
  signal?: AbortSignal;
}

export type RpcClient<S extends ServiceDefinition> = {
  [K in keyof S]: (request: Req<S[K]>, options?: CallOptions) => Promise<Res<S[K]>>;
} & { close(): void };

export interface RpcClientOptions {
  credentials?: ChannelCredentials;
  /** Deadline for calls that bring none, ms. */
  defaultTimeoutMs?: number;
  /** Metadata added to every call, e.g. the mesh credential for internal RPCs. */
  metadata?: () => Metadata;
}

export function createRpcClient<S extends ServiceDefinition>(
  definition: S,
  serviceName: string,
  address: string,
  options: RpcClientOptions = {},
): RpcClient<S> {
  const Ctor = makeGenericClientConstructor(definition, serviceName);
  const client = new Ctor(channelTarget(address), options.credentials ?? grpcCredentials.createInsecure(), {
    'grpc.keepalive_time_ms': 60_000,
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2_000,
    'grpc.service_config': JSON.stringify(peerServiceConfig(definition, serviceName)),
    // A retry attempt's request is buffered; authmesh requests are small (1 MiB cap server side).
    'grpc.per_rpc_retry_buffer_size': 1024 * 1024,
  }) as Client & Record<string, (...args: unknown[]) => unknown>;
  const timeout = options.defaultTimeoutMs ?? 5_000;
  const out: Record<string, unknown> = { close: () => client.close() };
  for (const key of Object.keys(definition)) {
    out[key] = (request: unknown, opts: CallOptions = {}) =>
      new Promise((resolve, reject) => {
        const md = callMetadata(options, opts);
        const deadline = callDeadline(timeout, opts);
        const method = client[key] as (req: unknown, md: Metadata, o: { deadline: Date }, cb: (e: ServiceError | null, r: unknown) => void) => ClientUnaryCall;
        const { signal } = opts;
        const onAbort = () => call.cancel();
        const call = method.call(client, request, md, { deadline }, (err, res) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(fromGrpcError(err));
          else resolve(res);
        });
        if (signal?.aborted) call.cancel();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
  }
  return out as RpcClient<S>;
}

/**
 * The metadata one call sends, built fresh for the call: the client's own (e.g. the mesh
 * credential), then the call's, then its bearer token as `authorization`. Shared by every
 * transport so the server's Authenticator sees the same metadata over each.
 */
export function callMetadata(options: RpcClientOptions, opts: CallOptions): Metadata {
  const md = options.metadata ? options.metadata() : new Metadata();
  if (opts.metadata) md.merge(opts.metadata);
  if (opts.bearer) md.set('authorization', `Bearer ${opts.bearer}`);
  // W3C Trace Context: the caller's active span is the parent of the callee's RPC span.
  injectTraceContext(md);
  return md;
}

/** One call's deadline: the earlier of the caller's and now + `defaultTimeoutMs` (ms). */
export function callDeadline(defaultTimeoutMs: number, opts: CallOptions): Date {
  const byDefault = Date.now() + defaultTimeoutMs;
  return opts.deadline && opts.deadline.getTime() < byDefault ? opts.deadline : new Date(byDefault);
}

/**
 * The RPCs without side effects, retried on UNAVAILABLE on another instance, named one by one
 * (review 10 F3: a name prefix also caught LookupDeviceAuthorization, which counts wrong user
 * codes, so a retry could count one twice). rpc/read-only-methods.test.ts makes every new
 * Get/List/Lookup/Introspect/Check method of the protos be decided here or in NOT_READ_ONLY.
 * Envoy's idempotent gRPC routes (envoy/envoy.yaml) follow the same list.
 */
export const READ_ONLY_METHODS: ReadonlySet<string> = new Set([
  'CheckAccess',
  'GetActivityRates',
  'GetClient',
  'GetJwks',
  'GetKey',
  'GetService',
  'GetUser',
  'GetUserInfo',
  'IntrospectToken',
  'ListAuditEvents',
  'ListClients',
  'ListKeys',
  'ListRefreshTokens',
  'ListServices',
  'ListUserSessions',
  'ListUsers',
  'LookupRefreshToken',
  'LookupService',
]);

/** Methods named like reads that act: never retried once they reached a server. */
export const NOT_READ_ONLY_METHODS: ReadonlySet<string> = new Set([
  // Counts a wrong user code against the browser and the address (RFC 8628 §5.1 brute force).
  'LookupDeviceAuthorization',
  // Ends (and announces) a session whose password changed since the login.
  'CheckSession',
]);

/**
 * The channel's service config: round_robin over every instance the target resolves to (so a
 * draining or dead instance is skipped once its connection goes away), and read-only RPCs retried
 * on UNAVAILABLE, up to 3 attempts, each on the next instance. Other RPCs get grpc-js's
 * transparent retry only: once, when the call never reached the server's handlers (not sent, or
 * refused by a server that is closing), never after a server may have acted on it.
 *
 * @param definition the ts-proto service definition (its methods' `path` names them).
 * @param serviceName the fully qualified service name, e.g. `authmesh.client.v1.ClientService`.
 */
export function peerServiceConfig(definition: ServiceDefinition, serviceName: string): object {
  const readOnly = Object.values(definition)
    .map((m) => m.path.slice(m.path.lastIndexOf('/') + 1))
    .filter((method) => READ_ONLY_METHODS.has(method))
    .map((method) => ({ service: serviceName, method }));
  return {
    loadBalancingConfig: [{ round_robin: {} }],
    methodConfig:
      readOnly.length === 0
        ? []
        : [
            {
              name: readOnly,
              retryPolicy: { maxAttempts: 3, initialBackoff: '0.05s', maxBackoff: '0.5s', backoffMultiplier: 2, retryableStatusCodes: ['UNAVAILABLE'] },
            },
          ],
  };
}
