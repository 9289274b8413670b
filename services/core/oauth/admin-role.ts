// Which users a token may carry this server's own admin scopes for. RFC 6749 §3.3 lets the
// authorization server grant less than the client asked for (and says so in the response's scope),
// and RFC 9068 §2.2.3 makes the scope of a user's token what the user authorized: a user cannot
// authorize what the user is not allowed to do. So a token issued on a user's behalf carries
// authmesh.admin only when the user holds the role `authmesh.admin`, and authmesh.read only when
// the user holds `authmesh.read` or `authmesh.admin` — whatever the client is allowed.
// The client's own allowance still applies first (grantScope): a client that is not allowed the
// admin scope never gets it, for an administrator either.

/** The role (User.roles) that lets a user hold the admin scope; the same name as the scope. */
export const ADMIN_ROLE = 'authmesh.admin';
/** The role that lets a user hold the read-only admin scope. */
export const READ_ROLE = 'authmesh.read';

/** Each role-gated scope and the roles any one of which lets a user hold it. */
const GATED: ReadonlyMap<string, readonly string[]> = new Map([
  ['authmesh.admin', [ADMIN_ROLE]],
  ['authmesh.read', [READ_ROLE, ADMIN_ROLE]],
]);

/** True when `scopes` holds a scope only some users may hold (so the user's roles must be read). */
export function hasRoleGatedScope(scopes: readonly string[]): boolean {
  return scopes.some((s) => GATED.has(s));
}

/**
 * The scopes of `granted` (already within the client's allowance) that a token issued on behalf of
 * a user with `roles` may carry: the role-gated admin scopes are dropped unless the user holds a
 * role that allows them; every other scope is kept, order kept. Never throws: the narrower scope is
 * returned in the token response (RFC 6749 §5.1), and the client sees what it got.
 */
export function scopesForUser(granted: readonly string[], roles: readonly string[]): string[] {
  const held = new Set(roles);
  // RFC 6749 §3.3: the server may issue fewer scopes than requested, based on its policy.
  return granted.filter((scope) => {
    const allowedRoles = GATED.get(scope);
    return allowedRoles === undefined || allowedRoles.some((r) => held.has(r));
  });
}
