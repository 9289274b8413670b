// The statement text PostgreSQL (pg, PGlite) and MariaDB (mysql2) share word for word, and the
// column lists every statement selects. Each engine's file (postgres-statements.ts,
// mysql-statements.ts) spreads these in and writes only what its dialect needs differently:
// parameters PostgreSQL cannot type without a CAST (IS NULL tests, CASE branches, COALESCE),
// RETURNING or a read-back statement, upserts, locks and the migrations table.
import type { SqlStatements } from './sql-statements.js';

export const CLIENT_COLUMNS = `client_id, name, client_type, redirect_uris, grant_types, scopes, token_endpoint_auth_method,
  secret_hash, previous_secret_hash, previous_secret_expires_at, jwks, skip_consent, audience,
  access_token_ttl_seconds, refresh_token_ttl_seconds, registration_access_token_hash, metadata,
  version, created_at, updated_at`;

export const USER_COLUMNS = `user_id, username, email, display_name, roles, password_hash, disabled, failed_login_count,
  locked_until, password_changed_at, claims, version, created_at, updated_at`;

export const SERVICE_COLUMNS = 'service_id, name, description, audience, endpoints, dpop_bound_access_tokens_required, version, created_at, updated_at';

export const KEY_COLUMNS = `kid, alg, public_jwk, encrypted_private_key, status, created_at, activated_at, retired_at,
  delete_after`;

export const TOKEN_COLUMNS = `token_hash, family_id, client_id, user_id, scope, audience, auth_time, created_at, expires_at,
  rotated_at, revoked_at, replaced_by, id_token_claims, dpop_jkt, x5t_s256`;

export const CONSENT_COLUMNS = 'user_id, client_id, scopes, resource_scopes, created_at, updated_at';

export const REVOCATION_COLUMNS = 'kind, revoked_id, bucket, revoked_at, expires_at';

export const AUDIT_COLUMNS = 'id, at, type, actor, subject, client_id, ip, details';

/**
 * The two refresh-token listings, newest first, given the engine's spelling of "active" (neither
 * exchanged nor revoked, not expired) and of the keyset condition (before :afterCreatedAt,
 * :afterHash, or from the start when :afterCreatedAt is null).
 */
export function refreshTokenListings(activeToken: string, beforeTokenKey: string): Pick<SqlStatements['refreshTokens'], 'listByUser' | 'listByClient'> {
  return {
    listByUser: `SELECT ${TOKEN_COLUMNS} FROM refresh_tokens
      WHERE user_id = :userId AND ${activeToken} AND ${beforeTokenKey}
      ORDER BY created_at DESC, token_hash DESC LIMIT :limit`,
    listByClient: `SELECT ${TOKEN_COLUMNS} FROM refresh_tokens
      WHERE client_id = :clientId AND ${activeToken} AND ${beforeTokenKey}
      ORDER BY created_at DESC, token_hash DESC LIMIT :limit`,
  };
}

export const PORTABLE_STATEMENTS = {
  migrations: {
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
      :passwordHash, :disabled, :failedLoginCount, :lockedUntil, :passwordChangedAt, :claims, :version,
      :createdAt, :updatedAt)`,
    get: `SELECT ${USER_COLUMNS} FROM users WHERE user_id = :userId`,
    getForUpdate: `SELECT ${USER_COLUMNS} FROM users WHERE user_id = :userId FOR UPDATE`,
    update: `UPDATE users SET username = :username, email = :email, display_name = :displayName, roles = :roles,
      password_hash = :passwordHash, disabled = :disabled, failed_login_count = :failedLoginCount,
      locked_until = :lockedUntil, password_changed_at = :passwordChangedAt, claims = :claims,
      version = :version, updated_at = :updatedAt
      WHERE user_id = :userId AND version = :previousVersion`,
    delete: 'DELETE FROM users WHERE user_id = :userId',
    // Skips the write on the common path (nothing to reset); a miss is told apart by `exists`.
    resetLoginFailures: `UPDATE users SET failed_login_count = 0, locked_until = NULL
      WHERE user_id = :userId AND (failed_login_count <> 0 OR locked_until IS NOT NULL)`,
    exists: 'SELECT 1 AS found FROM users WHERE user_id = :userId',
  },

  services: {
    insert: `INSERT INTO services (${SERVICE_COLUMNS}) VALUES (:serviceId, :name, :description, :audience,
      :endpoints, :dpopBoundAccessTokensRequired, :version, :createdAt, :updatedAt)`,
    get: `SELECT ${SERVICE_COLUMNS} FROM services WHERE service_id = :serviceId`,
    getForUpdate: `SELECT ${SERVICE_COLUMNS} FROM services WHERE service_id = :serviceId FOR UPDATE`,
    getByAudience: `SELECT ${SERVICE_COLUMNS} FROM services WHERE audience = :audience`,
    update: `UPDATE services SET name = :name, description = :description, audience = :audience,
      endpoints = :endpoints, dpop_bound_access_tokens_required = :dpopBoundAccessTokensRequired, version = :version, updated_at = :updatedAt
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
  },

  refreshTokens: {
    insert: `INSERT INTO refresh_tokens (${TOKEN_COLUMNS}) VALUES (:tokenHash, :familyId, :clientId, :userId, :scope,
      :audience, :authTime, :createdAt, :expiresAt, :rotatedAt, :revokedAt, :replacedBy, :idTokenClaims, :dpopJkt, :certificateThumbprint)`,
    get: `SELECT ${TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = :tokenHash`,
    // The row lock is what makes concurrent rotations of one token queue up behind each other; a
    // locking read sees the latest committed row even under MariaDB's REPEATABLE READ.
    getForUpdate: `SELECT ${TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = :tokenHash FOR UPDATE`,
    userDisabled: 'SELECT disabled FROM users WHERE user_id = :userId',
    markRotated: `UPDATE refresh_tokens SET rotated_at = :now, replaced_by = :replacedBy
      WHERE token_hash = :tokenHash AND rotated_at IS NULL AND revoked_at IS NULL`,
    revokeFamily: 'UPDATE refresh_tokens SET revoked_at = :now WHERE family_id = :familyId AND revoked_at IS NULL',
    revokeByUser: 'UPDATE refresh_tokens SET revoked_at = :now WHERE user_id = :userId AND revoked_at IS NULL',
    revokeByClient: 'UPDATE refresh_tokens SET revoked_at = :now WHERE client_id = :clientId AND revoked_at IS NULL',
  },

  grantTokens: {
    listForUpdate: 'SELECT grant_id, jti, expires_at FROM grant_access_tokens WHERE grant_id = :grantId ORDER BY jti FOR UPDATE',
    deleteOne: 'DELETE FROM grant_access_tokens WHERE grant_id = :grantId AND jti = :jti',
  },

  consents: {
    get: `SELECT ${CONSENT_COLUMNS} FROM consents WHERE user_id = :userId AND client_id = :clientId`,
    delete: 'DELETE FROM consents WHERE user_id = :userId AND client_id = :clientId',
  },
} satisfies { [G in keyof SqlStatements]?: Partial<SqlStatements[G]> };
