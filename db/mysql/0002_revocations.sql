-- Durable revocations (issue 11 item 3), as db/postgres/0002_revocations.sql, spelled for
-- MariaDB (see 0001_init.sql for the conventions). The grid holds the hot copy that
-- introspection and ext_authz read; this table is what a grid that lost data is repopulated from.
CREATE TABLE IF NOT EXISTS revocations (
  -- What is revoked: 'access_token' (revoked_id is the token's jti).
  kind       VARCHAR(32)  NOT NULL,
  revoked_id VARCHAR(255) NOT NULL,
  -- The grid bucket the revocation belongs to (services/core/rpc/revocation-list.ts).
  bucket     INT          NOT NULL,
  revoked_at DATETIME(3)  NOT NULL,
  expires_at DATETIME(3)  NOT NULL,
  CONSTRAINT revocations_pkey PRIMARY KEY (kind, revoked_id),
  INDEX revocations_bucket_idx (bucket, expires_at),
  INDEX revocations_expires_idx (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

-- The access tokens each grant produced, so revoking the grant revokes them too, whatever the
-- grid lost in between (see db/postgres/0002_revocations.sql). Pruned after expiry.
CREATE TABLE IF NOT EXISTS grant_access_tokens (
  grant_id   VARCHAR(255) NOT NULL,
  jti        VARCHAR(255) NOT NULL,
  expires_at DATETIME(3)  NOT NULL,
  CONSTRAINT grant_access_tokens_pkey PRIMARY KEY (grant_id, jti),
  INDEX grant_access_tokens_expires_idx (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;
