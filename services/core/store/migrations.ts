import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ServerError, TemporarilyUnavailable } from '../errors/index.js';
import { createPostgresDialect } from './postgres-dialect.js';
import { repoRoot } from '../rpc/paths.js';
import type { SqlClient } from './sql-client.js';
import type { SqlDialect } from './sql-dialect.js';
import { createSqlRunner, type SqlRunner } from './sql-runner.js';

/** db/postgres of this checkout, the migrations of pg and PGlite (the same whether run from source or dist/). */
export const POSTGRES_MIGRATIONS_DIR = join(repoRoot, 'db', 'postgres');

/** db/mysql of this checkout, the migrations of the MariaDB/MySQL store. */
export const MYSQL_MIGRATIONS_DIR = join(repoRoot, 'db', 'mysql');

const MIGRATION_FILE = /^(\d{4})_[a-z0-9_]+\.sql$/;

/**
 * Applies the migrations of `dir` not yet recorded in schema_migrations, in file-name order,
 * each in its own transaction together with its record, so a failed migration leaves neither
 * half a schema nor a record. A lock taken inside every transaction lets several processes start
 * at once: the second waits, then sees the version recorded and skips it. (Engines whose DDL
 * commits implicitly, MariaDB, cannot undo a failed migration: theirs are written to be re-run.)
 * @returns the versions applied by this call
 */
export async function runMigrations(
  sql: SqlClient,
  dir: string = POSTGRES_MIGRATIONS_DIR,
  dialect: SqlDialect = createPostgresDialect(),
): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const db = createSqlRunner(sql, dialect);
  const q = dialect.statements.migrations;

  // A session lock (MariaDB's GET_LOCK) is released only after COMMIT: released inside the
  // transaction, it let a second process read schema_migrations before the first's record was
  // committed, re-run the migration and fail on the record's primary key. A transaction-scoped
  // lock (Postgres) ends with the transaction and has no unlock statement.
  const locked = async <T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> => {
    try {
      return await db.transaction(async (tx) => {
        const lock = await tx.first(q.lock);
        if (lock !== undefined && 'locked' in lock && Number(lock.locked) !== 1) {
          throw new TemporarilyUnavailable('another process holds the migration lock');
        }
        return fn(tx);
      });
    } finally {
      if (q.unlock !== undefined) await db.first(q.unlock).catch(() => undefined);
    }
  };

  await locked((tx) => tx.exec(q.createTable));

  const applied: string[] = [];
  for (const { version, script } of migrations) {
    const ran = await locked(async (tx) => {
      const done = new Set((await tx.rows(q.applied)).map((r) => String(r.version)));
      if (done.has(version)) return false;
      await tx.exec(script);
      await tx.affected(q.record, { version, appliedAt: new Date() });
      return true;
    });
    if (ran) applied.push(version);
  }
  return applied;
}

async function readMigrations(dir: string): Promise<Array<{ version: string; script: string }>> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  } catch (err) {
    throw new ServerError('migrations directory unreadable', { cause: err });
  }
  const seen = new Set<string>();
  const migrations = [];
  for (const name of names) {
    const number = MIGRATION_FILE.exec(name)?.[1];
    // Two files with one number would apply in an order that depends on their descriptions.
    if (number === undefined || seen.has(number)) {
      throw new ServerError('invalid migration file name', { cause: new Error(`bad or duplicate migration ${name}`) });
    }
    seen.add(number);
    migrations.push({ version: name.slice(0, -'.sql'.length), script: await readFile(join(dir, name), 'utf8') });
  }
  return migrations;
}
