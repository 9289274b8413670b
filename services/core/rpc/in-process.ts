// The in-process transport (like grpc-java's): a client of a service that this process's own
// RpcServer serves calls the service's handlers directly instead of crossing a loopback HTTP/2
// socket, with the wire path's semantics kept exactly:
// - authentication: the call's metadata (mesh credential, bearer) goes through the server's
//   Authenticator and the method's Access in the same runUnary as a grpc-js call (handler.ts);
// - messages: the request and the response are encoded and decoded with the method definition's
//   (de)serializers (the server's strict request decoder included), so each side gets what the
//   wire would give and neither can touch the other's objects; the server's size limits apply;
// - deadlines: the earlier of the caller's and the default; when it passes the caller gets what
//   grpc-js reports (DEADLINE_EXCEEDED) and the handler's ctx.signal aborts; a caller that cancels
//   (CallOptions.signal) gets CANCELLED mapped and the handler's ctx.signal aborts too;
// - errors: the status the handler path produced (ErrorInfo, www-authenticate trailer) reaches the
//   caller through fromGrpcError, as a ServiceError the wire would have delivered;
// - lifecycle: calls are accepted from listen until shutdown starts (as the socket is), running
//   ones get the shutdown's grace period, and a forced shutdown ends them with UNAVAILABLE.
import { Metadata, status as Status, type MethodDefinition, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { fromGrpcError } from '../errors/index.js';
import { callDeadline, callMetadata, type CallOptions, type RpcClient, type RpcClientOptions } from './client.js';
import type { UnaryCall, UnaryMethod } from './handler.js';

/** CallContext.peer of a call that came through the in-process transport (names no IP address). */
export const IN_PROCESS_PEER = 'in-process';

/** A finished in-process call: the encoded response, or the status the caller receives. */
type Finished = { ok: true; bytes: Buffer } | { ok: false; code: Status; details: string; metadata: Metadata };

interface ServedMethod {
  /** The server's definition (its request deserializer is the strict, never-throwing one). */
  definition: MethodDefinition<unknown, unknown>;
  method: UnaryMethod;
}

interface RunningCall {
  /** Fires the handler's cancellation listeners (ctx.signal aborts). */
  cancel(): void;
  /** Ends the call now with this status (forced shutdown); later outcomes are ignored. */
  end(finished: Finished): void;
}

export interface InProcessLimits {
  /** Largest request the server accepts, bytes (the grpc-js server's max receive length). */
  maxReceiveBytes: number;
  /** Largest response the server sends, bytes (its max send length). */
  maxSendBytes: number;
}

/**
 * The calls an RpcServer serves inside its own process. The server adds its services, opens it
 * when it listens and closes it when shutdown starts; clients made by createInProcessClient call
 * into it.
 */
export class InProcessServer {
  private readonly methods = new Map<string, ServedMethod>();
  private readonly services = new Set<string>();
  private readonly running = new Set<RunningCall>();
  private idleWaiters: Array<() => void> = [];
  private state: 'idle' | 'open' | 'closed' = 'idle';

  constructor(private readonly limits: InProcessLimits) {}

  /**
   * Serves a service in process.
   * @param serviceName fully qualified, e.g. authmesh.key.v1.KeyService
   * @param definition the definition the grpc-js server was given (strict request decoding)
   * @param methods prepareService's methods, keyed like the definition
   */
  add(serviceName: string, definition: ServiceDefinition, methods: Record<string, UnaryMethod>): void {
    this.services.add(serviceName);
    for (const [key, def] of Object.entries(definition as Record<string, MethodDefinition<unknown, unknown>>)) {
      const method = methods[key];
      if (!method) throw new Error(`${def.path}: no prepared method`);
      this.methods.set(def.path, { definition: def, method });
    }
  }

  /** Whether this server serves the fully qualified service name. */
  serves(serviceName: string): boolean {
    return this.services.has(serviceName);
  }

  /** Whether new calls are accepted now (listening, shutdown not started). */
  get accepting(): boolean {
    return this.state === 'open';
  }

  /** Calls are accepted from now on (the gRPC server is listening). */
  open(): void {
    if (this.state === 'idle') this.state = 'open';
  }

  /** No new calls from now on (shutdown started); running calls go on. */
  close(): void {
    this.state = 'closed';
  }

  /** Resolves when no call is running. */
  drained(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Ends every running call with UNAVAILABLE and aborts its handler (forced shutdown). */
  cancelAll(): void {
    for (const call of [...this.running]) {
      call.end({ ok: false, code: Status.UNAVAILABLE, details: 'the server shut down while the call was running', metadata: new Metadata() });
      call.cancel();
    }
  }

  /**
   * Starts one unary call.
   * @param path full method path
   * @param bytes the encoded request
   * @param metadata the call's metadata (the handler's own copy)
   * @param deadline when the caller stops waiting
   * @returns the outcome, and `cancel` for a caller that stops waiting (ctx.signal aborts)
   */
  call(path: string, bytes: Buffer, metadata: Metadata, deadline: Date): { result: Promise<Finished>; cancel(): void } {
    const refuse = (code: Status, details: string) => ({ result: Promise.resolve<Finished>({ ok: false, code, details, metadata: new Metadata() }), cancel: () => undefined });
    // What a grpc-js client gets from a server that no longer (or not yet) takes connections.
    if (this.state !== 'open') return refuse(Status.UNAVAILABLE, 'the server is not accepting calls (in-process: shut down or not yet listening)');
    const served = this.methods.get(path);
    if (!served) return refuse(Status.UNIMPLEMENTED, `The server does not implement the method ${path}`);
    if (bytes.length > this.limits.maxReceiveBytes) {
      return refuse(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${bytes.length} vs ${this.limits.maxReceiveBytes})`);
    }
    const listeners = new Set<() => void>();
    let settle!: (f: Finished) => void;
    const result = new Promise<Finished>((resolve) => (settle = resolve));
    const running: RunningCall = {
      cancel: () => {
        for (const l of [...listeners]) l();
      },
      end: (f) => {
        this.running.delete(running);
        settle(f);
        if (this.running.size === 0) this.wakeIdle();
      },
    };
    this.running.add(running);
    const call: UnaryCall = {
      request: served.definition.requestDeserialize(bytes),
      metadata,
      deadline,
      peer: () => IN_PROCESS_PEER,
      onCancelled(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    void served.method.run(call).then((outcome) => running.end(this.encode(served.definition, outcome)));
    return { result, cancel: running.cancel };
  }

  private encode(def: MethodDefinition<unknown, unknown>, outcome: Awaited<ReturnType<UnaryMethod['run']>>): Finished {
    if (!outcome.ok) return { ok: false, code: outcome.status.code, details: outcome.status.details, metadata: outcome.status.metadata };
    let bytes: Buffer;
    try {
      bytes = def.responseSerialize(outcome.response);
    } catch {
      // grpc-js answers a response it cannot serialize with INTERNAL.
      return { ok: false, code: Status.INTERNAL, details: 'Failed to serialize response', metadata: new Metadata() };
    }
    if (bytes.length > this.limits.maxSendBytes) {
      return { ok: false, code: Status.RESOURCE_EXHAUSTED, details: `Sent message larger than max (${bytes.length} vs ${this.limits.maxSendBytes})`, metadata: new Metadata() };
    }
    return { ok: true, bytes };
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** A failed call as grpc-js reports it to a client: an Error carrying code, details and trailers. */
function serviceError(code: Status, details: string, metadata: Metadata): ServiceError {
  return Object.assign(new Error(`${code} ${Status[code]}: ${details}`), { code, details, metadata });
}

/**
 * A client of `definition` whose calls go to `server` in this process: the same RpcClient type,
 * method shapes, call options and domain errors as createRpcClient's (see the file comment for
 * what is kept of the wire's semantics). A caller that stops waiting at its deadline gets
 * temporarily_unavailable (DEADLINE_EXCEEDED mapped), one that cancels (CallOptions.signal)
 * server_error (CANCELLED mapped); either way the handler's ctx.signal aborts.
 */
export function createInProcessClient<S extends ServiceDefinition>(definition: S, server: InProcessServer, options: RpcClientOptions = {}): RpcClient<S> {
  const timeout = options.defaultTimeoutMs ?? 5_000;
  const out: Record<string, unknown> = { close: () => undefined };
  for (const [key, def] of Object.entries(definition as Record<string, MethodDefinition<unknown, unknown>>)) {
    out[key] = (request: unknown, opts: CallOptions = {}) =>
      new Promise((resolve, reject) => {
        const md = callMetadata(options, opts);
        const deadline = callDeadline(timeout, opts);
        const fail = (code: Status, details: string, metadata = new Metadata()) => reject(fromGrpcError(serviceError(code, details, metadata)));
        const left = deadline.getTime() - Date.now();
        if (left <= 0) return fail(Status.DEADLINE_EXCEEDED, 'Deadline exceeded');
        const { signal } = opts;
        if (signal?.aborted) return fail(Status.CANCELLED, 'Cancelled on client');
        let bytes: Buffer;
        try {
          bytes = def.requestSerialize(request);
        } catch (err) {
          return fail(Status.INTERNAL, `Request message serialization failure: ${(err as Error).message}`);
        }
        // Binary values merged from the caller's metadata are copied, so the handler owns its copy.
        const call = server.call(def.path, bytes, opts.metadata ? md.clone() : md, deadline);
        let done = false;
        // The caller stops waiting (deadline or its own cancellation): the handler's ctx.signal aborts.
        const giveUp = (code: Status, details: string) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          call.cancel();
          fail(code, details);
        };
        const onAbort = () => giveUp(Status.CANCELLED, 'Cancelled on client');
        const timer = setTimeout(() => giveUp(Status.DEADLINE_EXCEEDED, 'Deadline exceeded'), left);
        signal?.addEventListener('abort', onAbort, { once: true });
        void call.result.then((f) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if (!f.ok) return fail(f.code, f.details, f.metadata);
          try {
            resolve(def.responseDeserialize(f.bytes));
          } catch (err) {
            fail(Status.INTERNAL, `Response message parsing error: ${(err as Error).message}`);
          }
        });
      });
  }
  return out as RpcClient<S>;
}
