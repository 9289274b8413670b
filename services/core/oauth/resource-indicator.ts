// Resource indicators (RFC 8707) and how they shape a token's audience and scope.
import { InvalidRequest, InvalidScope, InvalidTarget } from '../errors/index.js';
import { CLAIM_SCOPES } from './oidc-claims.js';
import { OFFLINE_ACCESS_SCOPE, OPENID_SCOPE } from './oidc-request.js';
import { difference, intersect } from './scope.js';

/** Most resource indicators one authorization request may carry (RFC 8707 §2.1; bounded here). */
export const MAX_AUTHORIZATION_RESOURCES = 10;
/** Longest resource indicator, characters (the token endpoint's bound too, gateway/form-params.ts). */
export const MAX_RESOURCE_LENGTH = 2048;

/** Checks resource parameters and returns them de-duplicated. Throws InvalidTarget. */
export function validateResourceIndicators(resources: readonly string[]): string[] {
  const out: string[] = [];
  for (const r of resources) {
    if (r === '') continue;
    let url: URL;
    try {
      url = new URL(r);
    } catch {
      // RFC 8707 §2: the resource value must be an absolute URI.
      throw new InvalidTarget('resource must be an absolute URI');
    }
    // RFC 8707 §2: the resource URI must not include a fragment.
    if (url.hash !== '' || r.includes('#')) throw new InvalidTarget('resource must not contain a fragment');
    if (!out.includes(r)) out.push(r);
  }
  return out;
}

/**
 * The scope of a token for the given resources: what was granted, limited to the scopes those
 * resources' endpoints require. A scope the client asked for explicitly that none of the
 * resources offers is an error; from a default (nothing asked) it is silently left out.
 */
export function scopeForResources(input: { granted: readonly string[]; offered: readonly string[]; explicit: boolean }): string[] {
  const outside = difference(input.granted, input.offered);
  // RFC 8707 §2.2: the server may narrow scope to the indicated resource; an explicit request
  // it cannot honour for that resource is invalid_scope (RFC 6749 §5.2).
  if (input.explicit && outside.length > 0) {
    throw new InvalidScope(`scope not offered by the requested resource: ${outside.join(' ')}`, { metadata: { scope: outside.join(' ') } });
  }
  return intersect(input.granted, input.offered);
}

/** The prefix of the scopes of authmesh's own API (admin and self-service RPCs). */
export const OWN_SCOPE_PREFIX = 'authmesh.';

/**
 * The scopes authmesh's own API (resource = the issuer) offers out of `granted`: the authmesh.*
 * ones, and the user scopes (USER_SCOPES: `openid` and the claim scopes UserInfo serves, OIDC Core
 * §5.3, §5.4; `offline_access`). A client whose tokens default to other audiences asks for
 * `resource=<issuer>` to get a token its admin or self-service RPCs, or UserInfo, accept (RFC 8707
 * §2, RFC 9068 §4).
 */
export function ownApiScopes(granted: readonly string[]): string[] {
  return granted.filter((s) => s.startsWith(OWN_SCOPE_PREFIX) || USER_SCOPES.includes(s));
}

/**
 * The `resource` values of an authorization request (RFC 8707 §2.1: the authorization endpoint,
 * a pushed request, a request object, the device authorization endpoint), bounded, then checked
 * like the token endpoint's: absolute URIs without a fragment, de-duplicated in request order.
 * Whether each names a registered service the client may use is the caller's registry check.
 * @param resources the values as received, empty ones ignored (RFC 6749 §3.1)
 * @returns the resource indicators; [] when none was sent
 * @throws InvalidRequest for more than MAX_AUTHORIZATION_RESOURCES values or one longer than
 *   MAX_RESOURCE_LENGTH characters; InvalidTarget for a value that is not an absolute URI or has a fragment
 */
export function validateAuthorizationResources(resources: readonly string[]): string[] {
  const sent = resources.filter((r) => r !== '');
  // RFC 8707 §2: resource may repeat; a request carrying dozens is malformed, not a wish list.
  if (sent.length > MAX_AUTHORIZATION_RESOURCES) throw new InvalidRequest(`at most ${MAX_AUTHORIZATION_RESOURCES} resource parameters are accepted`);
  if (sent.some((r) => r.length > MAX_RESOURCE_LENGTH)) throw new InvalidRequest(`resource must be at most ${MAX_RESOURCE_LENGTH} characters`);
  return validateResourceIndicators(sent);
}

/**
 * The audience of a token redeemed from a grant bound to resources at the authorization endpoint
 * (RFC 8707 §2.1, §2.2): the token request's resources when it names some, each of which must be
 * among the authorized ones; all the authorized ones when it names none.
 * @param authorized the grant's resources (non-empty: a grant without resources uses the client's defaults)
 * @param requested the token request's resources, validated (validateResourceIndicators)
 * @throws InvalidTarget for a requested resource the grant does not cover
 */
export function authorizedTargets(authorized: readonly string[], requested: readonly string[]): string[] {
  if (requested.length === 0) return [...authorized];
  const outside = requested.filter((r) => !authorized.includes(r));
  // RFC 8707 §2.2: a token request may only narrow the resources the grant was authorized for.
  if (outside.length > 0) throw new InvalidTarget(`the authorization grant does not cover the resource: ${outside.join(' ')}`);
  return [...requested];
}

/**
 * Scopes about the user rather than an API (OpenID Connect's openid, offline_access and the claim
 * scopes): a resource indicator never narrows them away, they are for the ID Token, UserInfo and
 * the refresh token.
 */
export const USER_SCOPES: readonly string[] = [OPENID_SCOPE, OFFLINE_ACCESS_SCOPE, ...CLAIM_SCOPES];

/**
 * The scope an authorization request with resource indicators can grant (RFC 8707 §2.1): the
 * requested (or default) scope narrowed to what the chosen resources offer (`offered`: their
 * services' scopes, and the authmesh.* scopes when this server's own API is among them), as the
 * token endpoint narrows a code's scope, the user scopes (USER_SCOPES) kept.
 * @throws InvalidScope when a scope was asked for and nothing of it remains
 */
export function scopeForAuthorizedResources(input: { scope: readonly string[]; offered: readonly string[] }): string[] {
  const kept = input.scope.filter((s) => input.offered.includes(s) || USER_SCOPES.includes(s));
  // RFC 6749 §4.1.2.1: a request left with nothing it could be granted has an invalid scope.
  if (input.scope.length > 0 && kept.length === 0) {
    throw new InvalidScope(`scope not offered by the requested resources: ${input.scope.join(' ')}`);
  }
  return kept;
}
