import type { PGlite, Transaction } from '@electric-sql/pglite';
import { TemporarilyUnavailable } from '../errors/index.js';
import type { SqlClient, SqlExecutor, SqlResult } from './sql-client.js';

// PGlite's query/exec/transaction are pg's shape already; this only normalises results and
// turns use after close into the error a lost connection gives.

type PgliteLike = Pick<PGlite, 'query' | 'exec' | 'closed'> | Transaction;

export function createPgliteSqlClient(pg: PGlite): SqlClient {
  return {
    ...executor(pg),
    transaction: (fn) => {
      ensureOpen(pg);
      return pg.transaction((tx) => fn(executor(tx)));
    },
    close: async () => {
      if (!pg.closed) await pg.close();
    },
  };
}

function executor(pg: PgliteLike): SqlExecutor {
  return {
    async query(sql, params) {
      ensureOpen(pg);
      const result = await pg.query<Record<string, unknown>>(sql, params === undefined ? undefined : [...params]);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length } satisfies SqlResult;
    },
    async exec(script) {
      ensureOpen(pg);
      await pg.exec(script);
    },
  };
}

function ensureOpen(pg: PgliteLike): void {
  if (pg.closed) throw new TemporarilyUnavailable('the database is closed');
}
