-- Mutual TLS (issue 14, RFC 8705 §2.1, §2.2), as db/postgres/0006_mtls_auth_methods.sql spelled
-- for MariaDB: one ALTER statement, and IF EXISTS, so a re-run after a failure completes the
-- migration (DDL commits implicitly here).
ALTER TABLE clients
  DROP CONSTRAINT IF EXISTS clients_auth_method_check,
  ADD CONSTRAINT clients_auth_method_check
    CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none',
                                          'tls_client_auth', 'self_signed_tls_client_auth'));
-- RFC 8705 §4: the certificate thumbprint a public client's refresh token is bound to (see the
-- postgres file).
ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS x5t_s256 VARCHAR(64) NULL;
