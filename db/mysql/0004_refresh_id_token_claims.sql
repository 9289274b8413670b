-- The claims request's ID Token claim names on refresh tokens, as
-- db/postgres/0006_refresh_id_token_claims.sql, spelled for MariaDB (arrays are JSON, like scope).
-- IF NOT EXISTS makes a re-run after a failure complete the migration (DDL commits implicitly here).
ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS id_token_claims JSON;
