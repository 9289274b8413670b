import {
  AlreadyExists,
  AuthmeshError,
  InvalidRequest,
  NotFound,
  ServerError,
  TemporarilyUnavailable,
} from '../errors/index.js';
import type { CompiledStatement, SqlDialect } from './sql-dialect.js';
import { postgresStatements } from './postgres-statements.js';

// What a caller may be told about each constraint of db/postgres; names are fixed there.
const UNIQUE_VIOLATIONS: Record<string, string> = {
  clients_pkey: 'a client with this client_id already exists',
  users_pkey: 'a user with this user_id already exists',
  users_username_key: 'a user with this username already exists',
  services_pkey: 'a service with this service_id already exists',
  services_audience_key: 'a service with this audience already exists',
  signing_keys_pkey: 'a signing key with this kid already exists',
  refresh_tokens_pkey: 'this refresh token already exists',
  consents_pkey: 'this consent already exists',
};

const MISSING_REFERENCES: Record<string, string> = {
  refresh_tokens_client_id_fkey: 'client not found',
  refresh_tokens_user_id_fkey: 'user not found',
  consents_client_id_fkey: 'client not found',
  consents_user_id_fkey: 'user not found',
};

// Node socket errors (pg); PGlite never raises these.
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * Maps a PostgreSQL driver error (pg or PGlite: both carry SQLSTATE in `code`) to the domain
 * vocabulary. The driver error is not kept as the cause: it carries the SQL text and the
 * parameters (hashes among them), and causes end up in logs. A summary without values replaces it.
 */
export function mapPostgresError(err: unknown): AuthmeshError {
  if (err instanceof AuthmeshError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; constraint?: unknown; table?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const constraint = typeof e.constraint === 'string' ? e.constraint : '';
  const summary = new Error(`postgres error ${code || 'without sqlstate'}${constraint ? ` on ${constraint}` : ''}`);
  const options = { cause: summary };

  if (code === '23505') return new AlreadyExists(UNIQUE_VIOLATIONS[constraint] ?? 'already exists', options);
  if (code === '23503') return new NotFound(MISSING_REFERENCES[constraint] ?? 'a referenced record does not exist', options);
  if (code === '23502' || code === '23514' || code.startsWith('22')) return new InvalidRequest('invalid field value', options);
  if (
    NETWORK_ERRORS.has(code) ||
    code.startsWith('08') || // connection exception
    code.startsWith('53') || // insufficient resources
    code.startsWith('57P') || // server shutting down or starting
    code === '57014' || // statement timeout
    code === '40001' || // serialization failure: retrying succeeds
    code === '40P01' // deadlock victim: likewise
  ) {
    return new TemporarilyUnavailable('the database is temporarily unavailable', options);
  }
  return new ServerError(undefined, options);
}

// `:name` but not the second colon of a `::type` cast.
const PLACEHOLDER = /(?<![:\w]):([A-Za-z_]\w*)/g;

export function createPostgresDialect(): SqlDialect {
  const cache = new Map<string, CompiledStatement>();
  return {
    name: 'postgres',
    statements: postgresStatements,
    compile(sql) {
      let compiled = cache.get(sql);
      if (compiled === undefined) {
        const names: string[] = [];
        // A repeated name reuses its $n, which also gives it one inferred type.
        const text = sql.replace(PLACEHOLDER, (_m, name: string) => {
          let index = names.indexOf(name);
          if (index < 0) index = names.push(name) - 1;
          return `$${index + 1}`;
        });
        compiled = { text, names };
        cache.set(sql, compiled);
      }
      return compiled;
    },
    encodeArray: (values) => [...values],
    mapError: mapPostgresError,
  };
}
