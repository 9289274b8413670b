-- OpenID Connect standard claims (issue 13, OIDC Core §5.1) stored on the user: one JSON object
-- (services/core/store/types.ts StandardClaims: given_name, family_name, ..., email_verified,
-- phone_number, phone_number_verified, address), NULL when none is set. email, name
-- (display_name) and updated_at come from the users table's own columns. The user service
-- validates every member before it is written; the store keeps the object as given.
ALTER TABLE users ADD COLUMN claims jsonb;
