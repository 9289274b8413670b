// A grpc-js server with what every authmesh server needs: grpc.health.v1 health, server
// reflection (from the descriptor set buf builds), the access check and error mapping around
// every handler, bounded message sizes, and graceful shutdown.
import { readFileSync } from 'node:fs';
import { Server, ServerCredentials, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { InvalidRequest, InvalidToken } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import type { Metrics } from '../metrics/index.js';
import type { Authenticator } from './context.js';
import { adaptPrepared, prepareService, RejectedRequest, type ServiceRegistration } from './handler.js';
import { InProcessServer } from './in-process.js';
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
  /** Where every call's count and duration are recorded (per service, method and status); none = not measured. */
  metrics?: Metrics;
  /** Largest request accepted, bytes. Default 1 MiB: no authmesh request comes near it. */
  maxReceiveBytes?: number;
  /** Largest response sent, bytes. Default 16 MiB (a full page of clients is far below it). */
  maxSendBytes?: number;
}

export interface RpcServer {
  readonly server: Server;
  readonly health: HealthImplementation;
  /** The same services for callers in this process (createInProcessClient), open while listening. */
  readonly inProcess: InProcessServer;
  /** Binds host:port (port 0 picks a free one) and returns the bound port. */
  listen(host: string, port: number): Promise<number>;
  /**
   * Marks '' and every service name SERVING (or NOT_SERVING): started and not draining. Envoy's
   * active health checks use these names (see README "Health").
   */
  setServing(serving: boolean): void;
  /** Sets the `readiness` health name: the store and grid answer and the process is not draining. */
  setReady(ready: boolean): void;
  /**
   * Stops accepting calls (over the socket and in process), lets running ones finish for up to
   * graceMs, then cancels the rest.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/** gRPC health service name of the liveness probe: SERVING whenever the server can answer at all. */
export const LIVENESS = 'liveness';
/** gRPC health service name of the readiness probe: store and grid reachable, not draining. */
export const READINESS = 'readiness';
const HEALTH_PROBE_NAMES = { [LIVENESS]: 'SERVING', [READINESS]: 'NOT_SERVING' } as const;

/** Admits only public methods: the safe default until a real authenticator is wired in. */
export const publicOnlyAuthenticator: Authenticator = {
  async authenticate(_metadata, access) {
    if (access.kind === 'public' || access.kind === 'client') return { kind: 'anonymous' };
    throw new InvalidToken('this method requires authentication');
  },
};

export function createRpcServer(options: RpcServerOptions): RpcServer {
  const log = options.log;
  const maxReceiveBytes = options.maxReceiveBytes ?? 1024 * 1024;
  const maxSendBytes = options.maxSendBytes ?? 16 * 1024 * 1024;
  const server = new Server({
    'grpc.max_receive_message_length': maxReceiveBytes,
    'grpc.max_send_message_length': maxSendBytes,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.max_connection_age_grace_ms': 10_000,
  });
  const authenticator = options.authenticator ?? publicOnlyAuthenticator;
  const names = options.services.map((s) => s.name);
  const health = new HealthImplementation({
    ...Object.fromEntries(['', ...names].map((n) => [n, 'NOT_SERVING' as const])),
    ...HEALTH_PROBE_NAMES,
  });
  // Health and reflection are not authmesh handlers: undecodable bytes still get INVALID_ARGUMENT.
  const tolerant = tolerantRegistrar(server);
  health.addToServer(tolerant);
  const descriptorSet = readFileSync(descriptorSetPath());
  const strict = createStrictRequests(descriptorSet);
  const inProcess = new InProcessServer({ maxReceiveBytes, maxSendBytes });
  for (const reg of options.services) {
    // One prepared method set serves both transports, so their access checks and error mapping
    // cannot diverge.
    const definition = refusingDefinition(reg.definition, strict);
    const methods = prepareService(reg, authenticator, log, options.realm, options.metrics);
    server.addService(definition, adaptPrepared(methods));
    inProcess.add(reg.name, definition, methods);
  }
  addReflection(tolerant, new DescriptorIndex(descriptorSet), () => names);

  const setServing = (serving: boolean) => {
    for (const n of ['', ...names]) health.setStatus(n, serving ? 'SERVING' : 'NOT_SERVING');
  };

  return {
    server,
    health,
    inProcess,
    setServing,
    setReady(ready) {
      health.setStatus(READINESS, ready ? 'SERVING' : 'NOT_SERVING');
    },
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
          if (err) reject(err);
          else {
            inProcess.open();
            resolve(bound);
          }
        });
      });
    },
    shutdown(graceMs = 5_000) {
      setServing(false);
      health.setStatus(READINESS, 'NOT_SERVING');
      inProcess.close();
      return new Promise((resolve) => {
        const force = setTimeout(() => {
          log.warn({ graceMs }, 'forcing gRPC shutdown: calls still running after the grace period');
          server.forceShutdown();
          inProcess.cancelAll();
          resolve();
        }, graceMs);
        force.unref();
        const socketDone = new Promise<void>((done) => server.tryShutdown(() => done()));
        void Promise.all([socketDone, inProcess.drained()]).then(() => {
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
