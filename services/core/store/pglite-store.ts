import { PGlite } from '@electric-sql/pglite';
import { TemporarilyUnavailable } from '../errors/index.js';
import { POSTGRES_MIGRATIONS_DIR, runMigrations } from './migrations.js';
import { createPgliteSqlClient } from './pglite-sql-client.js';
import { createPostgresDialect } from './postgres-dialect.js';
import { createSqlStore } from './sql-store.js';
import type { Store } from './store.js';

export interface PgliteStoreOptions {
  /**
   * A directory that keeps the data across restarts; in memory when undefined. One process at a
   * time: PGlite is an embedded single-user database.
   */
  dataDir?: string;
  /** Defaults to db/postgres. */
  migrationsDir?: string;
}

/** The embedded store: PostgreSQL in WASM, migrated on open. */
export async function createPgliteStore(options: PgliteStoreOptions = {}): Promise<Store> {
  let pg: PGlite;
  try {
    pg = await PGlite.create(options.dataDir === undefined ? {} : { dataDir: options.dataDir });
  } catch (err) {
    // The path and the cause travel with it: start-up reports both (services/main.ts).
    throw new TemporarilyUnavailable(`the embedded database${options.dataDir === undefined ? '' : ` in ${options.dataDir}`} could not be opened`, { cause: err });
  }
  const client = createPgliteSqlClient(pg);
  try {
    await runMigrations(client, options.migrationsDir ?? POSTGRES_MIGRATIONS_DIR);
  } catch (err) {
    await client.close();
    throw err;
  }
  return createSqlStore(client, createPostgresDialect());
}
