import type { Pool, PoolClient, QueryResult } from 'pg';
import { AuthmeshError, TemporarilyUnavailable } from '../errors/index.js';
import type { SqlClient, SqlExecutor, SqlResult } from './sql-client.js';

type Queryable = Pick<PoolClient, 'query'>;

/**
 * A SqlClient over a pg pool: each statement on any free connection, a transaction as BEGIN …
 * COMMIT on one. Losing the server shows as TemporarilyUnavailable, and the pool reconnects on
 * the next call, so a restarted database needs no restarted service.
 */
export function createPgSqlClient(pool: Pool, onConnectionError: (err: Error) => void = () => undefined): SqlClient {
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw new TemporarilyUnavailable('the database is closed');
  };
  return {
    ...executor(pool, ensureOpen),
    async transaction(fn) {
      ensureOpen();
      const client = await unavailableOnLoss(() => pool.connect());
      // A connection that dies between two statements of this transaction reports it as an event;
      // without a listener that event would end the process.
      client.on('error', onConnectionError);
      let broken = false;
      try {
        await unavailableOnLoss(() => client.query('BEGIN'));
        const result = await fn(executor(client, ensureOpen));
        await unavailableOnLoss(() => client.query('COMMIT'));
        return result;
      } catch (err) {
        broken = isConnectionLoss(err);
        if (!broken) {
          await client.query('ROLLBACK').catch(() => {
            broken = true;
          });
        }
        throw err;
      } finally {
        client.off('error', onConnectionError);
        // release(true) destroys the connection instead of returning it half-open to the pool.
        client.release(broken);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

function executor(target: Queryable, ensureOpen: () => void): SqlExecutor {
  return {
    async query(sql, params) {
      ensureOpen();
      const result: QueryResult = await unavailableOnLoss(() => target.query(sql, params === undefined ? [] : [...params]));
      return { rows: result.rows, rowCount: result.rowCount ?? result.rows.length } satisfies SqlResult;
    },
    async exec(script) {
      ensureOpen();
      // No parameters: the simple query protocol, which runs a script of several statements.
      await unavailableOnLoss(() => target.query(script));
    },
  };
}

// Errors the server sent carry a SQLSTATE and a severity; the dialect maps those. What pg raises
// itself without one is about the connection: refused, reset, terminated, timed out, pool ended.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);
const CONNECTION_MESSAGES = /connection|terminated|timeout exceeded|not queryable|after calling end on the pool/i;

function isConnectionLoss(err: unknown): boolean {
  if (err instanceof TemporarilyUnavailable) return true;
  if (!(err instanceof Error) || err instanceof AuthmeshError) return false;
  const e = err as Error & { code?: unknown; severity?: unknown };
  if (typeof e.severity === 'string') {
    // Sent by a server that is shutting down or refusing sessions.
    return typeof e.code === 'string' && (e.code.startsWith('08') || e.code.startsWith('57P'));
  }
  return (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) || CONNECTION_MESSAGES.test(e.message);
}

async function unavailableOnLoss<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TemporarilyUnavailable || !isConnectionLoss(err)) throw err;
    // The driver error may name host and user; a summary without them is kept instead.
    const code = (err as { code?: unknown }).code;
    throw new TemporarilyUnavailable('the database is temporarily unavailable', {
      cause: new Error(`postgres connection lost${typeof code === 'string' ? ` (${code})` : ''}`),
    });
  }
}
