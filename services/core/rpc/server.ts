// A grpc-js server with what every authmesh server needs: grpc.health.v1 health, server
// reflection (from the descriptor set buf builds), the access check and error mapping around
// every handler, bounded message sizes, and graceful shutdown.
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { InvalidRequest, InvalidToken } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Authenticator } from './context.js';
import { adaptService, RejectedRequest, type ServiceRegistration } from './handler.js';
import { descriptorSetPath } from './paths.js';
import { addReflection, DescriptorIndex } from './reflection.js';
import { createStrictRequests, type StrictRequests } from './strict-messages.js';
import { tolerantRegistrar } from './tolerant-service.js';

export interface RpcServerOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  services: ServiceRegistration<any>[];
  authenticator?: Authenticator;
  log: Logger;
  /** Realm of the Bearer challenge sent with invalid_token and insufficient_scope (the issuer). */
  realm?: string;
  /** Largest request accepted, bytes. Default 1 MiB: no authmesh request comes near it. */
  maxReceiveBytes?: number;
  /** Largest response sent, bytes. Default 16 MiB (a full page of clients is far below it). */
  maxSendBytes?: number;
}

export interface RpcServer {
  readonly server: Server;
  readonly health: HealthImplementation;
  /** Binds host:port (port 0 picks a free one) and returns the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Marks every service SERVING (or NOT_SERVING). */
  setServing(serving: boolean): void;
  /** Stops accepting calls, lets running ones finish for up to graceMs, then cancels the rest. */
  shutdown(graceMs?: number): Promise<void>;
}

/** Admits only public methods: the safe default until a real authenticator is wired in. */
export const publicOnlyAuthenticator: Authenticator = {
  async authenticate(_metadata, access) {
    if (access.kind === 'public' || access.kind === 'client') return { kind: 'anonymous' };
    throw new InvalidToken('this method requires authentication');
  },
};

export function createRpcServer(options: RpcServerOptions): RpcServer {
  const log = options.log;
  const server = new Server({
    'grpc.max_receive_message_length': options.maxReceiveBytes ?? 1024 * 1024,
    'grpc.max_send_message_length': options.maxSendBytes ?? 16 * 1024 * 1024,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.max_connection_age_grace_ms': 10_000,
  });
  const authenticator = options.authenticator ?? publicOnlyAuthenticator;
  const names = options.services.map((s) => s.name);
  const health = new HealthImplementation(Object.fromEntries(['', ...names].map((n) => [n, 'NOT_SERVING' as const])));
  // Health and reflection are not authmesh handlers: undecodable bytes still get INVALID_ARGUMENT.
  const tolerant = tolerantRegistrar(server);
  health.addToServer(tolerant);
  const descriptorSet = readFileSync(descriptorSetPath());
  const strict = createStrictRequests(descriptorSet);
  for (const reg of options.services) {
    server.addService(refusingDefinition(reg.definition, strict), adaptService(reg, authenticator, log, options.realm));
  }
  addReflection(tolerant, new DescriptorIndex(descriptorSet), () => names);

  const setServing = (serving: boolean) => {
    for (const n of ['', ...names]) health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING');
  };

  return {
    server,
    health,
    setServing,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
          if (err) reject(err);
          else resolve(bound);
        });
      });
    },
    shutdown(graceMs = 5_000) {
      setServing(false);
      return new Promise((resolve) => {
        const force = setTimeout(() => {
          log.warn({ graceMs }, 'forcing gRPC shutdown: calls still running after the grace period');
          server.forceShutdown();
          resolve();
        }, graceMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}


/**
 * The service definition with request deserializers that never throw: bytes that do not decode
 * (or an admin request naming fields or enum values the schema lacks) become a RejectedRequest,
 * which the handler answers with INVALID_ARGUMENT after the access check. grpc-js itself answers
 * a throwing deserializer with INTERNAL, which blames the server for the caller's bad input.
 */
export function refusingDefinition<S extends ServiceDefinition>(definition: S, strict: StrictRequests): S {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [key, def] of Object.entries(definition as Record<string, MethodDefinition<unknown, unknown>>)) {
    const decode = def.requestDeserialize;
    out[key] = {
      ...def,
      requestDeserialize: (bytes: Buffer) => {
        let unknown: string | undefined;
        try {
          unknown = strict.unknownFieldIn(def.path, bytes);
          if (unknown === undefined) return decode(bytes);
        } catch {
          return new RejectedRequest(new InvalidRequest('the request message is not a valid protobuf encoding of its type'));
        }
        return new RejectedRequest(new InvalidRequest(`the request has a field this server does not understand: ${unknown}`));
      },
    };
  }
  return out as S;
}
