// Adapts async service implementations `(request, ctx) => Promise<response>` to grpc-js unary
// handlers: access check first, then the handler, then every thrown error mapped once through
// the error vocabulary. Nothing a caller sends can crash the process: all failures end as a
// status.
import type { MethodDefinition, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation, sendUnaryData } from '@grpc/grpc-js';
import { toAuthmeshError, toGrpcStatus, type AuthmeshError } from '../errors/index.js';
import { bearerChallenge } from '../oauth/index.js';
import type { Logger } from '../log/index.js';
import type { Access, Authenticator, CallContext } from './context.js';

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
 * @param realm when set, invalid_token and insufficient_scope errors carry an RFC 6750 §3
 *   `www-authenticate` challenge in their trailers, which HTTP surfaces in front of the server
 *   (Envoy's JSON transcoding) pass on with the 401/403
 */
export function adaptService<S extends ServiceDefinition>(
  reg: ServiceRegistration<S>,
  authenticator: Authenticator,
  log: Logger,
  realm?: string,
): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const key of Object.keys(reg.definition) as (keyof S & string)[]) {
    const def = reg.definition[key] as MethodDefinition<unknown, unknown>;
    if (def.requestStream || def.responseStream) throw new Error(`${def.path}: only unary methods are supported`);
    const access = reg.access[key];
    if (!access) throw new Error(`${def.path}: no access policy declared`);
    const impl = reg.implementation[key] as unknown as (req: unknown, ctx: CallContext) => Promise<unknown>;
    out[key] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      void handleUnary(def.path, access, impl, call, callback, authenticator, log, realm);
    };
  }
  return out;
}

async function handleUnary(
  method: string,
  access: Access,
  impl: (req: unknown, ctx: CallContext) => Promise<unknown>,
  call: ServerUnaryCall<unknown, unknown>,
  callback: sendUnaryData<unknown>,
  authenticator: Authenticator,
  log: Logger,
  realm: string | undefined,
): Promise<void> {
  const started = performance.now();
  const deadline = toDate(call.getDeadline());
  // The abort signal (and its deadline timer) exists only if a handler asks for it: most never
  // do, and creating both on every call showed up in profiles of the token endpoint.
  let controller: AbortController | undefined;
  let timer: NodeJS.Timeout | undefined;
  const onCancel = () => controller?.abort(new Error('cancelled by the caller'));
  const signal = () => {
    if (!controller) {
      controller = new AbortController();
      call.on('cancelled', onCancel);
      if (deadline) {
        timer = setTimeout(() => controller?.abort(new Error('deadline exceeded')), Math.max(0, deadline.getTime() - Date.now()));
        timer.unref();
      }
    }
    return controller.signal;
  };
  let outcome = 'OK';
  try {
    const principal = await authenticator.authenticate(call.metadata, access);
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
        return call.getPeer();
      },
      log,
    };
    const response = await impl(call.request, ctx);
    callback(null, response);
  } catch (err) {
    const domain = toAuthmeshError(err);
    outcome = domain.code;
    if (domain.code === 'server_error') log.error({ method, err: domain.cause ?? err }, 'rpc failed');
    const status = toGrpcStatus(domain);
    if (realm !== undefined && (domain.code === 'invalid_token' || domain.code === 'insufficient_scope')) {
      // RFC 6750 §3.1: no error code when the call carried no credentials.
      const sent = call.metadata.get('authorization').length > 0;
      status.metadata.set('www-authenticate', sent ? bearerChallenge({ realm, error: domain.code, description: domain.description, scope: domain.metadata.scope }) : bearerChallenge({ realm }));
    }
    callback(status, null);
  } finally {
    if (timer) clearTimeout(timer);
    if (controller) call.removeListener('cancelled', onCancel);
    if (log.isLevelEnabled('debug')) log.debug({ method, outcome, ms: Math.round((performance.now() - started) * 100) / 100 }, 'rpc');
  }
}

function toDate(deadline: Date | number): Date | undefined {
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}
