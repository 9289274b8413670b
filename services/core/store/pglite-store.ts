import { TemporarilyUnavailable } from '../errors/index.js';
import { POSTGRES_MIGRATIONS_DIR, runMigrations } from './migrations.js';
import { openPglite } from './pglite-cluster.js';
import { createPgliteSqlClient } from './pglite-sql-client.js';
import { createPgliteWorkerClient } from './pglite-worker-client.js';
import { createPostgresDialect } from './postgres-dialect.js';
import { createSqlStore } from './sql-store.js';
import type { SqlClient } from './sql-client.js';
import type { Store } from './store.js';

export interface PgliteStoreOptions {
  /**
   * A directory that keeps the data across restarts; in memory when undefined. One process at a
   * time: PGlite is an embedded single-user database.
   */
  dataDir?: string;
  /** Defaults to db/postgres. */
  migrationsDir?: string;
  /**
   * Where PGlite runs: 'worker' (a worker_thread, pglite-worker-client.ts) keeps its synchronous
   * WASM work off the event loop; 'main' runs it in this thread. Defaults to 'worker'.
   */
  thread?: 'worker' | 'main';
}

/**
 * The embedded store: PostgreSQL in WASM (openPglite), migrated on open.
 *
 * @throws TemporarilyUnavailable naming the directory when the database cannot be made or opened.
 */
export async function createPgliteStore(options: PgliteStoreOptions = {}): Promise<Store> {
  let client: SqlClient;
  try {
    client = options.thread === 'main' ? createPgliteSqlClient(await openPglite(options.dataDir)) : await createPgliteWorkerClient({ dataDir: options.dataDir });
  } catch (err) {
    // The path and the cause travel with it: start-up reports both (services/main.ts).
    throw new TemporarilyUnavailable(`the embedded database${options.dataDir === undefined ? '' : ` in ${options.dataDir}`} could not be opened`, { cause: err });
  }
  try {
    await runMigrations(client, options.migrationsDir ?? POSTGRES_MIGRATIONS_DIR);
  } catch (err) {
    await client.close();
    throw err;
  }
  return createSqlStore(client, createPostgresDialect());
}
