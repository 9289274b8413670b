// JWT access tokens (RFC 9068): the claims we issue and the checks after signature verification.
import type { JWTVerifyOptions } from 'jose';
import { InvalidToken, ServerError } from '../errors/index.js';
import { isScopeToken } from './scope.js';
import { randomIdentifier } from './secrets.js';

/** RFC 9068 §2.1: access tokens carry typ "at+jwt" so they cannot be confused with ID tokens. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/**
 * Signature algorithms we sign and accept. An explicit list keeps `none` and HS* (a public key
 * used as an HMAC secret) out (RFC 8725 §3.1, RFC 9068 §4).
 */
export const ALLOWED_ALGS = ['ES256', 'RS256', 'EdDSA'] as const;
export type AccessTokenAlg = (typeof ALLOWED_ALGS)[number];

/** The actor chain of a delegated token (RFC 8693 §4.1); the nested act is the previous actor. */
export interface ActClaim {
  sub: string;
  act?: ActClaim;
}

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nbf?: number;
  jti: string;
  client_id: string;
  scope?: string;
  auth_time?: number;
  act?: ActClaim;
  /**
   * Private claim of exchanged tokens: the jti of the token it was exchanged from, then that
   * token's own sources (at most MAX_ACT_DEPTH). A token is dead once any of these is revoked.
   */
  src_jti?: string[];
  /**
   * Private claim: the grant (authorization code redemption or refresh-token family) the token
   * was issued from, an opaque random identifier (never derived from a code or refresh token).
   * Revoking the grant revokes every token carrying it (RFC 6749 §4.1.2, §10.4; RFC 9700 §4.14.2).
   */
  gid?: string;
  /**
   * RFC 7800 §3.1 confirmation of a sender-constrained token: the DPoP key thumbprint (RFC 9449
   * §6.1) and/or the client certificate thumbprint (RFC 8705 §3.1); each present binding is enforced.
   */
  cnf?: Confirmation;
}

/** The `cnf` claim (RFC 7800 §3.1): at least one member is present. */
export interface Confirmation {
  /** RFC 9449 §6.1: base64url SHA-256 JWK thumbprint of the DPoP key. */
  jkt?: string;
  /** RFC 8705 §3.1: base64url SHA-256 of the DER client certificate. */
  'x5t#S256'?: string;
}

export interface BuildAccessTokenClaimsInput {
  issuer: string;
  /** The resource owner, or the client id itself when there is none (RFC 9068 §2.2). */
  subject: string;
  audience: string | readonly string[];
  clientId: string;
  scope: readonly string[];
  ttlSeconds: number;
  now: Date;
  jti?: string | undefined;
  /** When the resource owner authenticated. */
  authTime?: Date | undefined;
  act?: ActClaim | undefined;
  /** For exchanged tokens: the source jti chain (see AccessTokenClaims.src_jti). */
  sourceJtis?: readonly string[] | undefined;
  /** The grant the token is issued from (see AccessTokenClaims.gid). */
  grantId?: string | undefined;
  /** RFC 9449 §6.1: the JWK SHA-256 thumbprint of the DPoP key the token is bound to. */
  dpopJkt?: string | undefined;
  /** RFC 8705 §3.1: the x5t#S256 thumbprint of the client certificate the token is bound to. */
  certificateThumbprint?: string | undefined;
}

/** The longest grant identifier (gid claim) we issue or accept. */
export const MAX_GRANT_ID_LENGTH = 255;

/** Maximum depth of a nested act chain we issue or accept; bounds token size and parsing. */
export const MAX_ACT_DEPTH = 10;

const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** A random token identifier: 128 bits, base64url. */
export function generateJti(): string {
  return randomIdentifier(16);
}

/** The claim set of a new access token. Throws ServerError for an impossible configuration. */
export function buildAccessTokenClaims(input: BuildAccessTokenClaimsInput): AccessTokenClaims {
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds <= 0) throw new ServerError('access token lifetime must be a positive integer');
  const audience = typeof input.audience === 'string' ? [input.audience] : [...new Set(input.audience)];
  // RFC 9068 §2.2: aud is REQUIRED.
  if (audience.length === 0) throw new ServerError('an access token needs an audience');
  const iat = epochSeconds(input.now);
  const claims: AccessTokenClaims = {
    iss: input.issuer,
    sub: input.subject,
    // RFC 7519 §4.1.3: a single audience may be a plain string.
    aud: audience.length === 1 ? (audience[0] as string) : audience,
    exp: iat + input.ttlSeconds,
    iat,
    nbf: iat,
    jti: input.jti ?? generateJti(),
    client_id: input.clientId,
  };
  // RFC 9068 §2.2.3: scope is present when the grant carried scope, space-separated.
  if (input.scope.length > 0) claims.scope = [...new Set(input.scope)].join(' ');
  // RFC 9068 §2.2.1: auth_time when the resource owner authenticated.
  if (input.authTime !== undefined) claims.auth_time = epochSeconds(input.authTime);
  // RFC 8693 §4.1: act names the current actor; nested act claims keep the delegation chain.
  if (input.act !== undefined) claims.act = input.act;
  if (input.sourceJtis !== undefined && input.sourceJtis.length > 0) claims.src_jti = [...input.sourceJtis];
  if (input.grantId !== undefined && input.grantId !== '') {
    if (input.grantId.length > MAX_GRANT_ID_LENGTH) throw new ServerError('a grant identifier is at most 255 characters');
    claims.gid = input.grantId;
  }
  // RFC 9449 §6.1: a DPoP-bound token confirms its key by thumbprint.
  if (input.dpopJkt !== undefined && input.dpopJkt !== '') claims.cnf = { jkt: input.dpopJkt };
  // RFC 8705 §3.1: a certificate-bound token confirms the certificate by its SHA-256 thumbprint.
  if (input.certificateThumbprint !== undefined && input.certificateThumbprint !== '') claims.cnf = { ...claims.cnf, 'x5t#S256': input.certificateThumbprint };
  return claims;
}

/**
 * Options for jose's jwtVerify that enforce our header rules: typ, algorithm allow-list, issuer
 * and audience. Run validateAccessTokenClaims on the payload afterwards.
 */
export function accessTokenVerifyOptions(issuer: string, audience?: string | string[]): JWTVerifyOptions {
  // RFC 9068 §4: check typ and the algorithm against an allow-list; RFC 8725 §3.1 forbids alg confusion.
  const options: JWTVerifyOptions = { algorithms: [...ALLOWED_ALGS], typ: ACCESS_TOKEN_TYP, issuer };
  if (audience !== undefined) options.audience = audience;
  return options;
}

/** The `aud` claim as a list (RFC 7519 §4.1.3: a single audience may be a plain string). */
export function tokenAudiences(claims: Pick<AccessTokenClaims, 'aud'>): string[] {
  return typeof claims.aud === 'string' ? [claims.aud] : [...claims.aud];
}

/**
 * Whether a verified token is addressed to `audience`: RFC 9068 §4 and RFC 7519 §4.1.3 require a
 * resource server to reject a token whose aud does not name it, whatever else the token carries.
 */
export function isAddressedTo(claims: Pick<AccessTokenClaims, 'aud'>, audience: string): boolean {
  return tokenAudiences(claims).includes(audience);
}

/**
 * Whether `audience` is the token's only audience. RFC 9068 §4 / RFC 8707 §2: a token addressed
 * to several resources can be replayed by any of them to the others, so an API that must not
 * accept another API's tokens (authmesh's admin RPCs) requires this, not isAddressedTo.
 */
export function isAddressedOnlyTo(claims: Pick<AccessTokenClaims, 'aud'>, audience: string): boolean {
  const audiences = tokenAudiences(claims);
  return audiences.length > 0 && audiences.every((a) => a === audience);
}

/** Checks a protected header: alg in the allow-list, typ at+jwt, kid present. Throws InvalidToken. */
export function validateAccessTokenHeader(header: Record<string, unknown>): AccessTokenAlg {
  const { alg, typ, kid } = header;
  // RFC 8725 §3.1: only algorithms on our allow-list, never none or HS*.
  if (typeof alg !== 'string' || !(ALLOWED_ALGS as readonly string[]).includes(alg)) throw new InvalidToken('the token is signed with an algorithm that is not allowed');
  // RFC 9068 §4: typ must be at+jwt (application/at+jwt is the same media type).
  if (typeof typ !== 'string' || !['at+jwt', 'application/at+jwt'].includes(typ.toLowerCase())) throw new InvalidToken('the token is not an access token (typ)');
  // RFC 7515 §4.1.4: kid selects the verification key; our tokens always carry one.
  if (typeof kid !== 'string' || kid === '') throw new InvalidToken('the token header has no kid');
  return alg as AccessTokenAlg;
}

export interface ValidateAccessTokenOptions {
  issuer: string;
  /** When given, aud must contain it (RFC 9068 §4). */
  audience?: string | undefined;
  now: Date;
  /** Allowed clock skew in seconds; default 0. */
  clockTolerance?: number | undefined;
}

const isNumericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v !== '';

function parseAct(value: unknown, depth: number): ActClaim {
  // RFC 8693 §4.1: act is a JSON object whose sub identifies the actor.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidToken('the act claim must be an object');
  if (depth > MAX_ACT_DEPTH) throw new InvalidToken('the act claim is nested too deeply');
  const { sub, act } = value as Record<string, unknown>;
  if (!isNonEmptyString(sub)) throw new InvalidToken('the act claim must carry a sub');
  const result: ActClaim = { sub };
  if (act !== undefined) result.act = parseAct(act, depth + 1);
  return result;
}

/**
 * Checks the claims of an access token whose signature jose already verified and returns them
 * typed. Throws InvalidToken naming the claim, never echoing its value.
 */
export function validateAccessTokenClaims(payload: Record<string, unknown>, options: ValidateAccessTokenOptions): AccessTokenClaims {
  const tolerance = options.clockTolerance ?? 0;
  const now = epochSeconds(options.now);
  const { iss, sub, aud, exp, iat, nbf, jti, client_id: clientId, scope, auth_time: authTime, act, src_jti: srcJti, gid, cnf } = payload;

  // RFC 9068 §4: iss must exactly match the issuer we expect.
  if (iss !== options.issuer) throw new InvalidToken('the token was not issued by this issuer');
  // RFC 9068 §2.2: sub is REQUIRED.
  if (!isNonEmptyString(sub)) throw new InvalidToken('the token has no sub claim');
  // RFC 9068 §2.2: aud is REQUIRED, a string or an array of strings (RFC 7519 §4.1.3).
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : undefined;
  if (audiences === undefined || audiences.length === 0 || audiences.some((a) => a === '')) throw new InvalidToken('the token has no valid aud claim');
  // RFC 9068 §4: the resource server must find itself in aud.
  if (options.audience !== undefined && !audiences.includes(options.audience)) throw new InvalidToken('the token is not intended for this audience');
  // RFC 9068 §2.2: exp and iat are REQUIRED NumericDates.
  if (!isNumericDate(exp)) throw new InvalidToken('the token has no valid exp claim');
  if (!isNumericDate(iat)) throw new InvalidToken('the token has no valid iat claim');
  // RFC 7519 §4.1.4: the token must not be accepted on or after exp.
  if (now >= exp + tolerance) throw new InvalidToken('the token has expired');
  // RFC 7519 §4.1.6: an iat in the future means a wrong clock or a forged token.
  if (iat > now + tolerance) throw new InvalidToken('the token was issued in the future');
  // RFC 7519 §4.1.5: the token must not be accepted before nbf.
  if (nbf !== undefined && (!isNumericDate(nbf) || nbf > now + tolerance)) throw new InvalidToken('the token is not yet valid');
  // RFC 9068 §2.2: jti and client_id are REQUIRED.
  if (!isNonEmptyString(jti)) throw new InvalidToken('the token has no jti claim');
  if (!isNonEmptyString(clientId)) throw new InvalidToken('the token has no client_id claim');
  // RFC 9068 §2.2.3: scope is a space-separated list of RFC 6749 §3.3 scope tokens.
  if (scope !== undefined && (typeof scope !== 'string' || !scope.split(' ').every(isScopeToken))) throw new InvalidToken('the token has a malformed scope claim');
  // RFC 9068 §2.2.1: auth_time is a NumericDate.
  if (authTime !== undefined && !isNumericDate(authTime)) throw new InvalidToken('the token has a malformed auth_time claim');

  const claims: AccessTokenClaims = { iss, sub, aud: aud as string | string[], exp, iat, jti, client_id: clientId };
  if (nbf !== undefined) claims.nbf = nbf as number;
  if (scope !== undefined) claims.scope = scope;
  if (authTime !== undefined) claims.auth_time = authTime;
  if (act !== undefined) claims.act = parseAct(act, 1);
  if (srcJti !== undefined) {
    // Our private claim: a bounded list of token ids whose revocation ends this token too.
    if (!Array.isArray(srcJti) || srcJti.length === 0 || srcJti.length > MAX_ACT_DEPTH || !srcJti.every((j) => isNonEmptyString(j) && j.length <= 256)) {
      throw new InvalidToken('the token has a malformed src_jti claim');
    }
    claims.src_jti = srcJti as string[];
  }
  if (gid !== undefined) {
    // Our private claim: the grant whose revocation ends this token too.
    if (!isNonEmptyString(gid) || gid.length > MAX_GRANT_ID_LENGTH) throw new InvalidToken('the token has a malformed gid claim');
    claims.gid = gid;
  }
  if (cnf !== undefined) {
    // RFC 7800 §3.1, RFC 9449 §6.1: cnf is an object; jkt a base64url SHA-256 thumbprint (43 characters).
    // RFC 8705 §3.1: x5t#S256 likewise (base64url SHA-256 of the certificate). At least one is present.
    const members = cnf !== null && typeof cnf === 'object' && !Array.isArray(cnf) ? (cnf as Record<string, unknown>) : undefined;
    const thumb = (v: unknown) => v === undefined || (typeof v === 'string' && /^[A-Za-z0-9_-]{43}$/.test(v));
    const jkt = members?.jkt;
    const x5t = members?.['x5t#S256'];
    if (members === undefined || !thumb(jkt) || !thumb(x5t) || (jkt === undefined && x5t === undefined)) throw new InvalidToken('the token has a malformed cnf claim');
    claims.cnf = {};
    if (jkt !== undefined) claims.cnf.jkt = jkt as string;
    if (x5t !== undefined) claims.cnf['x5t#S256'] = x5t as string;
  }
  return claims;
}
