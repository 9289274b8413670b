// Adapts async service implementations `(request, ctx) => Promise<response>` to unary handlers
// of every transport (grpc-js, in-process): access check first, then the handler, then every
// thrown error mapped once through the error vocabulary (runUnary, the one shared path).
// Nothing a caller sends can crash the process: all failures end as a status.
import { status as GrpcStatus, type Metadata, type MethodDefinition, type ServerUnaryCall, type ServiceDefinition, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
import { toAuthmeshError, toGrpcStatus, type AuthmeshError } from '../errors/index.js';
import { bearerChallenge, DPOP_SIGNING_ALGS, dpopChallenge, parseDpopAuthorization } from '../oauth/index.js';
import type { Logger } from '../log/index.js';
import { annotate, inRpcServerSpan, requestLogIds, tracingActive } from '../telemetry/index.js';
import type { Metrics, RpcMethodMetrics } from '../metrics/index.js';
import type { Access, Authenticator, CallContext } from './context.js';
import { DPOP_BOUND_METADATA } from './mesh-authenticator.js';

// Inferred from the (de)serializers, which ts-proto types precisely.
type Req<M> = M extends { requestDeserialize: (b: Buffer) => infer R } ? R : never;
type Res<M> = M extends { responseSerialize: (v: infer R) => Buffer } ? R : never;

/** An implementation of every method of a ts-proto service definition, as async functions. */
export type AsyncService<S extends ServiceDefinition> = {
  [K in keyof S]: (request: Req<S[K]>, ctx: CallContext) => Promise<Res<S[K]>>;
};

/** Who may call each method; a key for every method is required by the type. */
export type AccessPolicy<S extends ServiceDefinition> = { [K in keyof S]: Access };

export interface ServiceRegistration<S extends ServiceDefinition = ServiceDefinition> {
  /** Fully qualified service name, e.g. authmesh.key.v1.KeyService (used for health). */
  name: string;
  definition: S;
  implementation: AsyncService<S>;
  access: AccessPolicy<S>;
}

/**
 * What a wrapped request deserializer hands the handler instead of a message it refused (bytes
 * that are not a protobuf message, or an admin request with fields the schema does not define):
 * the handler answers with this error after the access check, never with INTERNAL.
 */
export class RejectedRequest {
  constructor(readonly error: AuthmeshError) {}
}

export function registration<S extends ServiceDefinition>(
  name: string,
  definition: S,
  implementation: AsyncService<S>,
  access: AccessPolicy<S>,
): ServiceRegistration<S> {
  return { name, definition, implementation, access };
}

/**
 * One unary call as the shared path sees it, whichever transport brought it (a grpc-js server
 * call or the in-process transport, in-process.ts).
 */
export interface UnaryCall {
  /** The decoded request, or the RejectedRequest its deserializer made instead. */
  request: unknown;
  metadata: Metadata;
  /** The caller's deadline, if it sent one. */
  deadline: Date | undefined;
  /** Who is calling, as CallContext.peer reports it (grpc-js: "127.0.0.1:5000"). */
  peer(): string;
  /** Registers `listener` for the caller cancelling the call; returns its removal. */
  onCancelled(listener: () => void): () => void;
}

/** A gRPC error status as a handler sends it: code, details and trailers (ErrorInfo, challenge). */
export type UnaryErrorStatus = ReturnType<typeof toGrpcStatus>;

/** What a unary call ends with: the response message, or the error status to send. */
export type UnaryOutcome = { ok: true; response: unknown } | { ok: false; status: UnaryErrorStatus };

/** One method of a registered service, ready to serve calls from any transport. */
export interface UnaryMethod {
  /** Full method path, e.g. /authmesh.key.v1.KeyService/GetJwks. */
  path: string;
  /** Runs the access check, the handler and the error mapping; never rejects. */
  run(call: UnaryCall): Promise<UnaryOutcome>;
}

/**
 * Every method of a registration as a transport-neutral UnaryMethod, keyed like the service
 * definition. Throws at registration (fail closed) when a method is streaming or has no access
 * policy.
 * @param realm when set, invalid_token and insufficient_scope errors carry an RFC 6750 §3
 *   `www-authenticate` challenge in their trailers, which HTTP surfaces in front of the server
 *   (Envoy's JSON transcoding) pass on with the 401/403
 * @param metrics when set, every call records authmesh_rpc_server_requests_total and
 *   authmesh_rpc_server_duration_seconds by service, method (from this definition, never from
 *   the wire) and gRPC status code name
 */
export function prepareService<S extends ServiceDefinition>(
  reg: ServiceRegistration<S>,
  authenticator: Authenticator,
  log: Logger,
  realm?: string,
  metrics?: Metrics,
): Record<string, UnaryMethod> {
  const out: Record<string, UnaryMethod> = {};
  for (const key of Object.keys(reg.definition) as (keyof S & string)[]) {
    const def = reg.definition[key] as MethodDefinition<unknown, unknown>;
    if (def.requestStream || def.responseStream) throw new Error(`${def.path}: only unary methods are supported`);
    const access = reg.access[key];
    if (!access) throw new Error(`${def.path}: no access policy declared`);
    const impl = reg.implementation[key] as unknown as (req: unknown, ctx: CallContext) => Promise<unknown>;
    const path = def.path;
    const measured = metrics?.rpcMethod(reg.name, path.slice(path.lastIndexOf('/') + 1));
    out[key] = { path, run: measured ? measuredRun(measured, (call) => runUnary(path, access, impl, call, authenticator, log, realm)) : (call) => runUnary(path, access, impl, call, authenticator, log, realm) };
  }
  return out;
}

/** `run` that records each call's status code name and duration (runUnary never rejects). */
function measuredRun(metrics: RpcMethodMetrics, run: UnaryMethod['run']): UnaryMethod['run'] {
  return async (call) => {
    const started = performance.now();
    const outcome = await run(call);
    metrics.observe(outcome.ok ? 'OK' : (GrpcStatus[outcome.status.code] ?? 'UNKNOWN'), (performance.now() - started) / 1000);
    return outcome;
  };
}

/** The registration as grpc-js handlers: each grpc-js call goes through the shared runUnary. */
export function adaptService<S extends ServiceDefinition>(
  reg: ServiceRegistration<S>,
  authenticator: Authenticator,
  log: Logger,
  realm?: string,
): UntypedServiceImplementation {
  return adaptPrepared(prepareService(reg, authenticator, log, realm));
}

/** Prepared methods as grpc-js handlers. */
export function adaptPrepared(methods: Record<string, UnaryMethod>): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(methods)) {
    out[key] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      void method.run(grpcUnaryCall(call)).then((o) => (o.ok ? callback(null, o.response) : callback(o.status, null)));
    };
  }
  return out;
}

function grpcUnaryCall(call: ServerUnaryCall<unknown, unknown>): UnaryCall {
  return {
    request: call.request,
    metadata: call.metadata,
    deadline: toDate(call.getDeadline()),
    peer: () => call.getPeer(),
    onCancelled(listener) {
      call.on('cancelled', listener);
      return () => call.removeListener('cancelled', listener);
    },
  };
}

/**
 * The one unary path of every transport: the access check (the Authenticator with the method's
 * Access), the handler, and every thrown error mapped once, toAuthmeshError → toGrpcStatus (with
 * the RFC 6750 challenge where `realm` is set). Never rejects: all failures end as a status.
 * With tracing on, the call runs in a SERVER span continuing the caller's trace context
 * (telemetry/spans.ts). Each call writes one `rpc` log line at info (see logRpc).
 */
export function runUnary(
  method: string,
  access: Access,
  impl: (req: unknown, ctx: CallContext) => Promise<unknown>,
  call: UnaryCall,
  authenticator: Authenticator,
  log: Logger,
  realm: string | undefined,
): Promise<UnaryOutcome> {
  if (!tracingActive()) return runUnaryCall(method, access, impl, call, authenticator, log, realm);
  return inRpcServerSpan(
    method,
    call.metadata,
    () => runUnaryCall(method, access, impl, call, authenticator, log, realm),
    (o) => (o.ok ? 0 : o.status.code),
  );
}

async function runUnaryCall(
  method: string,
  access: Access,
  impl: (req: unknown, ctx: CallContext) => Promise<unknown>,
  call: UnaryCall,
  authenticator: Authenticator,
  log: Logger,
  realm: string | undefined,
): Promise<UnaryOutcome> {
  const started = performance.now();
  const deadline = call.deadline;
  // The abort signal (and its deadline timer) exists only if a handler asks for it: most never
  // do, and creating both on every call showed up in profiles of the token endpoint.
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  let removeCancel: (() => void) | undefined;
  const signal = () => {
    if (!controller) {
      controller = new AbortController();
      removeCancel = call.onCancelled(() => controller?.abort(new Error('cancelled by the caller')));
      if (deadline) {
        timer = setTimeout(() => controller?.abort(new Error('deadline exceeded')), Math.max(0, deadline.getTime() - Date.now()));
        timer.unref();
      }
    }
    return controller.signal;
  };
  let outcome = 'OK';
  let grpcStatus = 0;
  let authenticated = false;
  let clientId: string | undefined;
  try {
    const principal = await authenticator.authenticate(call.metadata, access, method);
    authenticated = true;
    if (principal.kind === 'token') clientId = principal.clientId;
    if (call.request instanceof RejectedRequest) throw call.request.error;
    const ctx: CallContext = {
      method,
      metadata: call.metadata,
      principal,
      deadline,
      get signal() {
        return signal();
      },
      get peer() {
        return call.peer();
      },
      log,
    };
    return { ok: true, response: await impl(call.request, ctx) };
  } catch (err) {
    const domain = toAuthmeshError(err);
    outcome = domain.code;
    if (domain.code === 'server_error') log.error({ method, err: domain.cause ?? err }, 'rpc failed');
    const dpopRefusal =
      !authenticated && (domain.code === 'invalid_token' || domain.code === 'invalid_dpop_proof' || domain.code === 'use_dpop_nonce' || domain.code === 'insufficient_scope') && isDpopScheme(call.metadata);
    // RFC 9449 §7.1, §9: a resource server refuses a DPoP-scheme request (401: invalid_dpop_proof
    // and use_dpop_nonce are UNAUTHENTICATED, which Envoy's transcoder answers as 401;
    // insufficient_scope stays 403) with the DPoP challenge carrying the error, a bare Bearer
    // challenge, and DPoP-Nonce when the nonce is due.
    const status = toGrpcStatus(domain);
    grpcStatus = status.code;
    annotate({ 'authmesh.error': domain.code });
    if (dpopRefusal) {
      if (realm !== undefined) {
        status.metadata.set('www-authenticate', `${dpopChallenge({ error: domain.code, description: domain.description, scope: domain.metadata.scope, algs: DPOP_SIGNING_ALGS })}, ${bearerChallenge({ realm })}`);
      }
      const nonce = domain.metadata.dpop_nonce;
      // RFC 9449 §9: nonce = 1*NQCHAR.
      if (domain.code === 'use_dpop_nonce' && nonce !== undefined && /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/.test(nonce)) status.metadata.set('dpop-nonce', nonce);
    } else if (realm !== undefined && (domain.code === 'invalid_token' || domain.code === 'insufficient_scope')) {
      // RFC 6750 §3.1: no error code when the call carried no credentials.
      const sent = call.metadata.get('authorization').length > 0;
      const bearer = sent ? bearerChallenge({ realm, error: domain.code, description: domain.description, scope: domain.metadata.scope }) : bearerChallenge({ realm });
      // RFC 9449 §7.1: a DPoP-bound token sent as Bearer: the DPoP scheme is offered beside it.
      status.metadata.set('www-authenticate', domain.metadata[DPOP_BOUND_METADATA] === 'true' ? `${bearer}, ${dpopChallenge({ algs: DPOP_SIGNING_ALGS })}` : bearer);
    }
    return { ok: false, status };
  } finally {
    if (timer) clearTimeout(timer);
    removeCancel?.();
    if (log.isLevelEnabled('info')) logRpc(log, method, grpcStatus, outcome, started, call, clientId);
  }
}

/**
 * The one log line of an RPC (msg "rpc", info): method, gRPC status code, error (the RFC error
 * code, absent on success), ms, the caller's address, client_id only when a verified access
 * token named it, and trace_id/span_id (or request_id when tracing is off, see requestLogIds).
 * Never a request field or metadata value other than the traceparent's trace id.
 */
function logRpc(log: Logger, method: string, grpcStatus: number, outcome: string, started: number, call: UnaryCall, clientId: string | undefined): void {
  log.info(
    {
      method,
      grpc_status: grpcStatus,
      ...(outcome !== 'OK' ? { error: outcome } : {}),
      ms: Math.round((performance.now() - started) * 100) / 100,
      peer: call.peer(),
      ...(clientId !== undefined ? { client_id: clientId } : {}),
      ...requestLogIds(call.metadata.get('traceparent')[0]),
    },
    'rpc',
  );
}

/** Whether the call presented its token with the DPoP scheme (RFC 9449 §7.1). */
function isDpopScheme(md: Metadata): boolean {
  const v = md.get('authorization')[0];
  return typeof v === 'string' && parseDpopAuthorization(v) !== undefined;
}

function toDate(deadline: Date | number): Date | undefined {
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}
