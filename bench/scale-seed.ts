// The large data set of `npm run bench:scale`: N users and M clients in authmesh's store, made in
// minutes, not hours, on the embedded store (a PGlite data directory that authmesh then opens)
// or on PostgreSQL (a database that authmesh then uses with AUTHMESH_STORE=postgres).
//
// How: the store's own SQL client (createPgliteSqlClient / createPgSqlClient) migrates the schema
// and the project's Store writes one template user and one template client (so every column is
// exactly what authmesh writes); then one multi-row INSERT … SELECT per batch of 50,000 copies the
// template inside the database with generate_series, varying only ids, names and secret hashes.
// The column lists are read from information_schema, so a migration that adds a column needs no
// change here. Nothing crosses the wire per row and no index is dropped or rebuilt.
//
// Passwords: every user shares the template's one scrypt hash. authmesh hashes user passwords
// with scrypt at OWASP settings (tens of ms per hash on purpose), so hashing a million passwords
// would take hours of CPU; the benchmark measures token and introspection rates, never logins,
// and a user row costs the same to store and look up whichever hash it holds. The seeded users
// all have the password `scale-template-password`: benchmark data, never a deployment's.
// Seeded client i has the secret `scale-secret-<i>`, stored as its SHA-256 hex like every client
// secret (high-entropy secrets need no slow KDF): one hash per client, computed by the database.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { hashToken } from '../services/core/oauth/secrets.js';
import { POSTGRES_MIGRATIONS_DIR, runMigrations } from '../services/core/store/migrations.js';
import { createPgSqlClient } from '../services/core/store/pg-sql-client.js';
import { createPgliteSqlClient } from '../services/core/store/pglite-sql-client.js';
import { createPostgresDialect } from '../services/core/store/postgres-dialect.js';
import type { SqlClient } from '../services/core/store/sql-client.js';
import { createSqlStore } from '../services/core/store/sql-store.js';
import { hashPassword } from '../services/user/password-hash.js';

export interface SeedCounts {
  users: number;
  clients: number;
}

/** Where to seed: an embedded data directory (AUTHMESH_DATA_DIR) or a PostgreSQL database URL. */
export type SeedTarget = { store: 'embedded'; dataDir: string } | { store: 'postgres'; url: string };

const BATCH = 50_000;
const TEMPLATE_USER = 'scale-template-user';
const TEMPLATE_CLIENT = 'scale-template-client';

/** The columns of `table` in order, from information_schema (so new migrations need no change). */
async function columnsOf(sql: SqlClient, table: string): Promise<string[]> {
  const { rows } = await sql.query(
    `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return rows.map((r) => String(r.column_name));
}

/**
 * INSERT INTO `table` SELECT … FROM the template row × generate_series($1, $2) AS i, with
 * `vary` giving the SQL expression of each column that differs per copy (the others are copied).
 */
async function copyTemplate(sql: SqlClient, table: string, keyColumn: string, templateKey: string, vary: Record<string, string>, from: number, to: number): Promise<void> {
  const columns = await columnsOf(sql, table);
  const exprs = columns.map((c) => vary[c] ?? c);
  await sql.query(
    `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${exprs.join(', ')} FROM ${table}, generate_series($1::int, $2::int) AS i WHERE ${keyColumn} = '${templateKey}'`,
    [from, to],
  );
}

async function openClient(target: SeedTarget): Promise<SqlClient> {
  if (target.store === 'embedded') {
    const dir = join(target.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return createPgliteSqlClient(await PGlite.create({ dataDir: dir }));
  }
  // One connection, no statement timeout: a batch of 50,000 rows may take longer than a request.
  return createPgSqlClient(new pg.Pool({ connectionString: target.url, max: 1, application_name: 'authmesh-bench-scale' }));
}

/** What the database says it holds: the counts of a finished seed, or undefined. */
async function seededCounts(target: SeedTarget, sql?: SqlClient): Promise<string | undefined> {
  if (target.store === 'embedded') {
    const marker = join(target.dataDir, 'seeded.json');
    return existsSync(marker) ? readFileSync(marker, 'utf8').trim() : undefined;
  }
  const { rows } = await sql!.query(`SELECT shobj_description(oid, 'pg_database') AS note FROM pg_database WHERE datname = current_database()`);
  const note = rows[0]?.note;
  return typeof note === 'string' && note.startsWith('authmesh bench:scale ') ? note.slice('authmesh bench:scale '.length) : undefined;
}

async function markSeeded(target: SeedTarget, sql: SqlClient, wanted: string): Promise<void> {
  if (target.store === 'embedded') {
    writeFileSync(join(target.dataDir, 'seeded.json'), `${wanted}\n`);
    return;
  }
  const { rows } = await sql.query('SELECT current_database() AS db');
  const db = String(rows[0]!.db).replaceAll('"', '""');
  await sql.exec(`COMMENT ON DATABASE "${db}" IS 'authmesh bench:scale ${wanted.replaceAll("'", "''")}'`);
}

/**
 * Seeds `counts` into `target`. Skips the work when it was already seeded with the same counts
 * (embedded: a `seeded.json` marker in the data directory; Postgres: the database's comment), so
 * a seeded set can be reused (BENCH_SCALE_DIR, BENCH_SCALE_DATABASE_URL); throws when it holds
 * other counts or an unfinished seed. `log` receives progress lines. Returns the seconds spent
 * (0 when reused).
 */
export async function seedScaleData(target: SeedTarget, counts: SeedCounts, log: (line: string) => void): Promise<number> {
  const wanted = JSON.stringify(counts);
  const where = target.store === 'embedded' ? target.dataDir : 'the database';
  if (target.store === 'embedded') {
    const had = await seededCounts(target);
    if (had !== undefined) {
      if (had !== wanted) throw new Error(`${where} holds a data set of ${had}, not ${wanted}: choose another BENCH_SCALE_DIR`);
      log(`reusing the data set in ${where}`);
      return 0;
    }
    if (existsSync(join(target.dataDir, 'pglite'))) throw new Error(`${where} has a store but no complete seed (interrupted?): remove it or choose another BENCH_SCALE_DIR`);
    mkdirSync(target.dataDir, { recursive: true, mode: 0o700 });
  }
  const t0 = performance.now();
  const elapsed = () => `${Math.round((performance.now() - t0) / 1000)} s`;
  const sql = await openClient(target);
  try {
    if (target.store === 'postgres') {
      const had = await seededCounts(target, sql);
      if (had !== undefined) {
        if (had !== wanted) throw new Error(`${where} holds a data set of ${had}, not ${wanted}: use another database`);
        log(`reusing the data set in ${where}`);
        return 0;
      }
      const { rows } = await sql.query(`SELECT to_regclass('users') IS NOT NULL AS has_users`);
      if (rows[0]?.has_users === true) {
        const n = await sql.query('SELECT count(*)::int AS n FROM users');
        if (Number(n.rows[0]!.n) > 0) throw new Error(`${where} already holds users but no complete seed: use an empty database`);
      }
    }
    await runMigrations(sql, POSTGRES_MIGRATIONS_DIR, createPostgresDialect());
    // The templates through the project's Store, over the same client.
    const store = createSqlStore(sql, createPostgresDialect());
    await store.users.create({
      userId: TEMPLATE_USER,
      username: TEMPLATE_USER,
      roles: [],
      passwordHash: await hashPassword('scale-template-password'),
      disabled: false,
    });
    await store.clients.create({
      clientId: TEMPLATE_CLIENT,
      name: 'scale template client',
      clientType: 'confidential',
      redirectUris: [],
      grantTypes: ['client_credentials'],
      scopes: ['api:read'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      secretHash: hashToken('scale-template-secret'),
      skipConsent: false,
      audience: [],
      metadata: {},
    });
    log(`templates written (${elapsed()})`);
    for (let from = 1; from <= counts.users; from += BATCH) {
      const to = Math.min(counts.users, from + BATCH - 1);
      await copyTemplate(sql, 'users', 'user_id', TEMPLATE_USER, { user_id: `'scale-user-' || i`, username: `'scale-user-' || i` }, from, to);
      log(`users ${to}/${counts.users} (${elapsed()})`);
    }
    for (let from = 1; from <= counts.clients; from += BATCH) {
      const to = Math.min(counts.clients, from + BATCH - 1);
      await copyTemplate(
        sql,
        'clients',
        'client_id',
        TEMPLATE_CLIENT,
        {
          client_id: `'scale-client-' || i`,
          name: `'scale client ' || i`,
          // The same SHA-256 hex as hashToken(`scale-secret-${i}`), computed by the database.
          secret_hash: `encode(sha256(convert_to('scale-secret-' || i, 'UTF8')), 'hex')`,
        },
        from,
        to,
      );
      log(`clients ${to}/${counts.clients} (${elapsed()})`);
    }
    await sql.exec('ANALYZE users; ANALYZE clients;');
    await markSeeded(target, sql, wanted);
  } finally {
    await sql.close();
  }
  return (performance.now() - t0) / 1000;
}
