-- authmesh schema, version 1, for MariaDB 10.11 (the mysql store, mysql2). Same semantics as
-- db/postgres/0001_init.sql, spelled for InnoDB:
--   * text[] and jsonb become JSON (MariaDB: LONGTEXT checked by json_valid), read back as text;
--   * timestamptz becomes DATETIME(3) holding UTC (the store sets the session time zone to +00:00
--     and mysql2's timezone to Z), millisecond precision like a JavaScript Date;
--   * identifiers use utf8mb4_nopad_bin: case-sensitive and without trailing-space padding, so
--     'a' and 'a ' are two ids, as in PostgreSQL;
--   * constraint and index names match PostgreSQL's, so errors map by the same names (a primary
--     key is always called PRIMARY here; the store takes the table from the failing statement).
-- DDL commits implicitly in MariaDB, so a migration cannot be rolled back as a whole: every
-- CREATE is IF NOT EXISTS, and re-running a migration that failed half-way completes it.

CREATE TABLE IF NOT EXISTS clients (
  client_id                      VARCHAR(255) NOT NULL,
  name                           TEXT         NOT NULL,
  client_type                    VARCHAR(32)  NOT NULL,
  redirect_uris                  JSON         NOT NULL,
  grant_types                    JSON         NOT NULL,
  scopes                         JSON         NOT NULL,
  token_endpoint_auth_method     VARCHAR(64)  NOT NULL,
  secret_hash                    TEXT,
  previous_secret_hash           TEXT,
  previous_secret_expires_at     DATETIME(3),
  jwks                           JSON,
  skip_consent                   BOOLEAN      NOT NULL,
  audience                       JSON         NOT NULL,
  access_token_ttl_seconds       INTEGER,
  refresh_token_ttl_seconds      INTEGER,
  registration_access_token_hash TEXT,
  metadata                       JSON         NOT NULL,
  version                        INTEGER      NOT NULL,
  created_at                     DATETIME(3)  NOT NULL,
  updated_at                     DATETIME(3)  NOT NULL,
  CONSTRAINT clients_pkey PRIMARY KEY (client_id),
  CONSTRAINT clients_client_type_check CHECK (client_type IN ('public', 'confidential', 'trusted')),
  CONSTRAINT clients_auth_method_check
    CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')),
  CONSTRAINT clients_ttl_check
    CHECK ((access_token_ttl_seconds IS NULL OR access_token_ttl_seconds > 0)
       AND (refresh_token_ttl_seconds IS NULL OR refresh_token_ttl_seconds > 0))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS users (
  user_id             VARCHAR(255) NOT NULL,
  username            VARCHAR(255) NOT NULL,
  -- Usernames that differ only in case would let one user impersonate another at the login page;
  -- PostgreSQL has a unique index on lower(username), InnoDB indexes a generated column instead.
  username_key        VARCHAR(255) AS (lower(username)) STORED,
  email               TEXT,
  display_name        TEXT,
  roles               JSON         NOT NULL,
  password_hash       TEXT         NOT NULL,
  disabled            BOOLEAN      NOT NULL,
  failed_login_count  INTEGER      NOT NULL DEFAULT 0,
  locked_until        DATETIME(3),
  password_changed_at DATETIME(3)  NOT NULL,
  version             INTEGER      NOT NULL,
  created_at          DATETIME(3)  NOT NULL,
  updated_at          DATETIME(3)  NOT NULL,
  CONSTRAINT users_pkey PRIMARY KEY (user_id),
  CONSTRAINT users_username_key UNIQUE (username_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS services (
  service_id  VARCHAR(255) NOT NULL,
  name        TEXT         NOT NULL,
  description TEXT         NOT NULL,
  audience    VARCHAR(700) NOT NULL,
  endpoints   JSON         NOT NULL,
  version     INTEGER      NOT NULL,
  created_at  DATETIME(3)  NOT NULL,
  updated_at  DATETIME(3)  NOT NULL,
  CONSTRAINT services_pkey PRIMARY KEY (service_id),
  CONSTRAINT services_audience_key UNIQUE (audience)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS signing_keys (
  kid                   VARCHAR(255) NOT NULL,
  alg                   VARCHAR(16)  NOT NULL,
  public_jwk            JSON         NOT NULL,
  encrypted_private_key TEXT         NOT NULL,
  status                VARCHAR(16)  NOT NULL,
  created_at            DATETIME(3)  NOT NULL,
  activated_at          DATETIME(3),
  retired_at            DATETIME(3),
  delete_after          DATETIME(3),
  CONSTRAINT signing_keys_pkey PRIMARY KEY (kid),
  CONSTRAINT signing_keys_alg_check CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
  CONSTRAINT signing_keys_status_check CHECK (status IN ('next', 'active', 'retired'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS refresh_tokens (
  token_hash  VARCHAR(255) NOT NULL,
  family_id   VARCHAR(255) NOT NULL,
  client_id   VARCHAR(255) NOT NULL,
  user_id     VARCHAR(255),
  scope       JSON         NOT NULL,
  audience    JSON         NOT NULL,
  auth_time   DATETIME(3),
  created_at  DATETIME(3)  NOT NULL,
  expires_at  DATETIME(3)  NOT NULL,
  rotated_at  DATETIME(3),
  revoked_at  DATETIME(3),
  replaced_by VARCHAR(255),
  CONSTRAINT refresh_tokens_pkey PRIMARY KEY (token_hash),
  -- Deleting a client or user must end its sessions, not leave orphans that still rotate.
  CONSTRAINT refresh_tokens_client_id_fkey FOREIGN KEY (client_id) REFERENCES clients (client_id) ON DELETE CASCADE,
  CONSTRAINT refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE CASCADE,
  INDEX refresh_tokens_family_idx (family_id),
  INDEX refresh_tokens_user_idx (user_id, created_at, token_hash),
  INDEX refresh_tokens_client_idx (client_id, created_at, token_hash),
  INDEX refresh_tokens_expires_idx (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS consents (
  user_id    VARCHAR(255) NOT NULL,
  client_id  VARCHAR(255) NOT NULL,
  scopes     JSON         NOT NULL,
  created_at DATETIME(3)  NOT NULL,
  updated_at DATETIME(3)  NOT NULL,
  CONSTRAINT consents_pkey PRIMARY KEY (user_id, client_id),
  CONSTRAINT consents_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE CASCADE,
  CONSTRAINT consents_client_id_fkey FOREIGN KEY (client_id) REFERENCES clients (client_id) ON DELETE CASCADE,
  INDEX consents_client_idx (client_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

-- No foreign keys: the trail must outlive the users and clients it mentions.
CREATE TABLE IF NOT EXISTS audit_events (
  id        BIGINT       NOT NULL AUTO_INCREMENT,
  at        DATETIME(3)  NOT NULL,
  type      VARCHAR(255) NOT NULL,
  actor     VARCHAR(255),
  subject   VARCHAR(255),
  client_id VARCHAR(255),
  ip        VARCHAR(64),
  details   JSON         NOT NULL,
  CONSTRAINT audit_events_pkey PRIMARY KEY (id),
  INDEX audit_events_type_idx (type, id),
  INDEX audit_events_subject_idx (subject, id),
  INDEX audit_events_client_idx (client_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;
