// A remembered consent (RFC 6749 §10.2 leaves remembering to the server): what a user approved for
// a client once, so later authorization requests asking no more are not shown the consent page
// again. "No more" means no scope at an API (RFC 8707 §2.1 resource indicators, which become the
// access token's `aud`) that the user did not approve there: a consent is a set of (resource,
// scope) pairs. Two separate lists would combine approvals: orders.read at one API and eu.write at
// another would then approve orders.read at the second (review 9 F1).
import { isSubset } from './scope.js';

/**
 * The resource a remembered consent records for a request that named no resource indicator: the
 * audience the server chooses then (the client's and the scopes' defaults). No RFC 8707 resource
 * is empty (§2: an absolute URI), so this value never collides with a real one.
 */
export const SERVER_CHOSEN_AUDIENCE = '';

/** What a user approved for one client, as the store keeps it. */
export interface RememberedConsent {
  /** Every scope approved, at any resource (kept for display and for consents stored before pairs). */
  scopes: readonly string[];
  /**
   * The approved pairs, each `<resource> <scope>` (consentPair): neither an RFC 8707 resource (an
   * absolute URI) nor a scope token (RFC 6749 §3.3) contains a space. Empty in a consent stored
   * before pairs were recorded: its scopes then count as approved for the server-chosen audience.
   */
  resourceScopes: readonly string[];
}

/** One approved pair as stored: `<resource> <scope>`, resource '' for the server-chosen audience. */
export function consentPair(resource: string, scope: string): string {
  return `${resource} ${scope}`;
}

/**
 * The pairs an authorization request asks the user to approve: every requested scope at every
 * resource it named (RFC 8707 §2.1), or at the server-chosen audience when it named none.
 * @param scopes the request's scopes (after any narrowing to what its resources offer)
 * @param targets its resource indicators, validated against the registry; undefined or empty when none
 */
export function requestedConsentPairs(scopes: readonly string[], targets: readonly string[] | undefined): string[] {
  const resources = targets === undefined || targets.length === 0 ? [SERVER_CHOSEN_AUDIENCE] : [...new Set(targets)];
  return [...new Set(resources.flatMap((r) => [...new Set(scopes)].map((s) => consentPair(r, s))))];
}

/** The pairs a remembered consent approves (a consent stored before pairs: its scopes at the server-chosen audience). */
function approvedPairs(remembered: RememberedConsent): string[] {
  if (remembered.resourceScopes.length > 0) return [...remembered.resourceScopes];
  return remembered.scopes.map((s) => consentPair(SERVER_CHOSEN_AUDIENCE, s));
}

/**
 * True when the remembered consent already covers the request: every (resource, scope) pair it
 * asks for was approved before. An empty request is covered by any consent; an absent consent
 * covers nothing.
 * @param requested the request's pairs (requestedConsentPairs)
 */
export function consentCovers(remembered: RememberedConsent | undefined, requested: readonly string[]): boolean {
  if (remembered === undefined) return false;
  return isSubset(requested, approvedPairs(remembered));
}

/**
 * The consent to remember after the user approved `approvedScopes` at the pairs `approved`: the
 * union with what was remembered before, so approving a narrower request never forgets a wider
 * earlier approval.
 */
export function mergeConsent(previous: RememberedConsent | undefined, approvedScopes: readonly string[], approved: readonly string[]): { scopes: string[]; resourceScopes: string[] } {
  return {
    scopes: [...new Set([...(previous?.scopes ?? []), ...approvedScopes])],
    resourceScopes: [...new Set([...(previous === undefined ? [] : approvedPairs(previous)), ...approved])],
  };
}
