// The shared backends of the stack tests: a fresh Postgres database and the Hazelcast cluster of
// scripts/hazelcast.sh. Suites skip without them, or fail when AUTHMESH_REQUIRE_STACK=1 (CI).
import { randomBytes } from 'node:crypto';
import { testDatabaseUrl, testDatabases, type TestDatabases } from './databases.js';

export function hazelcastMembers(): { members: string; skip?: undefined } | { members?: undefined; skip: string } {
  const members = process.env.AUTHMESH_TEST_HAZELCAST_MEMBERS;
  if (members) return { members };
  const reason = 'AUTHMESH_TEST_HAZELCAST_MEMBERS is not set (start the cluster with `scripts/hazelcast.sh up`)';
  if (process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${reason}`);
  return { skip: reason };
}

export interface StackBackends {
  skip?: string;
  /** Environment for an authmesh process on Postgres + Hazelcast (a fresh database). */
  env(): Promise<Record<string, string>>;
  cleanup(): Promise<void>;
}

export function stackBackends(): StackBackends {
  const pg = testDatabaseUrl('postgres');
  const hz = hazelcastMembers();
  const skip = pg.skip ?? hz.skip;
  let dbs: TestDatabases | undefined;
  return {
    ...(skip ? { skip } : {}),
    async env() {
      dbs ??= testDatabases('postgres', pg.url!);
      return {
        AUTHMESH_STORE: 'postgres',
        AUTHMESH_DATABASE_URL: await dbs.create(),
        AUTHMESH_GRID: 'hazelcast',
        AUTHMESH_HAZELCAST_MEMBERS: hz.members!,
        // Each test deployment gets its own maps on the shared cluster.
        AUTHMESH_GRID_NAMESPACE: `t${randomBytes(6).toString('hex')}`,
      };
    },
    async cleanup() {
      await dbs?.dropAll();
    },
  };
}

/**
 * This process's environment without any AUTHMESH_* or HAZELCAST_* variable: what a private
 * scripts/stack.sh run inherits, so nothing from the caller's own stack steers it.
 */
export function envWithoutStackSettings(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith('AUTHMESH_') && !e[0].startsWith('HAZELCAST_')),
  );
}

/**
 * What every authmesh process of one test deployment shares besides its backends: fresh secrets
 * (mesh secret, master key, cookie secret, pairwise salt), the given admin client secret, an
 * issuer, and ports 0 (each process binds free ones). `meshSecret` when the test needs to know it.
 */
export function sharedProcessEnv(adminSecret: string, meshSecret = randomBytes(32).toString('base64url')): Record<string, string> {
  return {
    AUTHMESH_MESH_SECRET: meshSecret,
    AUTHMESH_MASTER_KEY: randomBytes(32).toString('base64'),
    AUTHMESH_COOKIE_SECRET: randomBytes(32).toString('base64url'),
    AUTHMESH_PAIRWISE_SALT: randomBytes(32).toString('base64url'),
    AUTHMESH_ADMIN_CLIENT_SECRET: adminSecret,
    AUTHMESH_ISSUER: 'http://127.0.0.1:8080',
    AUTHMESH_GRPC_PORT: '0',
    AUTHMESH_HTTP_PORT: '0',
  };
}
