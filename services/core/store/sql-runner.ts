import { AuthmeshError, ServerError } from '../errors/index.js';
import type { SqlClient, SqlExecutor, SqlRow } from './sql-client.js';
import type { SqlDialect } from './sql-dialect.js';

export type SqlArgs = Record<string, unknown>;

/** Named-parameter access for the repositories; every failure leaves it as a domain error. */
export interface SqlRunner {
  readonly dialect: SqlDialect;
  rows(sql: string, args?: SqlArgs): Promise<SqlRow[]>;
  first(sql: string, args?: SqlArgs): Promise<SqlRow | undefined>;
  /** Rows changed by an INSERT/UPDATE/DELETE. */
  affected(sql: string, args?: SqlArgs): Promise<number>;
  /** A parameterless multi-statement script (migrations). */
  exec(script: string): Promise<void>;
  /** Joins the enclosing transaction when already inside one. */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
}

export function createSqlRunner(client: SqlClient, dialect: SqlDialect): SqlRunner {
  const joinEnclosing = <T>(fn: (tx: SqlRunner) => Promise<T>, self: SqlRunner) => fn(self);
  return bind(client, dialect, (fn) =>
    guard(dialect, () => client.transaction((tx) => fn(bind(tx, dialect, joinEnclosing)))),
  );
}

function bind(
  executor: SqlExecutor,
  dialect: SqlDialect,
  transaction: <T>(fn: (tx: SqlRunner) => Promise<T>, self: SqlRunner) => Promise<T>,
): SqlRunner {
  const run = async (sql: string, args: SqlArgs) => {
    const { text, names } = dialect.compile(sql);
    const params = names.map((name) => {
      if (!(name in args)) throw new ServerError(undefined, { cause: new Error(`statement argument ${name} missing`) });
      return toParam(dialect, args[name]);
    });
    return guard(dialect, () => executor.query(text, params));
  };
  const runner: SqlRunner = {
    dialect,
    rows: async (sql, args = {}) => (await run(sql, args)).rows,
    first: async (sql, args = {}) => (await run(sql, args)).rows[0],
    affected: async (sql, args = {}) => (await run(sql, args)).rowCount,
    exec: (script) => guard(dialect, () => executor.exec(script)),
    transaction: (fn) => transaction(fn, runner),
  };
  return runner;
}

function toParam(dialect: SqlDialect, value: unknown): unknown {
  if (value === undefined) return null;
  if (Array.isArray(value)) return dialect.encodeArray(value as string[]);
  return value;
}

async function guard<T>(dialect: SqlDialect, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof AuthmeshError ? err : dialect.mapError(err);
  }
}
