-- OpenID Connect standard claims on the user, as db/postgres/0004_oidc_claims.sql, spelled for
-- MariaDB (JSON is LONGTEXT checked by json_valid; see 0001_init.sql). IF NOT EXISTS makes a
-- re-run after a failure complete the migration (DDL commits implicitly here).
ALTER TABLE users ADD COLUMN IF NOT EXISTS claims JSON;
