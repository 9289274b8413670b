// A remembered consent (RFC 6749 §10.2 leaves remembering to the server): what a user approved for
// a client once, so later authorization requests asking no more are not shown the consent page
// again. "No more" is in two dimensions: the scopes, and the APIs the tokens will be good for
// (RFC 8707 §2.1 resource indicators, which become the access token's `aud`). A consent given for
// one API must not approve the same scope at another API offering a scope of that name.
import { isSubset } from './scope.js';

/**
 * The resource a remembered consent records for a request that named no resource indicator: the
 * audience the server chooses then (the client's and the scopes' defaults). No RFC 8707 resource
 * is empty (§2: an absolute URI), so this value never collides with a real one.
 */
export const SERVER_CHOSEN_AUDIENCE = '';

/** What a user approved for one client: scopes and resources, each de-duplicated. */
export interface ConsentGrant {
  scopes: readonly string[];
  /** Resource indicators (RFC 8707 §2), with SERVER_CHOSEN_AUDIENCE for requests that named none. */
  resources: readonly string[];
}

/**
 * The resources an authorization request asks the user to approve: its RFC 8707 §2.1 targets,
 * or [SERVER_CHOSEN_AUDIENCE] when it named none.
 * @param targets the request's resource indicators, validated against the registry; undefined or empty when none
 */
export function requestedConsentResources(targets: readonly string[] | undefined): string[] {
  return targets === undefined || targets.length === 0 ? [SERVER_CHOSEN_AUDIENCE] : [...new Set(targets)];
}

/**
 * True when the remembered consent already covers the request: every requested scope and every
 * requested resource was approved before (RFC 8707 §2.1: the user approves the APIs as well as the
 * scopes). An empty request is covered by anything; nothing is covered by an absent consent.
 */
export function consentCovers(remembered: ConsentGrant | undefined, requested: ConsentGrant): boolean {
  if (remembered === undefined) return false;
  return isSubset(requested.scopes, remembered.scopes) && isSubset(requested.resources, remembered.resources);
}

/**
 * The consent to remember after the user approved `approved`: the union with what was remembered
 * before, so approving a narrower request never forgets a wider earlier approval.
 */
export function mergeConsent(previous: ConsentGrant | undefined, approved: ConsentGrant): { scopes: string[]; resources: string[] } {
  return {
    scopes: [...new Set([...(previous?.scopes ?? []), ...approved.scopes])],
    resources: [...new Set([...(previous?.resources ?? []), ...approved.resources])],
  };
}
