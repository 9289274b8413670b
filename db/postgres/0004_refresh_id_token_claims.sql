-- The OpenID Connect `claims` request parameter (OIDC Core §5.5) survives a refresh: the standard
-- claim names the authorization request asked for in the ID Token, carried from the code to every
-- refresh token of the grant, so a refresh's new ID Token (§12.2) releases them again. Claim
-- names only (at most the ~20 standard ones), never a user's data; NULL when none were asked for.
ALTER TABLE refresh_tokens ADD COLUMN id_token_claims text[];
