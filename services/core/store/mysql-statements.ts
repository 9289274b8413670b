import { AUDIT_COLUMNS, CLIENT_COLUMNS, CONSENT_COLUMNS, PORTABLE_STATEMENTS as P, refreshTokenListings, REVOCATION_COLUMNS, SERVICE_COLUMNS, USER_COLUMNS } from './portable-statements.js';
import type { SqlStatements } from './sql-statements.js';

// MariaDB text of the statements (mysql2, db/mysql) that differ from PostgreSQL's; the rest is in
// portable-statements.ts. Differences that shape it: no UPDATE/INSERT ... RETURNING (a read-back
// statement follows in the same transaction), and a single-table UPDATE evaluates its SET list
// left to right, each assignment seeing the ones before it (the session never enables
// SIMULTANEOUS_ASSIGNMENT). Times are DATETIME(3) in UTC.

// A token is active while it has neither been exchanged nor revoked and has not expired.
const ACTIVE_TOKEN = 'revoked_at IS NULL AND rotated_at IS NULL AND expires_at > :now';
// Keyset paging, newest first.
const BEFORE_TOKEN_KEY = '(:afterCreatedAt IS NULL OR (created_at, token_hash) < (:afterCreatedAt, :afterHash))';

export const mysqlStatements: SqlStatements = {
  migrations: {
    ...P.migrations,
    createTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
      version VARCHAR(255) NOT NULL,
      applied_at DATETIME(3) NOT NULL,
      CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
    ) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin`,
    // Session-scoped, hence the explicit unlock; a crashed runner's session ends and frees it.
    lock: "SELECT GET_LOCK('authmesh_schema_migrations', 60) AS locked",
    unlock: "SELECT RELEASE_LOCK('authmesh_schema_migrations') AS released",
  },

  clients: {
    ...P.clients,
    list: `SELECT ${CLIENT_COLUMNS} FROM clients
      WHERE (:clientType IS NULL OR client_type = :clientType)
        AND (:after IS NULL OR client_id > :after)
      ORDER BY client_id LIMIT :limit`,
  },

  users: {
    ...P.users,
    // username_key is the stored lower(username) that carries the unique index.
    getByUsername: `SELECT ${USER_COLUMNS} FROM users WHERE username_key = lower(:username)`,
    list: `SELECT ${USER_COLUMNS} FROM users
      WHERE :after IS NULL OR user_id > :after
      ORDER BY user_id LIMIT :limit`,
    // One statement, so concurrent failures cannot lose a count. The count is assigned first from
    // the old lock (a failure after an expired lock begins a new count); the lock is assigned
    // second and sees the new count but still the old lock.
    recordLoginFailure: `UPDATE users SET
      failed_login_count = CASE
        WHEN locked_until IS NOT NULL AND locked_until <= :now THEN 1
        ELSE failed_login_count + 1 END,
      locked_until = CASE
        WHEN failed_login_count >= :threshold THEN :lockUntil
        WHEN locked_until IS NOT NULL AND locked_until <= :now THEN NULL
        ELSE locked_until END
      WHERE user_id = :userId`,
    readLoginFailures: 'SELECT failed_login_count, locked_until FROM users WHERE user_id = :userId',
  },

  services: {
    ...P.services,
    list: `SELECT ${SERVICE_COLUMNS} FROM services
      WHERE :after IS NULL OR service_id > :after
      ORDER BY service_id LIMIT :limit`,
  },

  keys: {
    ...P.keys,
    deleteExpired: 'DELETE FROM signing_keys WHERE delete_after IS NOT NULL AND delete_after <= :now',
  },

  refreshTokens: {
    ...P.refreshTokens,
    ...refreshTokenListings(ACTIVE_TOKEN, BEFORE_TOKEN_KEY),
    revoke: 'UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, :now) WHERE token_hash = :tokenHash',
    deleteExpired: 'DELETE FROM refresh_tokens WHERE expires_at <= :now',
  },

  consents: {
    ...P.consents,
    // VALUES(col) is the value the INSERT would have written (MariaDB's EXCLUDED).
    upsert: `INSERT INTO consents (${CONSENT_COLUMNS}) VALUES (:userId, :clientId, :scopes, :resourceScopes, :at, :at)
      ON DUPLICATE KEY UPDATE scopes = VALUES(scopes), resource_scopes = VALUES(resource_scopes), updated_at = VALUES(updated_at)`,
    readUpserted: `SELECT ${CONSENT_COLUMNS} FROM consents WHERE user_id = :userId AND client_id = :clientId`,
    listByUser: `SELECT ${CONSENT_COLUMNS} FROM consents
      WHERE user_id = :userId AND (:after IS NULL OR client_id > :after)
      ORDER BY client_id LIMIT :limit`,
  },

  revocations: {
    // VALUES(col) is the value the INSERT would have written (MariaDB's EXCLUDED).
    upsert: `INSERT INTO revocations (${REVOCATION_COLUMNS}) VALUES (:kind, :id, :bucket, :revokedAt, :expiresAt)
      ON DUPLICATE KEY UPDATE expires_at = GREATEST(expires_at, VALUES(expires_at))`,
    listBucket: `SELECT ${REVOCATION_COLUMNS} FROM revocations
      WHERE bucket = :bucket AND expires_at > :now
      ORDER BY kind, revoked_id`,
    deleteExpired: 'DELETE FROM revocations WHERE expires_at <= :now',
  },

  grantTokens: {
    ...P.grantTokens,
    insert: 'INSERT IGNORE INTO grant_access_tokens (grant_id, jti, expires_at) VALUES (:grantId, :jti, :expiresAt)',
    deleteExpired: 'DELETE FROM grant_access_tokens WHERE expires_at <= :now',
  },

  audit: {
    insert: `INSERT INTO audit_events (at, type, actor, subject, client_id, ip, details)
      VALUES (:at, :type, :actor, :subject, :clientId, :ip, :details)`,
    // LAST_INSERT_ID() is per connection, and the transaction holds one connection.
    readInserted: `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE id = LAST_INSERT_ID()`,
    list: `SELECT ${AUDIT_COLUMNS} FROM audit_events
      WHERE (:type IS NULL OR type = :type)
        AND (:typePrefix IS NULL OR LEFT(type, :typePrefixLength) = :typePrefix)
        AND (:subject IS NULL OR subject = :subject)
        AND (:actor IS NULL OR actor = :actor)
        AND (:clientId IS NULL OR client_id = :clientId)
        AND (:since IS NULL OR at >= :since)
        AND (:before IS NULL OR id < CAST(:before AS SIGNED))
      ORDER BY id DESC LIMIT :limit`,
    listAfter: `SELECT ${AUDIT_COLUMNS} FROM audit_events
      WHERE (:type IS NULL OR type = :type)
        AND (:typePrefix IS NULL OR LEFT(type, :typePrefixLength) = :typePrefix)
        AND (:subject IS NULL OR subject = :subject)
        AND (:actor IS NULL OR actor = :actor)
        AND (:clientId IS NULL OR client_id = :clientId)
        AND (:since IS NULL OR at >= :since)
        AND id > CAST(:after AS SIGNED)
      ORDER BY id ASC LIMIT :limit`,
  },
};
