import { PGlite } from '@electric-sql/pglite';
import { TemporarilyUnavailable } from '../errors/index.js';
import { POSTGRES_MIGRATIONS_DIR, runMigrations } from './migrations.js';
import { ensureCluster, freshClusterTarball, pgliteStartParams } from './pglite-cluster.js';
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

/**
 * Opens PGlite the way the embedded store runs it: the cluster is made by initdb in a child
 * process (for a fresh data directory, or once per process a template that in-memory databases
 * load), so this process only ever reopens one; Postgres runs with PGLITE_SETTINGS.
 *
 * @param dataDir a directory that is a cluster, empty, or absent; in memory when undefined.
 * @throws whatever PGlite or initdb threw (createPgliteStore wraps it).
 */
export async function openPglite(dataDir?: string): Promise<PGlite> {
  const startParams = pgliteStartParams();
  if (dataDir === undefined) return PGlite.create({ loadDataDir: await freshClusterTarball(), startParams });
  await ensureCluster(dataDir);
  return PGlite.create({ dataDir, startParams });
}

/**
 * The embedded store: PostgreSQL in WASM (openPglite), migrated on open.
 *
 * @throws TemporarilyUnavailable naming the directory when the database cannot be made or opened.
 */
export async function createPgliteStore(options: PgliteStoreOptions = {}): Promise<Store> {
  let pg: PGlite;
  try {
    pg = await openPglite(options.dataDir);
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
