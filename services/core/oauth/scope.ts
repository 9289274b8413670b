// Scope strings and scope arithmetic (RFC 6749 §3.3).
import { InvalidScope } from '../errors/index.js';

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), i.e. no space, '"' or '\'.
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

export function isScopeToken(token: string): boolean {
  return SCOPE_TOKEN.test(token);
}

/**
 * Parses a scope parameter into its tokens, duplicates removed and order kept. An absent or empty
 * parameter yields []. Throws InvalidScope for a malformed string.
 */
export function parseScope(scope: string | undefined): string[] {
  // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
  if (scope === undefined || scope === '') return [];
  const tokens = scope.split(' ');
  const seen = new Set<string>();
  for (const token of tokens) {
    // RFC 6749 §3.3: tokens are separated by exactly one space, so an empty token is malformed.
    if (token === '') throw new InvalidScope('scope must be scope tokens separated by single spaces');
    // RFC 6749 §3.3: scope-token characters are %x21 / %x23-5B / %x5D-7E.
    if (!isScopeToken(token)) throw new InvalidScope('scope contains a character not allowed in a scope token');
    seen.add(token);
  }
  return [...seen];
}

/** Joins scope tokens with single spaces (RFC 6749 §3.3), duplicates removed. */
export function formatScope(scopes: readonly string[]): string {
  return [...new Set(scopes)].join(' ');
}

/** True when every token of `subset` is in `superset`. */
export function isSubset(subset: readonly string[], superset: readonly string[]): boolean {
  const all = new Set(superset);
  return subset.every((s) => all.has(s));
}

/** The tokens of `a` that are also in `b`, in `a`'s order, without duplicates. */
export function intersect(a: readonly string[], b: readonly string[]): string[] {
  const other = new Set(b);
  return [...new Set(a)].filter((s) => other.has(s));
}

/** The tokens of `a` that are not in `b`. */
export function difference(a: readonly string[], b: readonly string[]): string[] {
  const other = new Set(b);
  return [...new Set(a)].filter((s) => !other.has(s));
}

function rejectExcess(excess: readonly string[], what: string): never {
  const list = formatScope(excess);
  throw new InvalidScope(`${what}: ${list}`, { metadata: { scope: list } });
}

export interface GrantScopeInput {
  /** The parsed scope the client asked for; [] when it asked for none. */
  requested: readonly string[];
  /** The scopes the client may be granted. */
  allowed: readonly string[];
  /** Granted when the request names no scope; defaults to everything the client is allowed. */
  defaultScope?: readonly string[] | undefined;
}

/** The scope to grant for a request, or InvalidScope naming the scopes the client may not have. */
export function grantScope({ requested, allowed, defaultScope }: GrantScopeInput): string[] {
  // RFC 6749 §3.3: with no scope requested the server applies its pre-defined default; the
  // default can never exceed what the client is allowed.
  if (requested.length === 0) return intersect(defaultScope ?? allowed, allowed);
  const excess = difference(requested, allowed);
  // RFC 6749 §3.3 / §5.2: scope outside the client's allowance is invalid_scope.
  if (excess.length > 0) rejectExcess(excess, 'the client is not allowed the scope');
  return [...new Set(requested)];
}

/**
 * The scope of a token derived from an earlier grant (refresh, token exchange): the request may
 * narrow the original scope but never widen it. An empty request keeps the original scope.
 */
export function narrowScope(requested: readonly string[], original: readonly string[]): string[] {
  // RFC 6749 §6: if omitted, the scope is treated as equal to the original grant's.
  if (requested.length === 0) return [...new Set(original)];
  const excess = difference(requested, original);
  // RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
  if (excess.length > 0) rejectExcess(excess, 'the scope exceeds the original grant');
  return [...new Set(requested)];
}
