// Starts a real mesh for tests: the services on one loopback gRPC server, in-memory PGlite, the
// in-process grid. Nothing is mocked; tokens for admin calls are signed by the real key service.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../services/core/config/index.js';
import { silentLogger, type Logger } from '../../services/core/log/index.js';
import { buildAccessTokenClaims } from '../../services/core/oauth/index.js';
import type { Store } from '../../services/core/store/index.js';
import { startMesh, type Mesh } from '../../services/mesh.js';
import { createPeers, type Peers } from '../../services/mesh-deps.js';
import { testDatabaseUrl, testDatabases, type TestDatabases } from './databases.js';

export interface TestMesh {
  mesh: Mesh;
  config: Config;
  /** Clients that carry the mesh credential (what services use). */
  peers: Peers;
  /** Clients with no credential at all, as an outside caller would be: always over the socket. */
  anon: Peers;
  store: Store;
  /**
   * A real access token signed by the key service (for admin calls in tests that are not about
   * the token endpoint). Default scope authmesh.admin.
   */
  bearer(opts?: { scope?: string[]; sub?: string; clientId?: string; ttlSeconds?: number; audience?: string }): Promise<string>;
  close(): Promise<void>;
}

/**
 * AUTHMESH_TEST_STORE=postgres|mysql runs the mesh on a fresh database of that server (URL from
 * AUTHMESH_TEST_POSTGRES_URL / AUTHMESH_TEST_MYSQL_URL), dropped on close; otherwise PGlite.
 */
async function testStoreEnv(): Promise<{ env: Record<string, string>; databases?: TestDatabases }> {
  const engine = process.env.AUTHMESH_TEST_STORE;
  if (engine === undefined || engine === '' || engine === 'embedded') return { env: {} };
  if (engine !== 'postgres' && engine !== 'mysql') throw new Error(`AUTHMESH_TEST_STORE=${engine}: expected embedded, postgres or mysql`);
  const target = testDatabaseUrl(engine);
  if (target.url === undefined) throw new Error(`AUTHMESH_TEST_STORE=${engine} but ${target.skip}`);
  const databases = testDatabases(engine, target.url);
  return { env: { AUTHMESH_STORE: engine, AUTHMESH_DATABASE_URL: await databases.create() }, databases };
}

/**
 * AUTHMESH_TEST_GRID=hazelcast runs the mesh on the cluster of AUTHMESH_TEST_HAZELCAST_MEMBERS,
 * in a namespace of its own so meshes running in parallel never share cached state.
 */
function testGridEnv(): Record<string, string> {
  const grid = process.env.AUTHMESH_TEST_GRID;
  if (grid === undefined || grid === '' || grid === 'memory') return {};
  if (grid !== 'hazelcast') throw new Error(`AUTHMESH_TEST_GRID=${grid}: expected memory or hazelcast`);
  const members = process.env.AUTHMESH_TEST_HAZELCAST_MEMBERS;
  if (!members) throw new Error('AUTHMESH_TEST_GRID=hazelcast but AUTHMESH_TEST_HAZELCAST_MEMBERS is not set');
  return { AUTHMESH_GRID: 'hazelcast', AUTHMESH_HAZELCAST_MEMBERS: members, AUTHMESH_GRID_NAMESPACE: `t${randomBytes(6).toString('hex')}` };
}

/**
 * AUTHMESH_TEST_PEER_TRANSPORT=grpc makes the mesh's services (and a gateway on its peers) call
 * each other over the gRPC socket (AUTHMESH_PEER_TRANSPORT=grpc); unset or in-process calls the
 * co-located services in process, as `npm start` does. CI runs the service and gateway suites
 * both ways, so neither path rots.
 */
export function testPeerTransportEnv(): Record<string, string> {
  const transport = process.env.AUTHMESH_TEST_PEER_TRANSPORT;
  if (transport === undefined || transport === '') return {};
  if (transport !== 'in-process' && transport !== 'grpc') throw new Error(`AUTHMESH_TEST_PEER_TRANSPORT=${transport}: expected in-process or grpc`);
  return { AUTHMESH_PEER_TRANSPORT: transport };
}

/** `options.log` receives the services' log lines (default: none), for tests that inspect logs. */
export async function startTestMesh(env: Record<string, string> = {}, options: { log?: Logger } = {}): Promise<TestMesh> {
  const dataDir = mkdtempSync(join(tmpdir(), 'authmesh-test-'));
  const testStore = await testStoreEnv();
  const config = loadConfig({
    ...testStore.env,
    ...testGridEnv(),
    ...testPeerTransportEnv(),
    AUTHMESH_DATA_DIR: dataDir,
    AUTHMESH_GRPC_PORT: '0',
    AUTHMESH_HTTP_PORT: '0',
    AUTHMESH_ISSUER: 'http://127.0.0.1:8080',
    AUTHMESH_MASTER_KEY: randomBytes(32).toString('base64'),
    AUTHMESH_MESH_SECRET: randomBytes(32).toString('base64url'),
    AUTHMESH_ADMIN_CLIENT_SECRET: randomBytes(32).toString('base64url'),
    AUTHMESH_LOG_LEVEL: 'silent',
    ...env,
  });
  const mesh = await startMesh({ config, log: options.log ?? silentLogger() });
  const anon = createPeers(mesh.addresses, undefined);
  const peers = mesh.deps.peers;
  return {
    mesh,
    config,
    peers,
    anon,
    // Audit events are written behind the request; reads of the trail in tests wait for them.
    store: {
      ...mesh.deps.store,
      audit: {
        ...mesh.deps.store.audit,
        list: async (...args: Parameters<Store['audit']['list']>) => {
          await mesh.flushAudit();
          return mesh.deps.store.audit.list(...args);
        },
      },
    },
    async bearer(opts = {}) {
      const claims = buildAccessTokenClaims({
        issuer: config.issuer,
        subject: opts.sub ?? opts.clientId ?? 'test-admin',
        audience: opts.audience ?? config.issuer,
        clientId: opts.clientId ?? 'test-admin',
        scope: opts.scope ?? ['authmesh.admin'],
        ttlSeconds: opts.ttlSeconds ?? 300,
        now: new Date(),
      });
      const res = await peers.key.signJwt({ claims: { ...claims }, typ: 'at+jwt' });
      return res.jwt;
    },
    async close() {
      anon.close();
      await mesh.close();
      await testStore.databases?.dropAll();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
