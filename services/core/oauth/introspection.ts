// Token introspection responses (RFC 7662 §2.2).
import { isAddressedTo, type ActClaim, type AccessTokenClaims, type Confirmation } from './access-token-claims.js';

/** RFC 7662 §2.2: the whole answer for a token that is not active, whatever the reason. */
export interface InactiveIntrospection {
  active: false;
}

export interface ActiveIntrospection {
  active: true;
  scope?: string;
  client_id: string;
  username?: string;
  token_type?: 'Bearer' | 'DPoP' | 'refresh_token';
  exp: number;
  iat: number;
  nbf?: number;
  sub: string;
  aud?: string | string[];
  iss: string;
  jti: string;
  act?: ActClaim;
  /** RFC 9449 §6.2: the confirmation of a DPoP-bound token. */
  cnf?: Confirmation;
}

export type IntrospectionResponse = ActiveIntrospection | InactiveIntrospection;

/** What we know about a token that passed every check: claims of a verified JWT or a refresh-token record. */
export interface IntrospectedToken {
  iss: string;
  sub: string;
  aud?: string | string[] | undefined;
  exp: number;
  iat: number;
  nbf?: number | undefined;
  jti: string;
  client_id: string;
  scope?: string | undefined;
  act?: ActClaim | undefined;
  cnf?: Confirmation | undefined;
}

export interface IntrospectionOptions {
  /**
   * 'Bearer' for access tokens (RFC 6749 §7.1); 'refresh_token' for refresh tokens. A token with
   * cnf.jkt is reported as 'DPoP' whatever is passed (RFC 9449 §6.2).
   */
  tokenType: 'Bearer' | 'refresh_token';
  /** The resource owner's human-readable identifier, when there is one. */
  username?: string | undefined;
  now: Date;
}

/** RFC 7662 §2.2: reveal nothing about why a token is not active. */
export function inactiveIntrospection(): InactiveIntrospection {
  return { active: false };
}

/**
 * Builds the introspection answer for a token already verified (signature, revocation). A token
 * that is expired or not yet valid at `now` is reported inactive.
 */
export function buildIntrospectionResponse(token: IntrospectedToken | AccessTokenClaims | undefined, options: IntrospectionOptions): IntrospectionResponse {
  if (token === undefined) return inactiveIntrospection();
  const now = Math.floor(options.now.getTime() / 1000);
  // RFC 7662 §4: the server must check expiry itself before answering active.
  if (now >= token.exp) return inactiveIntrospection();
  if (token.nbf !== undefined && token.nbf > now) return inactiveIntrospection();
  const response: ActiveIntrospection = {
    active: true,
    client_id: token.client_id,
    token_type: options.tokenType,
    exp: token.exp,
    iat: token.iat,
    sub: token.sub,
    iss: token.iss,
    jti: token.jti,
  };
  // RFC 7662 §2.2: the optional members are present only when they have a value.
  if (token.scope !== undefined && token.scope !== '') response.scope = token.scope;
  if (options.username !== undefined && options.username !== '') response.username = options.username;
  if (token.nbf !== undefined) response.nbf = token.nbf;
  if (token.aud !== undefined) response.aud = token.aud;
  // RFC 8693 §4.1: act may appear in an introspection response to show the delegation chain.
  if (token.act !== undefined) response.act = token.act;
  // RFC 9449 §6.2: a DPoP-bound token is reported with its cnf (RFC 7800 §3.1) and token_type DPoP.
  // RFC 8705 §3.2: a certificate-bound token's cnf carries x5t#S256 (its token_type stays Bearer).
  if (token.cnf !== undefined) {
    response.cnf = { ...token.cnf };
    if (options.tokenType === 'Bearer' && token.cnf.jkt !== undefined) response.token_type = 'DPoP';
  }
  return response;
}

/**
 * The registered scope that makes a client a protected resource allowed to introspect any token
 * of this server (RFC 7662 §4: the server should authorize protected resources specifically).
 */
export const INTROSPECTION_SCOPE = 'authmesh.introspect';

export interface IntrospectingClient {
  clientId: string;
  /** The scopes registered for the client (what it may be granted), not those of some token. */
  registeredScopes: readonly string[];
}

/**
 * Whether `caller` may learn about an active access token (RFC 7662 §4): the client the token was
 * issued to, a client the token is addressed to (its client_id in `aud`), or a client registered
 * as a protected resource (INTROSPECTION_SCOPE, or the admin scope `adminScope`). Anyone else gets
 * active=false, exactly as for an unknown token, so introspection cannot be used to scan tokens.
 */
export function mayIntrospect(caller: IntrospectingClient, token: Pick<AccessTokenClaims, 'client_id' | 'aud'>, adminScope: string): boolean {
  if (token.client_id === caller.clientId || isAddressedTo(token, caller.clientId)) return true;
  return caller.registeredScopes.includes(INTROSPECTION_SCOPE) || caller.registeredScopes.includes(adminScope);
}
