-- DPoP (issue 14, RFC 9449 §5): the thumbprint (RFC 7638, base64url SHA-256, 43 characters) of
-- the DPoP key a refresh token of a public client is bound to; NULL for an unbound token. A
-- successor inherits it on rotation.
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt VARCHAR(64) NULL;
