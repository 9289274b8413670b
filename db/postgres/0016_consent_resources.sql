-- A remembered consent records the APIs it was given for (RFC 8707 §2.1 resource indicators) as
-- well as the scopes, so a consent given for one API no longer approves the same scope at another.
-- '' stands for "the request named no resource" (the server-chosen audience); consents remembered
-- before this migration get exactly that, so a request naming a resource asks the user again.
-- Expand only: the previous version's INSERTs omit the column and get the same default.
ALTER TABLE consents ADD COLUMN IF NOT EXISTS resources text[] NOT NULL DEFAULT ARRAY['']::text[];
