-- authmesh schema, version 1. Run by the migration runner for PostgreSQL (pg) and the embedded
-- store (PGlite): plain PostgreSQL only. Constraint names are explicit because the stores turn
-- violations into domain errors by name.

CREATE TABLE clients (
  client_id                      text        NOT NULL,
  name                           text        NOT NULL,
  client_type                    text        NOT NULL,
  redirect_uris                  text[]      NOT NULL,
  grant_types                    text[]      NOT NULL,
  scopes                         text[]      NOT NULL,
  token_endpoint_auth_method     text        NOT NULL,
  secret_hash                    text,
  previous_secret_hash           text,
  previous_secret_expires_at     timestamptz,
  jwks                           jsonb,
  skip_consent                   boolean     NOT NULL,
  audience                       text[]      NOT NULL,
  access_token_ttl_seconds       integer,
  refresh_token_ttl_seconds      integer,
  registration_access_token_hash text,
  metadata                       jsonb       NOT NULL,
  version                        integer     NOT NULL,
  created_at                     timestamptz NOT NULL,
  updated_at                     timestamptz NOT NULL,
  CONSTRAINT clients_pkey PRIMARY KEY (client_id),
  CONSTRAINT clients_client_type_check CHECK (client_type IN ('public', 'confidential', 'trusted')),
  CONSTRAINT clients_auth_method_check
    CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')),
  CONSTRAINT clients_ttl_check
    CHECK ((access_token_ttl_seconds IS NULL OR access_token_ttl_seconds > 0)
       AND (refresh_token_ttl_seconds IS NULL OR refresh_token_ttl_seconds > 0))
);

CREATE TABLE users (
  user_id             text        NOT NULL,
  username            text        NOT NULL,
  email               text,
  display_name        text,
  roles               text[]      NOT NULL,
  password_hash       text        NOT NULL,
  disabled            boolean     NOT NULL,
  failed_login_count  integer     NOT NULL DEFAULT 0,
  locked_until        timestamptz,
  password_changed_at timestamptz NOT NULL,
  version             integer     NOT NULL,
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  CONSTRAINT users_pkey PRIMARY KEY (user_id)
);

-- Usernames that differ only in case would let one user impersonate another at the login page.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

CREATE TABLE services (
  service_id  text        NOT NULL,
  name        text        NOT NULL,
  description text        NOT NULL,
  audience    text        NOT NULL,
  endpoints   jsonb       NOT NULL,
  version     integer     NOT NULL,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  CONSTRAINT services_pkey PRIMARY KEY (service_id),
  CONSTRAINT services_audience_key UNIQUE (audience)
);

CREATE TABLE signing_keys (
  kid                   text        NOT NULL,
  alg                   text        NOT NULL,
  public_jwk            jsonb       NOT NULL,
  encrypted_private_key text        NOT NULL,
  status                text        NOT NULL,
  created_at            timestamptz NOT NULL,
  activated_at          timestamptz,
  retired_at            timestamptz,
  delete_after          timestamptz,
  CONSTRAINT signing_keys_pkey PRIMARY KEY (kid),
  CONSTRAINT signing_keys_alg_check CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
  CONSTRAINT signing_keys_status_check CHECK (status IN ('next', 'active', 'retired'))
);

CREATE TABLE refresh_tokens (
  token_hash  text        NOT NULL,
  family_id   text        NOT NULL,
  client_id   text        NOT NULL,
  user_id     text,
  scope       text[]      NOT NULL,
  audience    text[]      NOT NULL,
  auth_time   timestamptz,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  rotated_at  timestamptz,
  revoked_at  timestamptz,
  replaced_by text,
  CONSTRAINT refresh_tokens_pkey PRIMARY KEY (token_hash),
  -- Deleting a client or user must end its sessions, not leave orphans that still rotate.
  CONSTRAINT refresh_tokens_client_id_fkey FOREIGN KEY (client_id) REFERENCES clients (client_id) ON DELETE CASCADE,
  CONSTRAINT refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE CASCADE
);

CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id, created_at, token_hash);
CREATE INDEX refresh_tokens_client_idx ON refresh_tokens (client_id, created_at, token_hash);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE consents (
  user_id    text        NOT NULL,
  client_id  text        NOT NULL,
  scopes     text[]      NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT consents_pkey PRIMARY KEY (user_id, client_id),
  CONSTRAINT consents_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE CASCADE,
  CONSTRAINT consents_client_id_fkey FOREIGN KEY (client_id) REFERENCES clients (client_id) ON DELETE CASCADE
);

CREATE INDEX consents_client_idx ON consents (client_id);

-- No foreign keys: the trail must outlive the users and clients it mentions.
CREATE TABLE audit_events (
  id        bigint      GENERATED ALWAYS AS IDENTITY,
  at        timestamptz NOT NULL,
  type      text        NOT NULL,
  actor     text,
  subject   text,
  client_id text,
  ip        text,
  details   jsonb       NOT NULL,
  CONSTRAINT audit_events_pkey PRIMARY KEY (id)
);

CREATE INDEX audit_events_type_idx ON audit_events (type, id);
CREATE INDEX audit_events_subject_idx ON audit_events (subject, id);
CREATE INDEX audit_events_client_idx ON audit_events (client_id, id);
