import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { lockDataDir, prepareDataDir } from '../config/data-dir.js';
import type { Config } from '../config/index.js';
import { redactDatabaseUrl } from '../config/index.js';
import { StartupError, errnoOf } from '../config/startup-error.js';
import type { Logger } from '../log/index.js';
import { createPgliteStore } from './pglite-store.js';
import type { Store } from './store.js';

/**
 * The store AUTHMESH_STORE selects: embedded PGlite in `<dataDir>/pglite` (the data directory and
 * its parents are created, mode 0700, and claimed by this process until close: see lockDataDir),
 * PostgreSQL, or MariaDB/MySQL; migrated on open.
 *
 * @throws StartupError naming the path or the server (password redacted), the reason and the
 *   variable to set: exit status 2 for an unusable data directory or a database that refused the
 *   URL's credentials or database name, 1 for a database that did not answer.
 */
export async function createStoreFromConfig(config: Pick<Config, 'store' | 'databaseUrl' | 'dataDir'>, log?: Logger): Promise<Store> {
  if (config.store === 'embedded') {
    const dataDir = prepareDataDir(config.dataDir);
    const release = lockDataDir(dataDir);
    const dir = join(dataDir, 'pglite');
    try {
      mkdirSync(dir, { mode: 0o700, recursive: true });
      const store = await createPgliteStore({ dataDir: dir });
      return {
        ...store,
        async close() {
          await store.close();
          release();
        },
      };
    } catch (err) {
      release();
      throw new StartupError({
        failed: `cannot open the embedded database in ${dir}`,
        cause: err,
        fix:
          errnoOf(err) === undefined
            ? `if another authmesh process uses this data directory stop it (one process per data directory); otherwise restore ${dir} from a backup, or set AUTHMESH_DATA_DIR to a new directory`
            : 'make it writable by this user, or set AUTHMESH_DATA_DIR to another directory',
        exitCode: 2,
      });
    }
  }
  const url = config.databaseUrl;
  // loadConfig guarantees it; a hand-built Config might not.
  if (url === undefined) throw new Error(`AUTHMESH_DATABASE_URL is required with AUTHMESH_STORE=${config.store}`);
  log?.info({ store: config.store, database: redactDatabaseUrl(url) }, 'opening the store');
  try {
    if (config.store === 'postgres') {
      const { createPostgresStore } = await import('./pg-store.js');
      return await createPostgresStore({
        url,
        onConnectionError: (err) => log?.warn({ errorMessage: err.message }, 'an idle database connection was lost; it is replaced on demand'),
      });
    }
    const { createMysqlStore } = await import('./mysql-store.js');
    return await createMysqlStore({ url });
  } catch (err) {
    const failed = `cannot open the ${config.store === 'postgres' ? 'PostgreSQL' : 'MariaDB/MySQL'} database ${redactDatabaseUrl(url)}`;
    const refused = refusalOf(err);
    if (refused !== undefined) {
      // The server answered and said no: the URL's user, password or database is wrong.
      throw new StartupError({ failed, cause: err, reason: `${refused.words} (${refused.code})`, fix: `correct the ${refused.part} in AUTHMESH_DATABASE_URL`, exitCode: 2 });
    }
    throw new StartupError({
      failed,
      cause: err,
      fix: 'check that the server is up and reachable from here, and that AUTHMESH_DATABASE_URL names the right host and port',
      exitCode: 1,
    });
  }
}

// What the server says when it refuses the URL's credentials or database. The drivers' own
// messages are not kept by the dialects (they can name users and values), only these codes.
const REFUSALS: Record<string, { words: string; part: string }> = {
  '28P01': { words: 'the server refused the user name or password', part: 'user name or password' },
  '28000': { words: 'the server refused this user from this host', part: 'user name (or the server must allow it from here)' },
  '3D000': { words: 'the database does not exist', part: 'database name (or create the database)' },
  ER_ACCESS_DENIED_ERROR: { words: 'the server refused the user name or password', part: 'user name or password' },
  ER_DBACCESS_DENIED_ERROR: { words: 'the user may not use this database', part: 'user or database name (or grant the user access)' },
  ER_BAD_DB_ERROR: { words: 'the database does not exist', part: 'database name (or create the database)' },
};

function refusalOf(err: unknown): ({ code: string } & (typeof REFUSALS)[string]) | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    const found = [typeof code === 'string' ? code : '', ...(/(?:postgres|mysql) error (\w+)/.exec(e.message)?.slice(1) ?? [])].find((c) => c in REFUSALS);
    if (found !== undefined) return { code: found, ...REFUSALS[found]! };
  }
  return undefined;
}
