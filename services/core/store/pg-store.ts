import pg from 'pg';
import { POSTGRES_MIGRATIONS_DIR, runMigrations } from './migrations.js';
import { createPgSqlClient } from './pg-sql-client.js';
import { createPostgresDialect } from './postgres-dialect.js';
import { createSqlStore } from './sql-store.js';
import type { Store } from './store.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database[?sslmode=…] */
  url: string;
  /** Connections at most (default 10). */
  poolSize?: number;
  /** A statement running longer is cancelled by the server and the call fails as unavailable. */
  statementTimeoutMs?: number;
  /** Defaults to db/postgres. */
  migrationsDir?: string;
  /** Told about connections lost while idle (a restarted server); they are replaced on demand. */
  onConnectionError?: (err: Error) => void;
}

/** The PostgreSQL store on pg, migrated on open. */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const statementTimeout = options.statementTimeoutMs ?? 15_000;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    // A server that is down must fail a call quickly, not hold it until the client's deadline.
    connectionTimeoutMillis: 2_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    statement_timeout: statementTimeout,
    // A transaction left open by a stuck caller would hold row locks (refresh rotation) forever.
    idle_in_transaction_session_timeout: statementTimeout * 2,
    application_name: 'authmesh',
  });
  const onConnectionError = options.onConnectionError ?? (() => undefined);
  // Idle connections that the server drops (restart, admin shutdown) surface here; unhandled,
  // the event would crash the process. The pool discards them and connects anew on demand.
  pool.on('error', onConnectionError);

  const client = createPgSqlClient(pool, onConnectionError);
  try {
    await runMigrations(client, options.migrationsDir ?? POSTGRES_MIGRATIONS_DIR, createPostgresDialect());
  } catch (err) {
    await client.close();
    throw err;
  }
  return createSqlStore(client, createPostgresDialect());
}
