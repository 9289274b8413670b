// The ID Token (OpenID Connect Core 1.0 §2, §3.1.3.6, §12.2): its claims and at_hash. Pure: the
// caller signs the claims with the key service (typ JWT) and brings the clock.
import { createHash } from 'node:crypto';
import { InvalidRequest } from '../errors/index.js';

/** The ID Token's claims as this provider issues them (OIDC Core §2). Times in epoch seconds. */
export interface IdTokenClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  auth_time?: number;
  nonce?: string;
  /** OIDC Core §2: the authorized party, the client_id the token was issued to. */
  azp: string;
  at_hash?: string;
  acr?: string;
  amr?: string[];
  /** OpenID Connect Front-/Back-Channel Logout §2: the session id (hashToken of the login session). */
  sid?: string;
  [claim: string]: unknown;
}

export interface IdTokenInput {
  issuer: string;
  /** The subject identifier for this client (public: the user id; pairwise: subjectIdentifier). */
  subject: string;
  clientId: string;
  now: Date;
  ttlSeconds: number;
  authTime?: Date | undefined;
  /** The authorization request's nonce; never on ID Tokens from a refresh (OIDC Core §12.2). */
  nonce?: string | undefined;
  /** at_hash of the access token issued with it (atHash). */
  accessTokenHash?: string | undefined;
  acr?: string | undefined;
  amr?: readonly string[] | undefined;
  sid?: string | undefined;
}

/** Longest ID Token lifetime, seconds: the ID Token is evidence of a login, not a credential to keep. */
export const MAX_ID_TOKEN_TTL_SECONDS = 3600;

/**
 * The claims of an ID Token: iss, sub, aud [client_id], exp, iat, azp, and auth_time, nonce,
 * at_hash, acr, amr, sid when known. auth_time is always included when known: OIDC Core §2 makes
 * it REQUIRED with max_age or require_auth_time, and it costs nothing otherwise.
 * @throws RangeError for a ttlSeconds outside 1..MAX_ID_TOKEN_TTL_SECONDS (a programming error)
 */
export function buildIdTokenClaims(input: IdTokenInput): IdTokenClaims {
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds < 1 || input.ttlSeconds > MAX_ID_TOKEN_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be a whole number from 1 to ${MAX_ID_TOKEN_TTL_SECONDS}`);
  }
  const iat = Math.floor(input.now.getTime() / 1000);
  const claims: IdTokenClaims = {
    iss: input.issuer,
    sub: input.subject,
    // OIDC Core §2: aud MUST contain the client_id; azp names it as the authorized party.
    aud: [input.clientId],
    exp: iat + input.ttlSeconds,
    iat,
    azp: input.clientId,
  };
  if (input.authTime !== undefined) claims.auth_time = Math.floor(input.authTime.getTime() / 1000);
  // OIDC Core §3.1.3.6 / §2: the nonce of the authentication request, passed through unmodified.
  if (input.nonce !== undefined && input.nonce !== '') claims.nonce = input.nonce;
  if (input.accessTokenHash !== undefined) claims.at_hash = input.accessTokenHash;
  if (input.acr !== undefined && input.acr !== '') claims.acr = input.acr;
  if (input.amr !== undefined && input.amr.length > 0) claims.amr = [...input.amr];
  if (input.sid !== undefined && input.sid !== '') claims.sid = input.sid;
  return claims;
}

/** The hash function of at_hash/c_hash for a JWS alg (OIDC Core §3.1.3.6), or undefined when unknown. */
export function hashAlgorithmOf(alg: string): 'sha256' | 'sha384' | 'sha512' | undefined {
  // OIDC Core §3.1.3.6: "the hash algorithm used is the hash algorithm used in the alg Header Parameter".
  if (/^(ES|RS|PS)256$/.test(alg)) return 'sha256';
  if (/^(ES|RS|PS)384$/.test(alg)) return 'sha384';
  if (/^(ES|RS|PS)512$/.test(alg)) return 'sha512';
  // OpenID Foundation errata for Ed25519 (the only EdDSA curve we sign with): SHA-512.
  if (alg === 'EdDSA' || alg === 'Ed25519') return 'sha512';
  return undefined;
}

/**
 * at_hash (OIDC Core §3.1.3.6): base64url of the left-most half of the hash of the ASCII bytes of
 * the access token, the hash being the one of the ID Token's alg.
 * @throws RangeError for an alg without a known hash (never one we sign with)
 */
export function atHash(accessToken: string, alg: string): string {
  const hash = hashAlgorithmOf(alg);
  if (hash === undefined) throw new RangeError(`no at_hash is defined for alg ${alg}`);
  const digest = createHash(hash).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** The `typ` header of our ID Tokens (OIDC Core §2 leaves it open; RFC 7519 §5.1's "JWT"). */
export const ID_TOKEN_TYP = 'JWT';

/**
 * Whether a JWT payload carries every claim OIDC Core §2 makes REQUIRED in an ID Token: iss, sub
 * (1..255 characters), aud (a string or a non-empty array of strings), exp and iat (NumericDate,
 * finite numbers). The one rule telling an ID Token from other signed JWTs of ours with typ JWT,
 * such as a signed UserInfo response (iss, sub, aud but no exp/iat): only an ID Token is a valid
 * id_token_hint (OIDC Core §3.1.2.1, RP-Initiated Logout 1.0 §2). Values are not checked against
 * the issuer, client or clock here.
 */
export function hasIdTokenRequiredClaims(payload: Record<string, unknown>): boolean {
  const { iss, sub, aud, exp, iat } = payload;
  // OIDC Core §2: iss, sub, aud, exp and iat are REQUIRED in every ID Token.
  if (typeof iss !== 'string' || iss === '') return false;
  // OIDC Core §2: sub "MUST NOT exceed 255 ASCII characters".
  if (typeof sub !== 'string' || sub === '' || sub.length > 255) return false;
  const audOk = typeof aud === 'string' ? aud !== '' : Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string' && a !== '');
  if (!audOk) return false;
  return typeof exp === 'number' && Number.isFinite(exp) && typeof iat === 'number' && Number.isFinite(iat);
}

/**
 * Checks the header and claims of an id_token_hint whose signature was verified against our JWKS
 * (OIDC Core §3.1.2.1: "an ID Token previously issued by the Authorization Server"; its expiry
 * does not matter, but exp and iat must be there: hasIdTokenRequiredClaims). Returns its sub.
 * @throws InvalidRequest when it is not an ID Token we issued to this client (an access token's
 *   typ at+jwt included: the two are never mistaken for each other)
 */
export function idTokenHintSubject(header: { typ?: unknown }, payload: Record<string, unknown>, expected: { issuer: string; clientId: string }): string {
  const fail = () => new InvalidRequest('id_token_hint is not an ID Token issued by this server to this client');
  // RFC 8725 §3.11: the type tells an ID Token (typ JWT) from an access token (typ at+jwt, RFC 9068 §2.1).
  if (typeof header.typ !== 'string' || header.typ.toUpperCase() !== ID_TOKEN_TYP) throw fail();
  // OIDC Core §3.1.3.7: iss must be ours and aud must contain the client_id.
  // OIDC Core §3.1.2.1: only an ID Token is a hint; OIDC Core §2: it carries iss, sub, aud, exp, iat.
  if (!hasIdTokenRequiredClaims(payload)) throw fail();
  if (payload.iss !== expected.issuer) throw fail();
  const aud = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
  if (!aud.includes(expected.clientId)) throw fail();
  if (typeof payload.sub !== 'string' || payload.sub === '') throw fail();
  return payload.sub;
}
