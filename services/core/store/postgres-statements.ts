import { AUDIT_COLUMNS, CLIENT_COLUMNS, CONSENT_COLUMNS, PORTABLE_STATEMENTS as P, refreshTokenListings, REVOCATION_COLUMNS, SERVICE_COLUMNS, TOKEN_COLUMNS, USER_COLUMNS } from './portable-statements.js';
import type { SqlStatements } from './sql-statements.js';

// PostgreSQL text of the statements (pg and PGlite) that differ from MariaDB's; the rest is in
// portable-statements.ts. Parameters whose type PostgreSQL cannot infer (IS NULL tests, CASE
// branches) carry an explicit CAST.

// A token is active while it has neither been exchanged nor revoked and has not expired.
const ACTIVE_TOKEN = 'revoked_at IS NULL AND rotated_at IS NULL AND expires_at > CAST(:now AS timestamptz)';
// Keyset paging, newest first.
const BEFORE_TOKEN_KEY = `(CAST(:afterCreatedAt AS timestamptz) IS NULL
    OR (created_at, token_hash) < (CAST(:afterCreatedAt AS timestamptz), CAST(:afterHash AS text)))`;

export const postgresStatements: SqlStatements = {
  migrations: {
    ...P.migrations,
    createTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      applied_at timestamptz NOT NULL
    )`,
    // Transaction-scoped, so a crashed runner never leaves it held. The key is arbitrary but fixed.
    lock: 'SELECT pg_advisory_xact_lock(7413020117)',
  },

  clients: {
    ...P.clients,
    list: `SELECT ${CLIENT_COLUMNS} FROM clients
      WHERE (CAST(:clientType AS text) IS NULL OR client_type = CAST(:clientType AS text))
        AND (CAST(:after AS text) IS NULL OR client_id > CAST(:after AS text))
      ORDER BY client_id LIMIT :limit`,
  },

  users: {
    ...P.users,
    getByUsername: `SELECT ${USER_COLUMNS} FROM users WHERE lower(username) = lower(CAST(:username AS text))`,
    list: `SELECT ${USER_COLUMNS} FROM users
      WHERE CAST(:after AS text) IS NULL OR user_id > CAST(:after AS text)
      ORDER BY user_id LIMIT :limit`,
    // One statement, so concurrent failures cannot lose a count. SET expressions all see the old
    // row, hence the restart condition is spelled out twice: a failure after an expired lock
    // begins a new count instead of re-locking at once.
    recordLoginFailure: `UPDATE users SET
      failed_login_count = CASE
        WHEN locked_until IS NOT NULL AND locked_until <= CAST(:now AS timestamptz) THEN 1
        ELSE failed_login_count + 1 END,
      locked_until = CASE
        WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= CAST(:now AS timestamptz) THEN 1
                   ELSE failed_login_count + 1 END) >= CAST(:threshold AS integer)
          THEN CAST(:lockUntil AS timestamptz)
        WHEN locked_until IS NOT NULL AND locked_until <= CAST(:now AS timestamptz) THEN NULL
        ELSE locked_until END
      WHERE user_id = :userId
      RETURNING failed_login_count, locked_until`,
  },

  services: {
    ...P.services,
    list: `SELECT ${SERVICE_COLUMNS} FROM services
      WHERE CAST(:after AS text) IS NULL OR service_id > CAST(:after AS text)
      ORDER BY service_id LIMIT :limit`,
  },

  keys: {
    ...P.keys,
    deleteExpired: 'DELETE FROM signing_keys WHERE delete_after IS NOT NULL AND delete_after <= CAST(:now AS timestamptz)',
  },

  refreshTokens: {
    ...P.refreshTokens,
    ...refreshTokenListings(ACTIVE_TOKEN, BEFORE_TOKEN_KEY),
    // RFC 9700 §4.14.2, in one round trip: the UPDATE's conditions are the compare-and-set (of
    // concurrent callers, the row lock lets one through; the others re-check the updated row and
    // match nothing), and a data-modifying CTE commits the successor with it or not at all.
    rotateLive: `WITH previous AS (
        UPDATE refresh_tokens SET rotated_at = CAST(:now AS timestamptz), replaced_by = CAST(:nextHash AS text)
        WHERE token_hash = :tokenHash AND client_id = :clientId AND ${ACTIVE_TOKEN}
          AND (user_id IS NULL OR EXISTS (SELECT 1 FROM users WHERE users.user_id = refresh_tokens.user_id AND NOT users.disabled))
        RETURNING ${TOKEN_COLUMNS}
      ), successor AS (
        INSERT INTO refresh_tokens (${TOKEN_COLUMNS})
        SELECT CAST(:nextHash AS text), family_id, client_id, user_id, scope, audience, auth_time,
          CAST(:now AS timestamptz), expires_at, NULL, NULL, NULL, id_token_claims, dpop_jkt, x5t_s256 FROM previous
      )
      SELECT ${TOKEN_COLUMNS} FROM previous`,
    revoke: `UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, CAST(:now AS timestamptz))
      WHERE token_hash = :tokenHash`,
    deleteExpired: 'DELETE FROM refresh_tokens WHERE expires_at <= CAST(:now AS timestamptz)',
  },

  consents: {
    ...P.consents,
    upsert: `INSERT INTO consents (${CONSENT_COLUMNS}) VALUES (:userId, :clientId, :scopes, :resourceScopes, :at, :at)
      ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = EXCLUDED.scopes, resource_scopes = EXCLUDED.resource_scopes, updated_at = EXCLUDED.updated_at
      RETURNING ${CONSENT_COLUMNS}`,
    listByUser: `SELECT ${CONSENT_COLUMNS} FROM consents
      WHERE user_id = :userId AND (CAST(:after AS text) IS NULL OR client_id > CAST(:after AS text))
      ORDER BY client_id LIMIT :limit`,
  },

  revocations: {
    upsert: `INSERT INTO revocations (${REVOCATION_COLUMNS}) VALUES (:kind, :id, :bucket, :revokedAt, :expiresAt)
      ON CONFLICT (kind, revoked_id) DO UPDATE SET expires_at = GREATEST(revocations.expires_at, EXCLUDED.expires_at)`,
    listBucket: `SELECT ${REVOCATION_COLUMNS} FROM revocations
      WHERE bucket = CAST(:bucket AS integer) AND expires_at > CAST(:now AS timestamptz)
      ORDER BY kind, revoked_id`,
    deleteExpired: 'DELETE FROM revocations WHERE expires_at <= CAST(:now AS timestamptz)',
  },

  grantTokens: {
    ...P.grantTokens,
    insert: `INSERT INTO grant_access_tokens (grant_id, jti, expires_at) VALUES (:grantId, :jti, :expiresAt)
      ON CONFLICT (grant_id, jti) DO NOTHING`,
    deleteExpired: 'DELETE FROM grant_access_tokens WHERE expires_at <= CAST(:now AS timestamptz)',
  },

  audit: {
    insert: `INSERT INTO audit_events (at, type, actor, subject, client_id, ip, details)
      VALUES (:at, :type, :actor, :subject, :clientId, :ip, :details)
      RETURNING ${AUDIT_COLUMNS}`,
    insertMany: `INSERT INTO audit_events (at, type, actor, subject, client_id, ip, details)
      SELECT CAST(e->>'at' AS timestamptz), e->>'type', e->>'actor', e->>'subject', e->>'clientId', e->>'ip', e->'details'
      FROM jsonb_array_elements(CAST(:events AS jsonb)) AS e`,
    list: `SELECT ${AUDIT_COLUMNS} FROM audit_events
      WHERE (CAST(:type AS text) IS NULL OR type = CAST(:type AS text))
        AND (CAST(:typePrefix AS text) IS NULL OR left(type, CAST(:typePrefixLength AS integer)) = CAST(:typePrefix AS text))
        AND (CAST(:subject AS text) IS NULL OR subject = CAST(:subject AS text))
        AND (CAST(:actor AS text) IS NULL OR actor = CAST(:actor AS text))
        AND (CAST(:clientId AS text) IS NULL OR client_id = CAST(:clientId AS text))
        AND (CAST(:since AS timestamptz) IS NULL OR at >= CAST(:since AS timestamptz))
        AND (CAST(:before AS bigint) IS NULL OR id < CAST(:before AS bigint))
      ORDER BY id DESC LIMIT :limit`,
    listAfter: `SELECT ${AUDIT_COLUMNS} FROM audit_events
      WHERE (CAST(:type AS text) IS NULL OR type = CAST(:type AS text))
        AND (CAST(:typePrefix AS text) IS NULL OR left(type, CAST(:typePrefixLength AS integer)) = CAST(:typePrefix AS text))
        AND (CAST(:subject AS text) IS NULL OR subject = CAST(:subject AS text))
        AND (CAST(:actor AS text) IS NULL OR actor = CAST(:actor AS text))
        AND (CAST(:clientId AS text) IS NULL OR client_id = CAST(:clientId AS text))
        AND (CAST(:since AS timestamptz) IS NULL OR at >= CAST(:since AS timestamptz))
        AND id > CAST(:after AS bigint)
      ORDER BY id ASC LIMIT :limit`,
  },
};
