import mysql from 'mysql2/promise';
import { InvalidRequest } from '../errors/index.js';
import { MYSQL_MIGRATIONS_DIR, runMigrations } from './migrations.js';
import { createMysqlDialect, mapMysqlError } from './mysql-dialect.js';
import { createMysqlConnectionSqlClient, createMysqlPoolSqlClient } from './mysql-sql-client.js';
import { createSqlStore } from './sql-store.js';
import type { Store } from './store.js';

export interface MysqlStoreOptions {
  /** mysql://user:password@host:port/database (mariadb:// is accepted too) */
  url: string;
  /** Connections at most (default 10). */
  poolSize?: number;
  /** A statement running longer is aborted by the server and the call fails as unavailable. */
  statementTimeoutMs?: number;
  /** Defaults to db/mysql. */
  migrationsDir?: string;
}

/** The MariaDB (MySQL-protocol) store on mysql2, migrated on open. */
export async function createMysqlStore(options: MysqlStoreOptions): Promise<Store> {
  const statementTimeoutSeconds = (options.statementTimeoutMs ?? 15_000) / 1000;
  const base = {
    ...connectionOptions(options.url),
    // A server that is down must fail a call quickly, not hold it until the client's deadline.
    connectTimeout: 2_000,
    // Dates are written and read as UTC, whatever the process's or server's time zone.
    timezone: 'Z',
    // Column collations (utf8mb4_nopad_bin) win over the connection's in comparisons.
    charset: 'UTF8MB4_BIN',
    supportBigNumbers: true,
    bigNumberStrings: true,
    // Parameters are JSON-encoded by the store; an object that slips through stays a string.
    stringifyObjects: true,
    enableKeepAlive: true,
  } satisfies mysql.ConnectionOptions;
  // Every session gets the semantics the statements are written for (db/mysql, mysql-statements.ts):
  // UTC, strict values, left-to-right SET assignments, and a server-side statement time limit.
  const session = `SET time_zone = '+00:00',
    sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION',
    max_statement_time = ${statementTimeoutSeconds}`;

  // Migrations run on a connection of their own: only it may send multi-statement scripts.
  let migrator;
  try {
    migrator = await mysql.createConnection({ ...base, multipleStatements: true });
    await migrator.query(session);
  } catch (err) {
    await migrator?.end().catch(() => undefined);
    throw mapMysqlError(err);
  }
  try {
    await runMigrations(createMysqlConnectionSqlClient(migrator), options.migrationsDir ?? MYSQL_MIGRATIONS_DIR, createMysqlDialect());
  } finally {
    await migrator.end().catch(() => undefined);
  }

  const pool = mysql.createPool({
    ...base,
    connectionLimit: options.poolSize ?? 10,
    maxIdle: options.poolSize ?? 10,
    idleTimeout: 30_000,
    waitForConnections: true,
    queueLimit: 0,
  });
  // Runs before the new connection serves its first statement (commands queue in order).
  pool.pool.on('connection', (conn) => {
    conn.query(session, () => undefined);
  });
  return createSqlStore(createMysqlPoolSqlClient(pool), createMysqlDialect());
}

function connectionOptions(url: string): mysql.ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidRequest('the MySQL URL is not a URL');
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new InvalidRequest('the MySQL URL must start with mysql:// or mariadb://');
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (database === '') throw new InvalidRequest('the MySQL URL names no database');
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? 3306 : Number(u.port),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database,
  };
}
