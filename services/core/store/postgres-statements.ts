import type { SqlStatements } from './sql-statements.js';

// PostgreSQL text of every statement (pg and PGlite). Parameters whose type PostgreSQL cannot
// infer (IS NULL tests, CASE branches) carry an explicit CAST.

const CLIENT_COLUMNS = `client_id, name, client_type, redirect_uris, grant_types, scopes, token_endpoint_auth_method,
  secret_hash, previous_secret_hash, previous_secret_expires_at, jwks, skip_consent, audience,
  access_token_ttl_seconds, refresh_token_ttl_seconds, registration_access_token_hash, metadata,
  version, created_at, updated_at`;

const USER_COLUMNS = `user_id, username, email, display_name, roles, password_hash, disabled, failed_login_count,
  locked_until, password_changed_at, version, created_at, updated_at`;

const SERVICE_COLUMNS = 'service_id, name, description, audience, endpoints, version, created_at, updated_at';

const KEY_COLUMNS = `kid, alg, public_jwk, encrypted_private_key, status, created_at, activated_at, retired_at,
  delete_after`;

const TOKEN_COLUMNS = `token_hash, family_id, client_id, user_id, scope, audience, auth_time, created_at, expires_at,
  rotated_at, revoked_at, replaced_by`;

const CONSENT_COLUMNS = 'user_id, client_id, scopes, created_at, updated_at';

const AUDIT_COLUMNS = 'id, at, type, actor, subject, client_id, ip, details';

// A token is active while it has neither been exchanged nor revoked and has not expired.
const ACTIVE_TOKEN = 'revoked_at IS NULL AND rotated_at IS NULL AND expires_at > CAST(:now AS timestamptz)';
// Keyset paging, newest first.
const BEFORE_TOKEN_KEY = `(CAST(:afterCreatedAt AS timestamptz) IS NULL
    OR (created_at, token_hash) < (CAST(:afterCreatedAt AS timestamptz), CAST(:afterHash AS text)))`;

export const postgresStatements: SqlStatements = {
  migrations: {
    createTable: `CREATE TABLE IF NOT EXISTS schema_migrations (
      version text PRIMARY KEY,
      applied_at timestamptz NOT NULL
    )`,
    // Transaction-scoped, so a crashed runner never leaves it held. The key is arbitrary but fixed.
    lock: 'SELECT pg_advisory_xact_lock(7413020117)',
    applied: 'SELECT version FROM schema_migrations ORDER BY version',
    record: 'INSERT INTO schema_migrations (version, applied_at) VALUES (:version, :appliedAt)',
  },

  clients: {
    insert: `INSERT INTO clients (${CLIENT_COLUMNS}) VALUES (:clientId, :name, :clientType, :redirectUris, :grantTypes,
      :scopes, :tokenEndpointAuthMethod, :secretHash, :previousSecretHash, :previousSecretExpiresAt, :jwks,
      :skipConsent, :audience, :accessTokenTtlSeconds, :refreshTokenTtlSeconds, :registrationAccessTokenHash,
      :metadata, :version, :createdAt, :updatedAt)`,
    get: `SELECT ${CLIENT_COLUMNS} FROM clients WHERE client_id = :clientId`,
    getForUpdate: `SELECT ${CLIENT_COLUMNS} FROM clients WHERE client_id = :clientId FOR UPDATE`,
    list: `SELECT ${CLIENT_COLUMNS} FROM clients
      WHERE (CAST(:clientType AS text) IS NULL OR client_type = CAST(:clientType AS text))
        AND (CAST(:after AS text) IS NULL OR client_id > CAST(:after AS text))
      ORDER BY client_id LIMIT :limit`,
    update: `UPDATE clients SET name = :name, client_type = :clientType, redirect_uris = :redirectUris,
      grant_types = :grantTypes, scopes = :scopes, token_endpoint_auth_method = :tokenEndpointAuthMethod,
      secret_hash = :secretHash, previous_secret_hash = :previousSecretHash,
      previous_secret_expires_at = :previousSecretExpiresAt, jwks = :jwks, skip_consent = :skipConsent,
      audience = :audience, access_token_ttl_seconds = :accessTokenTtlSeconds,
      refresh_token_ttl_seconds = :refreshTokenTtlSeconds,
      registration_access_token_hash = :registrationAccessTokenHash, metadata = :metadata,
      version = :version, updated_at = :updatedAt
      WHERE client_id = :clientId AND version = :previousVersion`,
    delete: 'DELETE FROM clients WHERE client_id = :clientId',
  },

  users: {
    insert: `INSERT INTO users (${USER_COLUMNS}) VALUES (:userId, :username, :email, :displayName, :roles,
      :passwordHash, :disabled, :failedLoginCount, :lockedUntil, :passwordChangedAt, :version, :createdAt,
      :updatedAt)`,
    get: `SELECT ${USER_COLUMNS} FROM users WHERE user_id = :userId`,
    getForUpdate: `SELECT ${USER_COLUMNS} FROM users WHERE user_id = :userId FOR UPDATE`,
    getByUsername: `SELECT ${USER_COLUMNS} FROM users WHERE lower(username) = lower(CAST(:username AS text))`,
    list: `SELECT ${USER_COLUMNS} FROM users
      WHERE CAST(:after AS text) IS NULL OR user_id > CAST(:after AS text)
      ORDER BY user_id LIMIT :limit`,
    update: `UPDATE users SET username = :username, email = :email, display_name = :displayName, roles = :roles,
      password_hash = :passwordHash, disabled = :disabled, failed_login_count = :failedLoginCount,
      locked_until = :lockedUntil, password_changed_at = :passwordChangedAt, version = :version,
      updated_at = :updatedAt
      WHERE user_id = :userId AND version = :previousVersion`,
    delete: 'DELETE FROM users WHERE user_id = :userId',
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
    // Skips the write on the common path (nothing to reset); a miss is told apart by `exists`.
    resetLoginFailures: `UPDATE users SET failed_login_count = 0, locked_until = NULL
      WHERE user_id = :userId AND (failed_login_count <> 0 OR locked_until IS NOT NULL)`,
    exists: 'SELECT 1 AS found FROM users WHERE user_id = :userId',
  },

  services: {
    insert: `INSERT INTO services (${SERVICE_COLUMNS}) VALUES (:serviceId, :name, :description, :audience,
      :endpoints, :version, :createdAt, :updatedAt)`,
    get: `SELECT ${SERVICE_COLUMNS} FROM services WHERE service_id = :serviceId`,
    getForUpdate: `SELECT ${SERVICE_COLUMNS} FROM services WHERE service_id = :serviceId FOR UPDATE`,
    getByAudience: `SELECT ${SERVICE_COLUMNS} FROM services WHERE audience = :audience`,
    list: `SELECT ${SERVICE_COLUMNS} FROM services
      WHERE CAST(:after AS text) IS NULL OR service_id > CAST(:after AS text)
      ORDER BY service_id LIMIT :limit`,
    update: `UPDATE services SET name = :name, description = :description, audience = :audience,
      endpoints = :endpoints, version = :version, updated_at = :updatedAt
      WHERE service_id = :serviceId AND version = :previousVersion`,
    delete: 'DELETE FROM services WHERE service_id = :serviceId',
  },

  keys: {
    insert: `INSERT INTO signing_keys (${KEY_COLUMNS}) VALUES (:kid, :alg, :publicJwk, :encryptedPrivateKey, :status,
      :createdAt, :activatedAt, :retiredAt, :deleteAfter)`,
    get: `SELECT ${KEY_COLUMNS} FROM signing_keys WHERE kid = :kid`,
    getForUpdate: `SELECT ${KEY_COLUMNS} FROM signing_keys WHERE kid = :kid FOR UPDATE`,
    list: `SELECT ${KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid DESC`,
    updateStatus: `UPDATE signing_keys SET status = :status, activated_at = :activatedAt, retired_at = :retiredAt,
      delete_after = :deleteAfter WHERE kid = :kid`,
    deleteExpired: 'DELETE FROM signing_keys WHERE delete_after IS NOT NULL AND delete_after <= CAST(:now AS timestamptz)',
  },

  refreshTokens: {
    insert: `INSERT INTO refresh_tokens (${TOKEN_COLUMNS}) VALUES (:tokenHash, :familyId, :clientId, :userId, :scope,
      :audience, :authTime, :createdAt, :expiresAt, :rotatedAt, :revokedAt, :replacedBy)`,
    get: `SELECT ${TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = :tokenHash`,
    // The row lock is what makes concurrent rotations of one token queue up behind each other.
    getForUpdate: `SELECT ${TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = :tokenHash FOR UPDATE`,
    markRotated: `UPDATE refresh_tokens SET rotated_at = :now, replaced_by = :replacedBy
      WHERE token_hash = :tokenHash AND rotated_at IS NULL AND revoked_at IS NULL`,
    revoke: `UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, CAST(:now AS timestamptz))
      WHERE token_hash = :tokenHash`,
    revokeFamily: 'UPDATE refresh_tokens SET revoked_at = :now WHERE family_id = :familyId AND revoked_at IS NULL',
    revokeByUser: 'UPDATE refresh_tokens SET revoked_at = :now WHERE user_id = :userId AND revoked_at IS NULL',
    revokeByClient: 'UPDATE refresh_tokens SET revoked_at = :now WHERE client_id = :clientId AND revoked_at IS NULL',
    listByUser: `SELECT ${TOKEN_COLUMNS} FROM refresh_tokens
      WHERE user_id = :userId AND ${ACTIVE_TOKEN} AND ${BEFORE_TOKEN_KEY}
      ORDER BY created_at DESC, token_hash DESC LIMIT :limit`,
    listByClient: `SELECT ${TOKEN_COLUMNS} FROM refresh_tokens
      WHERE client_id = :clientId AND ${ACTIVE_TOKEN} AND ${BEFORE_TOKEN_KEY}
      ORDER BY created_at DESC, token_hash DESC LIMIT :limit`,
    deleteExpired: 'DELETE FROM refresh_tokens WHERE expires_at <= CAST(:now AS timestamptz)',
  },

  consents: {
    get: `SELECT ${CONSENT_COLUMNS} FROM consents WHERE user_id = :userId AND client_id = :clientId`,
    upsert: `INSERT INTO consents (${CONSENT_COLUMNS}) VALUES (:userId, :clientId, :scopes, :at, :at)
      ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = EXCLUDED.scopes, updated_at = EXCLUDED.updated_at
      RETURNING ${CONSENT_COLUMNS}`,
    delete: 'DELETE FROM consents WHERE user_id = :userId AND client_id = :clientId',
    listByUser: `SELECT ${CONSENT_COLUMNS} FROM consents
      WHERE user_id = :userId AND (CAST(:after AS text) IS NULL OR client_id > CAST(:after AS text))
      ORDER BY client_id LIMIT :limit`,
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
        AND (CAST(:subject AS text) IS NULL OR subject = CAST(:subject AS text))
        AND (CAST(:clientId AS text) IS NULL OR client_id = CAST(:clientId AS text))
        AND (CAST(:before AS bigint) IS NULL OR id < CAST(:before AS bigint))
      ORDER BY id DESC LIMIT :limit`,
  },
};
