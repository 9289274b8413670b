-- Durable revocations (issue 11 item 3). The grid holds the hot copy that introspection and
-- ext_authz read; this table is what a grid that lost data is repopulated from, so a revocation
-- acknowledged to a caller survives the loss of any grid member and a full grid restart.
-- A row is useless once what it revokes has expired (expires_at) and is pruned after.
CREATE TABLE revocations (
  -- What is revoked: 'access_token' (revoked_id is the token's jti).
  kind       text        NOT NULL,
  revoked_id text        NOT NULL,
  -- The grid bucket the revocation belongs to (services/core/rpc/revocation-list.ts), so one
  -- bucket lost from the grid is reloaded with one indexed query.
  bucket     integer     NOT NULL,
  revoked_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  CONSTRAINT revocations_pkey PRIMARY KEY (kind, revoked_id)
);

CREATE INDEX revocations_bucket_idx ON revocations (bucket, expires_at);
CREATE INDEX revocations_expires_idx ON revocations (expires_at);

-- The access tokens each grant (an authorization code's redemption, a refresh-token family)
-- produced, so revoking the grant (a replayed code, RFC 7009 revocation of its refresh token,
-- refresh-token reuse) revokes them too, whatever the grid lost in between. Pruned after expiry.
CREATE TABLE grant_access_tokens (
  grant_id   text        NOT NULL,
  jti        text        NOT NULL,
  expires_at timestamptz NOT NULL,
  CONSTRAINT grant_access_tokens_pkey PRIMARY KEY (grant_id, jti)
);

CREATE INDEX grant_access_tokens_expires_idx ON grant_access_tokens (expires_at);
