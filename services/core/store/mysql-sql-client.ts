import type { Connection, Pool, ResultSetHeader } from 'mysql2/promise';
import { TemporarilyUnavailable } from '../errors/index.js';
import type { SqlClient, SqlExecutor, SqlResult } from './sql-client.js';

type Queryable = Pick<Connection, 'query'>;

/** A SqlClient over a mysql2 pool: each statement on any free connection, a transaction on one. */
export function createMysqlPoolSqlClient(pool: Pool): SqlClient {
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw new TemporarilyUnavailable('the database is closed');
  };
  return {
    ...executor(pool, ensureOpen),
    async transaction(fn) {
      ensureOpen();
      const conn = await pool.getConnection();
      let broken = false;
      try {
        return await inTransaction(conn, fn);
      } catch (err) {
        broken = isFatal(err);
        throw err;
      } finally {
        // A connection that failed mid-transaction may be half-open: never hand it out again.
        if (broken) conn.destroy();
        else conn.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** A SqlClient on one connection (migrations: multi-statement scripts and a session lock). */
export function createMysqlConnectionSqlClient(conn: Connection): SqlClient {
  return {
    ...executor(conn),
    transaction: (fn) => inTransaction(conn, fn),
    close: () => conn.end(),
  };
}

async function inTransaction<T>(conn: Queryable, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
  await conn.query('START TRANSACTION');
  let result: T;
  try {
    result = await fn(executor(conn));
  } catch (err) {
    // The original error matters; a failed rollback on a lost connection adds nothing.
    await conn.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  await conn.query('COMMIT');
  return result;
}

function executor(target: Queryable, ensureOpen: () => void = () => undefined): SqlExecutor {
  return {
    async query(sql, params) {
      ensureOpen();
      const [result] = await target.query(sql, params === undefined ? [] : params.map(toParam));
      if (Array.isArray(result)) return { rows: result as SqlResult['rows'], rowCount: result.length };
      // FOUND_ROWS (a mysql2 default flag) makes affectedRows count matched rows, as pg does.
      return { rows: [], rowCount: (result as ResultSetHeader).affectedRows };
    },
    async exec(script) {
      ensureOpen();
      await target.query(script);
    },
  };
}

// The repositories send JSON already encoded; a stray object must not become `key = value` SQL.
function toParam(value: unknown): unknown {
  if (value === null || value instanceof Date || typeof value !== 'object') return value;
  return JSON.stringify(value);
}

function isFatal(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { fatal?: unknown }).fatal === true;
}
