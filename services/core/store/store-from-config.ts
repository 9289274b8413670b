import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { redactDatabaseUrl } from '../config/index.js';
import type { Logger } from '../log/index.js';
import { createPgliteStore } from './pglite-store.js';
import type { Store } from './store.js';

/** The store AUTHMESH_STORE selects: embedded PGlite in dataDir, PostgreSQL, or MariaDB/MySQL. */
export async function createStoreFromConfig(config: Pick<Config, 'store' | 'databaseUrl' | 'dataDir'>, log?: Logger): Promise<Store> {
  if (config.store === 'embedded') return createPgliteStore({ dataDir: join(config.dataDir, 'pglite') });
  const url = config.databaseUrl;
  // loadConfig guarantees it; a hand-built Config might not.
  if (url === undefined) throw new Error(`AUTHMESH_DATABASE_URL is required with AUTHMESH_STORE=${config.store}`);
  log?.info({ store: config.store, database: redactDatabaseUrl(url) }, 'opening the store');
  if (config.store === 'postgres') {
    const { createPostgresStore } = await import('./pg-store.js');
    return createPostgresStore({
      url,
      onConnectionError: (err) => log?.warn({ errorMessage: err.message }, 'an idle database connection was lost; it is replaced on demand'),
    });
  }
  const { createMysqlStore } = await import('./mysql-store.js');
  return createMysqlStore({ url });
}
