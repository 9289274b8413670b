-- Audit trail (second review N9): a failed login for an unknown user used to record the name
-- tried, which is often a password typed into the username field, and the trail is now readable
-- by authmesh.read tokens (ListAuditEvents). New rows no longer carry it (services/user/login-guard.ts);
-- this removes it from the rows written before.
UPDATE audit_events
   SET details = JSON_REMOVE(details, '$.username')
 WHERE type = 'login.failure'
   AND JSON_UNQUOTE(JSON_EXTRACT(details, '$.reason')) = 'unknown_user'
   AND JSON_CONTAINS_PATH(details, 'one', '$.username');
