// Services authmesh registers but does not implement through its own handler adapter (grpc.health.v1,
// server reflection) still answer bytes that do not decode with INVALID_ARGUMENT, like every
// authmesh service (handler.ts), never grpc-js's INTERNAL "Error deserializing request": a
// malformed message is the caller's error (issue 11, "decide and document").
import type { MethodDefinition, Server, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { InvalidRequest, toGrpcStatus } from '../errors/index.js';
import { RejectedRequest } from './handler.js';

const rejected = () => new RejectedRequest(new InvalidRequest('the request message is not a valid protobuf encoding of its type'));
const statusOf = (r: RejectedRequest) => toGrpcStatus(r.error);

type AnyHandler = (...args: unknown[]) => unknown;
interface StreamCall {
  request?: unknown;
  push(chunk: unknown, encoding?: BufferEncoding): boolean;
  emit(event: 'error', err: unknown): boolean;
}

/**
 * The definition with deserializers that never throw and the implementation answering an
 * undecodable message with INVALID_ARGUMENT: unary through the callback, server streams by ending
 * with that status, client and bidi streams on the first undecodable message.
 */
export function tolerantService(definition: ServiceDefinition, implementation: UntypedServiceImplementation): [ServiceDefinition, UntypedServiceImplementation] {
  const defs: Record<string, MethodDefinition<unknown, unknown>> = {};
  const impls: Record<string, AnyHandler> = {};
  for (const [key, def] of Object.entries(definition as Record<string, MethodDefinition<unknown, unknown>>)) {
    const decode = def.requestDeserialize;
    defs[key] = {
      ...def,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch {
          return rejected();
        }
      },
    };
    const handler = (implementation[key] ?? implementation[def.originalName ?? '']) as AnyHandler | undefined;
    if (!handler) continue;
    if (!def.requestStream && !def.responseStream) {
      impls[key] = (call: unknown, callback: unknown) => {
        const request = (call as StreamCall).request;
        if (request instanceof RejectedRequest) return (callback as (err: unknown) => void)(statusOf(request));
        return handler(call, callback);
      };
    } else if (!def.requestStream) {
      impls[key] = (call: unknown) => {
        const request = (call as StreamCall).request;
        if (request instanceof RejectedRequest) return (call as StreamCall).emit('error', statusOf(request));
        return handler(call);
      };
    } else {
      impls[key] = (call: unknown, callback?: unknown) => {
        const stream = call as StreamCall;
        const push = stream.push.bind(stream);
        // grpc-js hands every received message to the stream through push().
        stream.push = (chunk, encoding) => {
          if (chunk instanceof RejectedRequest) {
            stream.emit('error', statusOf(chunk));
            return false;
          }
          return push(chunk, encoding);
        };
        return handler(call, callback);
      };
    }
  }
  return [defs as ServiceDefinition, impls as UntypedServiceImplementation];
}

/** A view of `server` whose addService registers services through tolerantService. */
export function tolerantRegistrar(server: Server): Server {
  return new Proxy(server, {
    get(target, prop, receiver) {
      if (prop === 'addService') {
        return (definition: ServiceDefinition, implementation: UntypedServiceImplementation) => target.addService(...tolerantService(definition, implementation));
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as AnyHandler).bind(target) : value;
    },
  });
}
