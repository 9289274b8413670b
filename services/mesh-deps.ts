// What every service implementation receives: configuration, its backends, a logger, the audit
// trail, and RPC clients to its peers (which carry the mesh credential). Services call each
// other only through these clients, in embedded mode too, so one process exercises the same
// contracts as a scaled-out deployment; a peer served by this process's own RpcServer is called
// in process (same authentication, messages, deadlines and errors), the others over gRPC.
import { Metadata, type ServiceDefinition } from '@grpc/grpc-js';
import { ClientServiceService } from '../gen/ts/authmesh/client/v1/client.js';
import { CodeServiceService } from '../gen/ts/authmesh/code/v1/code.js';
import { KeyServiceService } from '../gen/ts/authmesh/key/v1/key.js';
import { RefreshTokenServiceService } from '../gen/ts/authmesh/refresh_token/v1/refresh_token.js';
import { ServiceRegistryServiceService } from '../gen/ts/authmesh/service/v1/service.js';
import { TokenServiceService } from '../gen/ts/authmesh/token/v1/token.js';
import { UserServiceService } from '../gen/ts/authmesh/user/v1/user.js';
import type { Config, ServiceName } from './core/config/index.js';
import type { Grid } from './core/grid/index.js';
import type { Logger } from './core/log/index.js';
import type { Metrics } from './core/metrics/index.js';
import {
  createInProcessClient,
  createRpcClient,
  MESH_METADATA_KEY,
  type AccessTokenVerifier,
  type InProcessServer,
  type RpcClient,
  type RpcClientOptions,
  type ServiceRegistration,
} from './core/rpc/index.js';
import type { NewAuditEvent, Store } from './core/store/index.js';

export interface Peers {
  client: RpcClient<typeof ClientServiceService>;
  service: RpcClient<typeof ServiceRegistryServiceService>;
  user: RpcClient<typeof UserServiceService>;
  key: RpcClient<typeof KeyServiceService>;
  code: RpcClient<typeof CodeServiceService>;
  token: RpcClient<typeof TokenServiceService>;
  refreshToken: RpcClient<typeof RefreshTokenServiceService>;
  close(): void;
}

export interface MeshDeps {
  config: Config;
  store: Store;
  grid: Grid;
  log: Logger;
  peers: Peers;
  /** Verifies access tokens of this issuer (JWKS from the key service, revocation in the grid). */
  verifier: AccessTokenVerifier;
  /** This process's metrics: counters of the events services record (tokens issued, …). */
  metrics: Metrics;
  /** Records a security event: queued and written behind the request; never throws. */
  audit(event: NewAuditEvent): Promise<void>;
  now(): Date;
}

export const SERVICE_FQN: Record<ServiceName, string> = {
  client: 'authmesh.client.v1.ClientService',
  service: 'authmesh.service.v1.ServiceRegistryService',
  user: 'authmesh.user.v1.UserService',
  key: 'authmesh.key.v1.KeyService',
  code: 'authmesh.code.v1.CodeService',
  token: 'authmesh.token.v1.TokenService',
  'refresh-token': 'authmesh.refresh_token.v1.RefreshTokenService',
};

export interface PeersOptions {
  /** Deadline of calls that bring none, ms (default 5,000). */
  timeoutMs?: number;
  /**
   * This process's own RpcServer: the services it serves are called in process (no socket);
   * absent = every peer over gRPC (AUTHMESH_PEER_TRANSPORT=grpc, or an outside caller's view).
   */
  inProcess?: InProcessServer;
}

/** Clients are created on first use, so a process can start before its peers are up. Without a
 * mesh secret they carry no credential (an outside caller's view, used by tests). */
export function createPeers(addresses: Record<ServiceName, string>, meshSecret: string | undefined, options: PeersOptions = {}): Peers {
  const meta = () => {
    const md = new Metadata();
    if (meshSecret !== undefined) md.set(MESH_METADATA_KEY, meshSecret);
    return md;
  };
  const made: { close(): void }[] = [];
  const lazy = <T extends { close(): void }>(make: () => T): T => {
    let c: T | undefined;
    return new Proxy({} as T, {
      get(_t, prop) {
        if (prop === 'close') return () => c?.close();
        if (!c) {
          c = make();
          made.push(c);
        }
        return (c as Record<string | symbol, unknown>)[prop];
      },
    });
  };
  const opts: RpcClientOptions = { metadata: meta, defaultTimeoutMs: options.timeoutMs ?? 5_000 };
  const local = options.inProcess;
  const clientOf = <S extends ServiceDefinition>(definition: S, name: ServiceName): RpcClient<S> =>
    local?.serves(SERVICE_FQN[name]) ? createInProcessClient(definition, local, opts) : createRpcClient(definition, SERVICE_FQN[name], addresses[name], opts);
  return {
    client: lazy(() => clientOf(ClientServiceService, 'client')),
    service: lazy(() => clientOf(ServiceRegistryServiceService, 'service')),
    user: lazy(() => clientOf(UserServiceService, 'user')),
    key: lazy(() => clientOf(KeyServiceService, 'key')),
    code: lazy(() => clientOf(CodeServiceService, 'code')),
    token: lazy(() => clientOf(TokenServiceService, 'token')),
    refreshToken: lazy(() => clientOf(RefreshTokenServiceService, 'refresh-token')),
    close: () => made.forEach((c) => c.close()),
  };
}

/** What each service folder exports: its gRPC registration and optional start/stop hooks. */
export interface ServiceModule {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  registration: ServiceRegistration<any>;
  /** Further gRPC services the same module serves (the token module also serves ext_authz). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  extra?: ServiceRegistration<any>[];
  /** Runs after the server listens, before it reports SERVING (e.g. key generation). */
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

export type ServiceFactory = (deps: MeshDeps) => ServiceModule;
