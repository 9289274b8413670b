-- Mutual TLS (issue 14, RFC 8705 §2.1, §2.2): the two mTLS client authentication methods join
-- the allowed token_endpoint_auth_method values. Their metadata (tls_client_auth_subject_dn,
-- tls_client_auth_san_*, tls_client_certificate_bound_access_tokens) lives in clients.metadata.
ALTER TABLE clients DROP CONSTRAINT clients_auth_method_check;
ALTER TABLE clients ADD CONSTRAINT clients_auth_method_check
  CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none',
                                        'tls_client_auth', 'self_signed_tls_client_auth'));
-- RFC 8705 §4: the x5t#S256 (base64url SHA-256, 43 characters) of the client certificate a
-- refresh token of a public client is bound to; NULL for an unbound token. A successor inherits it.
ALTER TABLE refresh_tokens ADD COLUMN x5t_s256 text;
