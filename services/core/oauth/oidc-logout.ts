// Pure rules of OpenID Connect logout: RP-Initiated Logout 1.0 (post_logout_redirect_uri matching,
// the redirect back with state, what an id_token_hint proves) and Back-Channel Logout 1.0 (the
// logout token's claims). No I/O: the gateway verifies signatures, the user service sends tokens.
import { InvalidRequest } from '../errors/index.js';
import { hasIdTokenRequiredClaims } from './oidc-id-token.js';

/** Back-Channel Logout 1.0 §2.4: the event member of every logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Back-Channel Logout 1.0 §2.4: the JWS typ of logout tokens (explicit typing, RFC 8725 §3.11). */
export const LOGOUT_TOKEN_TYP = 'logout+jwt';
/** Lifetime of a logout token, seconds: long enough for the retries, short enough to be useless later (§2.4 recommends ≤ 2 minutes). */
export const LOGOUT_TOKEN_TTL_SECONDS = 120;
// The typ an ID Token carries (shared rule of issue 13: ID Tokens stay `JWT`, access tokens are
// `at+jwt`). Private: oidc-id-token.ts (oidc-core) exports the same value as ID_TOKEN_TYP.
const HINT_TYP = 'JWT';
/** Signing algorithms the key service uses: the only ones an id_token_hint may carry. */
export const ID_TOKEN_HINT_ALGS: readonly string[] = ['ES256', 'RS256', 'EdDSA'];

export interface LogoutTokenInput {
  issuer: string;
  /** The receiving client: the token's aud. */
  clientId: string;
  /** The subject as the client knows it (its ID Tokens' sub). */
  sub: string;
  /** The public session id (hashToken of the session id); always sent. */
  sid: string;
  /** Issue time, epoch seconds. */
  iat: number;
  /** A unique id (generateId). */
  jti: string;
}

/**
 * The claims of a logout token (Back-Channel Logout 1.0 §2.4): iss, aud, iat, exp (iat +
 * LOGOUT_TOKEN_TTL_SECONDS), jti, events with the back-channel logout event, sub and sid. Never a
 * nonce (§2.4: "MUST NOT contain a nonce Claim", so it cannot pass for an ID Token).
 * @throws InvalidRequest when neither sub nor sid is given, or the client id or issuer is empty
 */
export function logoutTokenClaims(input: LogoutTokenInput): Record<string, string | number | Record<string, Record<string, never>>> {
  if (input.issuer === '' || input.clientId === '' || input.jti === '') throw new InvalidRequest('a logout token needs iss, aud and jti');
  // §2.4: "A Logout Token MUST contain either a sub or a sid Claim, and MAY contain both."
  if (input.sub === '' && input.sid === '') throw new InvalidRequest('a logout token needs sub or sid');
  if (!Number.isSafeInteger(input.iat) || input.iat <= 0) throw new InvalidRequest('iat must be epoch seconds');
  return {
    iss: input.issuer,
    aud: input.clientId,
    iat: input.iat,
    exp: input.iat + LOGOUT_TOKEN_TTL_SECONDS,
    jti: input.jti,
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    ...(input.sub !== '' ? { sub: input.sub } : {}),
    ...(input.sid !== '' ? { sid: input.sid } : {}),
  };
}

/**
 * Whether requested is one of the client's registered post_logout_redirect_uris. RP-Initiated
 * Logout 1.0 §3: "MUST have been previously registered"; compared as exact strings (OpenID
 * Connect Core §3.1.2.1 simple string comparison, no normalization and no loopback port
 * exception), so nothing unregistered is ever a redirect target (no open redirector, RFC 9700 §4.11).
 */
export function matchPostLogoutRedirectUri(registered: readonly string[], requested: string): boolean {
  return requested !== '' && registered.includes(requested);
}

/**
 * Where the user agent goes after logout: the registered URI with state appended when the RP sent
 * one (RP-Initiated Logout 1.0 §3: "state … passed back to the RP using the state parameter"),
 * keeping the URI's own query.
 */
export function postLogoutRedirect(uri: string, state: string): string {
  const url = new URL(uri);
  if (state !== '') url.searchParams.append('state', state);
  return url.toString();
}

export interface IdTokenHint {
  sub: string;
  /** The clients the ID Token was issued to (aud). */
  audiences: string[];
  /** The session it names, when present. */
  sid: string | undefined;
}

/**
 * What a signature-verified id_token_hint proves (RP-Initiated Logout 1.0 §2: "previously issued
 * … ID Token"; an expired one is still accepted, so exp is not checked). The header must be an ID
 * Token's (typ JWT, never at+jwt or logout+jwt: an access or logout token is no hint); iss must be
 * ours; it must carry every claim an ID Token requires (hasIdTokenRequiredClaims: iss, sub,
 * aud, exp, iat); sub non-empty; aud a non-empty string or array of strings.
 * @throws InvalidRequest when any of that fails
 */
export function idTokenHintClaims(header: Record<string, unknown>, payload: Record<string, unknown>, issuer: string): IdTokenHint {
  const typ = header.typ;
  // RFC 8725 §3.11: explicit typing keeps access and logout tokens from being replayed as hints.
  if (typ !== undefined && (typeof typ !== 'string' || typ.toUpperCase() !== HINT_TYP)) throw new InvalidRequest('id_token_hint is not an ID Token');
  // RP-Initiated Logout 1.0 §2: a previously issued ID Token, so it carries OIDC Core §2's iss, sub,
  // aud, exp and iat (a signed UserInfo response, typ JWT too, has no exp/iat and is no hint).
  if (!hasIdTokenRequiredClaims(payload)) throw new InvalidRequest('id_token_hint is not an ID Token');
  // RP-Initiated Logout 1.0 §2: a hint we issued.
  if (payload.iss !== issuer) throw new InvalidRequest('id_token_hint was not issued by this server');
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidRequest('id_token_hint has no sub');
  const aud = payload.aud;
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : [];
  if (audiences.length === 0 || audiences.includes('')) throw new InvalidRequest('id_token_hint has no audience');
  // Core §2: access tokens name a client_id and scope; an ID Token has neither of those as its kind.
  if ('scope' in payload || 'client_id' in payload) throw new InvalidRequest('id_token_hint is not an ID Token');
  const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
  return { sub: payload.sub, audiences, sid };
}
