-- A remembered consent records what it approved as (resource, scope) pairs, '<resource> <scope>'
-- (RFC 8707 §2.1 resource indicators; '' for the server-chosen audience of a request naming
-- none), so a consent given for one API no longer approves the same scope at another, and two
-- consents at two APIs do not combine into scopes approved at neither. Consents remembered before
-- this migration have none: their scopes count for requests naming no resource only, so a request
-- naming one asks the user again. Expand only: the previous version's INSERTs omit the column.
ALTER TABLE consents ADD COLUMN IF NOT EXISTS resource_scopes text[] NOT NULL DEFAULT '{}'::text[];
