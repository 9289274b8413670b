// The admin RPCs of every service over Connect, gRPC-Web and gRPC (connect-node), so a browser
// console or `curl -H 'content-type: application/json'` can call them with an admin bearer token.
// The bridge forwards each call to the service over gRPC with the caller's Authorization header
// and nothing else: the services check the token and scope themselves, and their errors
// (status + google.rpc.ErrorInfo) travel back unchanged. Only RPCs that carry a google.api.http
// annotation (the admin surface) are exposed; internal RPCs are not reachable from the edge.
import { createClient, ConnectError, Code, type ConnectRouter } from '@connectrpc/connect';
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { hasOption, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { ClientService } from '../../gen/es/authmesh/client/v1/client_pb.js';
import { KeyService } from '../../gen/es/authmesh/key/v1/key_pb.js';
import { RefreshTokenService } from '../../gen/es/authmesh/refresh_token/v1/refresh_token_pb.js';
import { ServiceRegistryService } from '../../gen/es/authmesh/service/v1/service_pb.js';
import { UserService } from '../../gen/es/authmesh/user/v1/user_pb.js';
import { http } from '../../gen/es/google/api/annotations_pb.js';
import type { Peers } from '../../services/mesh-deps.js';
import type { RouteModule } from '../gateway.js';

const BRIDGED: [DescService, keyof Peers][] = [
  [ClientService, 'client'],
  [ServiceRegistryService, 'service'],
  [UserService, 'user'],
  [KeyService, 'key'],
  [RefreshTokenService, 'refreshToken'],
];

/** Upstream deadline for a bridged call that brings none. */
const DEFAULT_TIMEOUT_MS = 5_000;

export function adminMethods(service: DescService): DescMethod[] {
  return service.methods.filter((m) => m.methodKind === 'unary' && hasOption(m, http));
}

export const connectRoutes: RouteModule = async ({ app, grpcAddress }) => {
  const transports = new Map<string, ReturnType<typeof createGrpcTransport>>();
  const transportFor = (address: string) => {
    let t = transports.get(address);
    if (!t) {
      t = createGrpcTransport({ baseUrl: `http://${address}` });
      transports.set(address, t);
    }
    return t;
  };

  const routes = (router: ConnectRouter) => {
    for (const [service, peer] of BRIDGED) {
      const client = createClient(service, transportFor(grpcAddress(peer))) as unknown as Record<string, (req: unknown, opts: unknown) => Promise<unknown>>;
      const impl: Record<string, (req: unknown, ctx: { requestHeader: Headers; signal: AbortSignal; timeoutMs(): number | undefined }) => Promise<unknown>> = {};
      for (const method of adminMethods(service)) {
        impl[method.localName] = async (req, ctx) => {
          const headers = new Headers();
          const authorization = ctx.requestHeader.get('authorization');
          if (authorization) headers.set('authorization', authorization);
          try {
            const call = client[method.localName] as (req: unknown, opts: unknown) => Promise<unknown>;
            return await call(req, { headers, signal: ctx.signal, timeoutMs: ctx.timeoutMs() ?? DEFAULT_TIMEOUT_MS });
          } catch (err) {
            // Service errors pass through with their code, message and details (ErrorInfo). Not
            // their metadata: it holds the upstream's gRPC response headers (content-type
            // application/grpc+proto), which would corrupt a Connect or gRPC-Web error response.
            if (err instanceof ConnectError) throw new ConnectError(err.rawMessage, err.code, undefined, err.details as ConstructorParameters<typeof ConnectError>[3]);
            throw new ConnectError('internal error', Code.Internal);
          }
        };
      }
      // Method by method, never router.service(): that would also route the internal RPCs of the
      // service, answering them 501 unimplemented; unrouted, they get the gateway's 404.
      for (const method of adminMethods(service)) {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        router.rpc(method as any, impl[method.localName] as any);
      }
    }
  };

  await app.register(fastifyConnectPlugin, { routes, shutdownTimeoutMs: 5_000 });
  app.addHook('onClose', async () => {
    transports.clear();
  });
};
