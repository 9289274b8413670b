// The authorization endpoint's response: where the user agent is sent back to the client
// (RFC 6749 §4.1.2 / §4.1.2.1, RFC 9207 §2).
import { InvalidRedirectUri } from '../errors/index.js';

export interface AuthorizationSuccess {
  /** The redirect URI the request resolved to, exactly as matched (loopback port included). */
  redirectUri: string;
  code: string;
  state?: string | undefined;
  /** This server's issuer identifier (RFC 9207 §2). */
  issuer: string;
}

export interface AuthorizationFailure {
  redirectUri: string;
  /** An RFC 6749 §4.1.2.1 error code, e.g. access_denied. */
  error: string;
  errorDescription?: string | undefined;
  state?: string | undefined;
  issuer: string;
}

/**
 * Adds parameters to a redirect URI's query component, keeping the query it already has byte
 * for byte (RFC 6749 §3.1.2: the endpoint URI "MUST be retained when adding additional query
 * parameters"). Parameters with an undefined or empty value are left out.
 */
export function addQueryParameters(redirectUri: string, params: ReadonlyArray<readonly [string, string | undefined]>): string {
  // RFC 6749 §3.1.2: the redirection endpoint MUST NOT include a fragment; registration refuses
  // one, so a fragment here means the URI did not come from the registry.
  if (redirectUri.includes('#')) throw new InvalidRedirectUri('redirect URI must not contain a fragment');
  const added = new URLSearchParams();
  for (const [name, value] of params) if (value !== undefined && value !== '') added.append(name, value);
  const encoded = added.toString();
  if (encoded === '') return redirectUri;
  const queryAt = redirectUri.indexOf('?');
  // RFC 6749 §4.1.2: parameters go into the query component, application/x-www-form-urlencoded
  // (Appendix B); an existing query is extended, never rewritten.
  if (queryAt === -1) return `${redirectUri}?${encoded}`;
  const separator = redirectUri.endsWith('?') || redirectUri.endsWith('&') ? '' : '&';
  return `${redirectUri}${separator}${encoded}`;
}

/** The success redirect: code, state if the request had one, and iss (RFC 6749 §4.1.2, RFC 9207 §2). */
export function buildAuthorizationSuccessRedirect({ redirectUri, code, state, issuer }: AuthorizationSuccess): string {
  return addQueryParameters(redirectUri, [
    ['code', code],
    // RFC 6749 §4.1.2: state is REQUIRED in the response if it was in the request.
    ['state', state],
    // RFC 9207 §2: iss lets the client detect a mix-up between authorization servers.
    ['iss', issuer],
  ]);
}

/** The error redirect: error, error_description, state and iss (RFC 6749 §4.1.2.1, RFC 9207 §2). */
export function buildAuthorizationErrorRedirect({ redirectUri, error, errorDescription, state, issuer }: AuthorizationFailure): string {
  return addQueryParameters(redirectUri, [
    ['error', error],
    ['error_description', errorDescription],
    // RFC 6749 §4.1.2.1: state is REQUIRED if it was present in the request.
    ['state', state],
    // RFC 9207 §2: error responses carry iss too.
    ['iss', issuer],
  ]);
}
