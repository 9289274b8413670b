-- Protected Resource Metadata (issue 15, RFC 9728 §2): whether a registered service accepts only
-- DPoP-bound access tokens (RFC 9449 §7.1). Existing services accept bearer tokens as before.
ALTER TABLE services ADD COLUMN dpop_bound_access_tokens_required boolean NOT NULL DEFAULT false;
