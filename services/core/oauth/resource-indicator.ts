// Resource indicators (RFC 8707) and how they shape a token's audience and scope.
import { InvalidScope, InvalidTarget } from '../errors/index.js';
import { difference, intersect } from './scope.js';

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
 * ones. A client whose tokens default to other audiences asks for `resource=<issuer>` to get a
 * token its admin or self-service RPCs accept (RFC 8707 §2, RFC 9068 §4).
 */
export function ownApiScopes(granted: readonly string[]): string[] {
  return granted.filter((s) => s.startsWith(OWN_SCOPE_PREFIX));
}
