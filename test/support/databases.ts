// Fresh databases on the real servers of scripts/postgres.sh and scripts/mariadb.sh, for tests
// that need an empty schema each. The admin URLs come from the environment:
//   AUTHMESH_TEST_POSTGRES_URL  (scripts/postgres.sh url)
//   AUTHMESH_TEST_MYSQL_URL     (scripts/mariadb.sh url)
// Without one the suites skip, unless AUTHMESH_REQUIRE_STACK=1 (CI), where they fail instead.
import { randomBytes, randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { RefreshToken, Store } from '../../services/core/store/index.js';

export type Engine = 'postgres' | 'mysql';

const ENV: Record<Engine, string> = { postgres: 'AUTHMESH_TEST_POSTGRES_URL', mysql: 'AUTHMESH_TEST_MYSQL_URL' };
const SCRIPT: Record<Engine, string> = { postgres: 'scripts/postgres.sh', mysql: 'scripts/mariadb.sh' };

/**
 * The admin URL of an engine, or the reason its suites are skipped. Throws when the stack is
 * required (AUTHMESH_REQUIRE_STACK=1) but the URL is missing, so CI cannot pass by skipping.
 */
export function testDatabaseUrl(engine: Engine): { url: string; skip?: undefined } | { url?: undefined; skip: string } {
  const url = process.env[ENV[engine]];
  if (url) return { url };
  const reason = `${ENV[engine]} is not set (start the server with \`${SCRIPT[engine]} up\` and export ${ENV[engine]}=$(${SCRIPT[engine]} url))`;
  if (process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${reason}`);
  return { skip: reason };
}

export interface TestDatabases {
  /** Creates an empty database and returns its URL (same credentials as the admin URL). */
  create(): Promise<string>;
  /** Drops every database this instance created. */
  dropAll(): Promise<void>;
}

export function testDatabases(engine: Engine, adminUrl: string): TestDatabases {
  const created: string[] = [];
  const urlOf = (name: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    return u.toString();
  };
  return {
    async create() {
      // A name the user may create: the MariaDB grant covers authmesh%, PostgreSQL's CREATEDB all.
      const name = `authmesh_t_${randomBytes(6).toString('hex')}`;
      await admin(engine, adminUrl, engine === 'postgres' ? `CREATE DATABASE ${name}` : `CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin`);
      created.push(name);
      return urlOf(name);
    },
    async dropAll() {
      for (const name of created.splice(0)) {
        const sql = engine === 'postgres' ? `DROP DATABASE IF EXISTS ${name} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${name}`;
        // WITH (FORCE) must terminate every session in the database, and an autovacuum worker that
        // just started in it is one the test role may not signal (42501): it ends within moments.
        for (let attempt = 1; ; attempt++) {
          try {
            await admin(engine, adminUrl, sql);
            break;
          } catch (err) {
            if (engine !== 'postgres' || (err as { code?: string }).code !== '42501' || attempt >= 20) throw err;
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
        }
      }
    },
  };
}

async function admin(engine: Engine, url: string, sql: string): Promise<void> {
  if (engine === 'postgres') {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
    return;
  }
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 5_000 });
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

/**
 * Races `n` rotations of one refresh token. Each rotation is one statement or a transaction, which
 * holds a pool connection of its own, so with a pool of at least `n` they really run on `n`
 * sessions at once.
 */
export async function raceRotations(store: Store, n: number): Promise<Array<'rotated' | 'reused' | 'refused' | 'not_found'>> {
  const clientId = `race-${randomUUID()}`;
  await store.clients.create({
    clientId,
    name: 'race',
    clientType: 'public',
    redirectUris: [],
    grantTypes: ['refresh_token'],
    scopes: [],
    tokenEndpointAuthMethod: 'none',
    skipConsent: false,
    audience: [],
    metadata: {},
  });
  const now = new Date();
  const token = (familyId: string): RefreshToken => ({
    tokenHash: randomUUID(),
    familyId,
    clientId,
    scope: ['openid'],
    audience: [],
    createdAt: now,
    expiresAt: new Date(now.getTime() + 60_000),
  });
  const old = await store.refreshTokens.create(token(randomUUID()));
  const results = await Promise.all(
    Array.from({ length: n }, () => store.refreshTokens.rotate(old.tokenHash, { clientId, nextHash: randomUUID() }, new Date())),
  );
  return results.map((r) => r.outcome);
}
