import {
  AlreadyExists,
  AuthmeshError,
  InvalidRequest,
  NotFound,
  ServerError,
  TemporarilyUnavailable,
} from '../errors/index.js';
import { mysqlStatements } from './mysql-statements.js';
import type { CompiledStatement, SqlDialect } from './sql-dialect.js';

// What a caller may be told about each unique key of db/mysql. MariaDB names every primary key
// PRIMARY, so those are keyed by table (taken from the failing INSERT/UPDATE).
const UNIQUE_VIOLATIONS: Record<string, string> = {
  'clients.PRIMARY': 'a client with this client_id already exists',
  'users.PRIMARY': 'a user with this user_id already exists',
  users_username_key: 'a user with this username already exists',
  'services.PRIMARY': 'a service with this service_id already exists',
  services_audience_key: 'a service with this audience already exists',
  'signing_keys.PRIMARY': 'a signing key with this kid already exists',
  'refresh_tokens.PRIMARY': 'this refresh token already exists',
  'consents.PRIMARY': 'this consent already exists',
};

const MISSING_REFERENCES: Record<string, string> = {
  refresh_tokens_client_id_fkey: 'client not found',
  refresh_tokens_user_id_fkey: 'user not found',
  consents_client_id_fkey: 'client not found',
  consents_user_id_fkey: 'user not found',
};

// Bad values in strict mode: too long, NULL into NOT NULL, CHECK failed, wrong type or range.
const INVALID_VALUE = new Set([1048, 1264, 1292, 1366, 1406, 3140, 4025]);

// The server is going away, busy, or this session lost its work: retrying later succeeds.
const UNAVAILABLE = new Set([
  1040, // too many connections
  1053, // server shutdown in progress
  1205, // lock wait timeout
  1213, // deadlock victim
  1927, // connection killed
  1969, // max_statement_time exceeded
  2002, // cannot connect through socket
  2003, // cannot connect to server
  2006, // server has gone away
  2013, // lost connection during query
]);

// mysql2's codes for socket and protocol failures (errno is then absent or a Node errno).
const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'POOL_CLOSED',
]);

interface MysqlErrorShape {
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  sqlMessage?: unknown;
  sql?: unknown;
}

/**
 * Maps a mysql2 error to the domain vocabulary. Like the PostgreSQL mapping it drops the driver
 * error, which carries the SQL and the offending values (hashes among them), for a summary.
 */
export function mapMysqlError(err: unknown): AuthmeshError {
  if (err instanceof AuthmeshError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as MysqlErrorShape;
  const code = typeof e.code === 'string' ? e.code : '';
  const errno = typeof e.errno === 'number' ? e.errno : 0;
  const message = typeof e.sqlMessage === 'string' ? e.sqlMessage : '';
  const summary = new Error(`mysql error ${code || 'without code'}${errno ? ` (${errno})` : ''}`);
  const options = { cause: summary };

  if (errno === 1062) {
    // "Duplicate entry '<value>' for key '<name>'": only the key name is kept.
    const key = /for key '([^']+)'$/.exec(message)?.[1] ?? '';
    const qualified = key === 'PRIMARY' ? `${targetTable(e.sql)}.PRIMARY` : key.replace(/^\w+\./, '');
    summary.message += ` on ${qualified}`;
    return new AlreadyExists(UNIQUE_VIOLATIONS[qualified] ?? 'already exists', options);
  }
  if (errno === 1452) {
    const constraint = /CONSTRAINT `([^`]+)`/.exec(message)?.[1] ?? '';
    summary.message += ` on ${constraint}`;
    return new NotFound(MISSING_REFERENCES[constraint] ?? 'a referenced record does not exist', options);
  }
  if (INVALID_VALUE.has(errno)) return new InvalidRequest('invalid field value', options);
  if (UNAVAILABLE.has(errno) || NETWORK_ERRORS.has(code) || e.fatal === true) {
    return new TemporarilyUnavailable('the database is temporarily unavailable', options);
  }
  return new ServerError(undefined, options);
}

function targetTable(sql: unknown): string {
  if (typeof sql !== 'string') return '';
  return /^\s*(?:INSERT\s+INTO|UPDATE)\s+`?(\w+)/i.exec(sql)?.[1] ?? '';
}

// `:name` outside quotes; the statements never put a colon inside a string literal.
const PLACEHOLDER = /(?<![:\w]):([A-Za-z_]\w*)/g;

export function createMysqlDialect(): SqlDialect {
  const cache = new Map<string, CompiledStatement>();
  return {
    name: 'mysql',
    statements: mysqlStatements,
    compile(sql) {
      let compiled = cache.get(sql);
      if (compiled === undefined) {
        const names: string[] = [];
        // `?` is positional only, so a repeated name is bound once per occurrence.
        const text = sql.replace(PLACEHOLDER, (_m, name: string) => {
          names.push(name);
          return '?';
        });
        compiled = { text, names };
        cache.set(sql, compiled);
      }
      return compiled;
    },
    // JSON columns: MariaDB has no arrays.
    encodeArray: (values) => JSON.stringify(values),
    mapError: mapMysqlError,
  };
}
