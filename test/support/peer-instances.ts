// Instances of one gRPC service for balancing and drain tests (issue 18): real grpc-js servers
// on loopback (createRpcServer) serving KeyService with handlers that record which instance
// answered, and can be told to fail or hold a call.
import { GetJwksResponse, KeyServiceService, ListKeysResponse, RotateKeysResponse, SignJwtResponse } from '../../gen/ts/authmesh/key/v1/key.js';
import { NotFound, TemporarilyUnavailable } from '../../services/core/errors/index.js';
import { silentLogger } from '../../services/core/log/index.js';
import { INTERNAL, PUBLIC, type Authenticator } from '../../services/core/rpc/context.js';
import { registration, type AsyncService } from '../../services/core/rpc/handler.js';
import { createRpcServer, type RpcServer } from '../../services/core/rpc/server.js';

export const FQN = 'authmesh.key.v1.KeyService';
export type Key = typeof KeyServiceService;

// These tests are about where calls go, not who may make them: every caller is the mesh.
const meshCaller: Authenticator = { authenticate: async () => ({ kind: 'mesh' }) };

export interface Instance {
  name: string;
  rpc: RpcServer;
  port: number;
  /** Calls each method handled, in order. */
  served: string[];
  /** When set, the next GetJwks / SignJwt answers TemporarilyUnavailable (UNAVAILABLE). */
  failNext: { getJwks?: boolean; signJwt?: boolean };
  /** When set, SignJwt waits for it before answering (an in-flight call during a drain). */
  hold?: Promise<void>;
  /** Resolves when a held SignJwt has started. */
  holding?: () => void;
}


/** Starts one instance on a free loopback port, SERVING; `started` collects it for closing. */
export async function startInstance(name: string, started: Instance[]): Promise<Instance> {
  const instance: Instance = { name, rpc: undefined as unknown as RpcServer, port: 0, served: [], failNext: {} };
  const implementation: AsyncService<Key> = {
    async getJwks() {
      instance.served.push('getJwks');
      if (instance.failNext.getJwks) {
        instance.failNext.getJwks = false;
        throw new TemporarilyUnavailable('this instance cannot answer now');
      }
      return GetJwksResponse.fromPartial({ keys: [] });
    },
    async getKey() {
      throw new NotFound('no such key');
    },
    async listKeys() {
      return ListKeysResponse.fromPartial({ keys: [] });
    },
    async rotateKeys() {
      return RotateKeysResponse.fromPartial({});
    },
    async signJwt() {
      instance.served.push('signJwt');
      if (instance.failNext.signJwt) {
        instance.failNext.signJwt = false;
        throw new TemporarilyUnavailable('this instance cannot answer now');
      }
      if (instance.hold) {
        instance.holding?.();
        await instance.hold;
      }
      return SignJwtResponse.fromPartial({ jwt: name, kid: 'k-1' });
    },
  };
  instance.rpc = createRpcServer({
    services: [registration(FQN, KeyServiceService, implementation, { getJwks: PUBLIC, getKey: INTERNAL, listKeys: INTERNAL, rotateKeys: INTERNAL, signJwt: INTERNAL })],
    authenticator: meshCaller,
    log: silentLogger(),
  });
  instance.port = await instance.rpc.listen('127.0.0.1', 0);
  instance.rpc.setServing(true);
  started.push(instance);
  return instance;
}

