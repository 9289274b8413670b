// DPoP (RFC 9449): validation of a proof JWT, the JWK thumbprint a bound token carries (cnf.jkt),
// the access-token hash (ath) and the server-nonce windows. Pure: no I/O; replay markers and
// nonces are kept by the caller (the token service, in the grid).
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { InvalidDpopProof, InvalidGrant, InvalidRequest, InvalidToken, UseDpopNonce } from '../errors/index.js';

/** RFC 9449 §4.2: the proof's typ header. */
export const DPOP_PROOF_TYP = 'dpop+jwt';
/** RFC 9449 §5: the token_type of a DPoP-bound access token. */
export const DPOP_TOKEN_TYPE = 'DPoP';

/**
 * RFC 9449 §4.2, §5.1: asymmetric algorithms only (never `none`, never a MAC); advertised as
 * dpop_signing_alg_values_supported.
 */
export const DPOP_SIGNING_ALGS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'] as const;

/** Longest proof accepted, in characters: an RSA-4096 proof is about 1.5k; anything longer is refused before parsing. */
export const MAX_DPOP_PROOF_LENGTH = 4096;
/** Longest jti accepted (RFC 9449 §4.2: enough entropy; we store it, so it is bounded). */
export const MAX_DPOP_JTI_LENGTH = 256;
/** Longest nonce accepted in a proof. */
export const MAX_DPOP_NONCE_LENGTH = 256;
/** Longest htu accepted. */
const MAX_HTU_LENGTH = 2048;

/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

export interface DpopProofOptions {
  /** The HTTP method of the request the proof came with, e.g. "POST". */
  htm: string;
  /** The URI of that request (its query and fragment are ignored). */
  htu: string;
  now: Date;
  /** How long after its iat a proof is accepted, seconds (RFC 9449 §11.1). */
  maxAgeSeconds: number;
  /** How far in the future an iat may be, seconds (clock skew). */
  clockSkewSeconds: number;
  /** The access token presented with the proof (resource requests): ath must be its hash (RFC 9449 §4.3 step 12). */
  accessToken?: string | undefined;
  /**
   * The server nonces currently accepted. Undefined or empty: no nonce is required. Otherwise a
   * proof whose nonce is not one of them fails with UseDpopNonce (RFC 9449 §8).
   */
  nonces?: readonly string[] | undefined;
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key, base64url: the cnf.jkt of a bound token (RFC 9449 §6.1). */
  jkt: string;
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
  /** The public key of the proof. */
  jwk: JWK;
}

const invalid = (why: string) => new InvalidDpopProof(`the DPoP proof is invalid: ${why}`);

/**
 * The form of an htu compared with another (RFC 9449 §4.3 step 9): scheme and host lower case,
 * default port dropped, empty path "/", dot segments resolved (RFC 3986 §6.2.2, §6.2.3), query
 * and fragment removed. Undefined when the value is not an absolute http(s) URI.
 */
export function normalizeHtu(uri: string): string | undefined {
  if (uri.length === 0 || uri.length > MAX_HTU_LENGTH) return undefined;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  // RFC 3986 §6.2.2.1-2 (RFC 9449 §4.3 step 9 asks for this normalization): percent-encoded
  // unreserved characters decoded, the remaining percent-encodings in upper case. Other encoded
  // octets (e.g. %2F) keep their meaning and stay encoded.
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}

/** RFC 9449 §4.2: ath = base64url(SHA-256(ASCII(access token))). */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/** RFC 7638 SHA-256 thumbprint of a public JWK, base64url (RFC 9449 §6.1 jkt). */
export async function dpopJwkThumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256');
}

/**
 * What was wrong with a proof jose refused, in words a client can act on: its signature, a claim
 * jose checks itself (iat, nbf, exp of the wrong type or time), a payload that is not a JSON
 * object, or a jwk header that is not a usable key. Never the proof's content (review F9: every
 * refusal here used to read "the signature does not verify").
 */
function joseFailure(err: unknown): string {
  const e = err as { code?: unknown; claim?: unknown; name?: unknown };
  // WebCrypto's importKey refuses a malformed or mismatched key with a DataError.
  if (e.name === 'DataError') return 'the jwk header is not a valid key';
  switch (e.code) {
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return typeof e.claim === 'string' && /^[a-z_]{1,16}$/.test(e.claim) ? `the ${e.claim} claim is not valid` : 'a claim is not valid';
    case 'ERR_JWT_EXPIRED':
      return 'the proof has expired (exp)';
    case 'ERR_JWT_INVALID':
      return 'the proof payload is not a JSON object';
    case 'ERR_JWK_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'the jwk header is not a valid key';
    default:
      return 'the signature does not verify with the jwk header';
  }
}

/**
 * Validates a DPoP proof (RFC 9449 §4.3, every step but the replay check, which needs storage:
 * the caller records `jti` for dpopReplayTtlSeconds and refuses a second use).
 * @returns the key thumbprint, jti and iat (seconds since the epoch).
 * @throws InvalidDpopProof for a malformed, badly signed, mismatched, stale or future proof;
 *   UseDpopNonce when a nonce is required and the proof lacks it or carries an unknown one.
 */
export async function verifyDpopProof(proof: string, opts: DpopProofOptions): Promise<VerifiedDpopProof> {
  // RFC 9449 §4.3 step 2: a well-formed JWT, bounded before anything is parsed.
  if (proof.length === 0) throw invalid('the proof is empty');
  if (proof.length > MAX_DPOP_PROOF_LENGTH) throw invalid('the proof is too long');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(proof)) throw invalid('the proof is not a compact JWS');
  let header;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalid('the proof header is not JSON');
  }
  // RFC 9449 §4.3 step 4: typ is dpop+jwt.
  if (header.typ !== DPOP_PROOF_TYP) throw invalid('typ must be dpop+jwt');
  // RFC 9449 §4.3 step 5: an asymmetric algorithm the server supports (none and MACs are refused).
  if (typeof header.alg !== 'string' || !(DPOP_SIGNING_ALGS as readonly string[]).includes(header.alg)) throw invalid('alg is not supported');
  // RFC 9449 §4.3 step 7: the jwk header is a public key; no private or symmetric member.
  const jwk = header.jwk;
  if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) throw invalid('the jwk header is missing');
  if (PRIVATE_JWK_MEMBERS.some((m) => Object.hasOwn(jwk, m))) throw invalid('the jwk header must not contain a private key');
  let payload;
  try {
    // RFC 9449 §4.3 step 6: the signature verifies with the key in the jwk header.
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: DPOP_PROOF_TYP, algorithms: [...DPOP_SIGNING_ALGS], currentDate: opts.now }));
  } catch (err) {
    throw invalid(joseFailure(err));
  }
  // RFC 9449 §4.3 step 3: jti, htm, htu and iat are present.
  const { jti, htm, htu, iat, ath, nonce } = payload as Record<string, unknown>;
  if (typeof jti !== 'string' || jti.length === 0) throw invalid('jti is required');
  if (jti.length > MAX_DPOP_JTI_LENGTH) throw invalid('jti is too long');
  if (typeof htm !== 'string' || typeof htu !== 'string') throw invalid('htm and htu are required');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('iat is required');
  // RFC 9449 §4.3 step 8: htm matches the request's method.
  if (htm !== opts.htm) throw invalid('htm does not match the request method');
  // RFC 9449 §4.3 step 9: htu matches the request's URI, without query and fragment.
  const expected = normalizeHtu(opts.htu);
  if (expected === undefined || normalizeHtu(htu) !== expected) throw invalid('htu does not match the request URI');
  // RFC 9449 §4.3 step 11, §11.1: iat within the acceptance window (future skew included).
  const now = Math.floor(opts.now.getTime() / 1000);
  if (iat > now + opts.clockSkewSeconds) throw invalid('iat is in the future');
  if (iat < now - opts.maxAgeSeconds) throw invalid('iat is too old');
  // RFC 9449 §4.3 step 12: with an access token, ath is its hash.
  if (opts.accessToken !== undefined) {
    if (typeof ath !== 'string' || ath !== accessTokenHash(opts.accessToken)) throw invalid('ath does not match the access token');
  }
  // RFC 9449 §4.3 step 10, §8: when the server requires a nonce, the proof carries a current one.
  if (opts.nonces !== undefined && opts.nonces.length > 0) {
    if (typeof nonce !== 'string' || nonce.length > MAX_DPOP_NONCE_LENGTH || !opts.nonces.includes(nonce)) {
      throw new UseDpopNonce('the authorization server requires a DPoP nonce in the proof');
    }
  }
  let thumbprint: string;
  try {
    thumbprint = await dpopJwkThumbprint(jwk);
  } catch {
    throw invalid('the jwk header is not a valid key');
  }
  return { jkt: thumbprint, jti, iat, jwk };
}

/**
 * How long a proof's jti must be remembered to refuse its replay, seconds (RFC 9449 §11.1): a
 * proof stays acceptable from iat - skew to iat + maxAge, so at most maxAge + skew after it is first seen.
 */
export function dpopReplayTtlSeconds(maxAgeSeconds: number, clockSkewSeconds: number): number {
  return maxAgeSeconds + clockSkewSeconds;
}

/** The replay-marker key of a proof: jti is unique per key (RFC 9449 §11.1), so the key is part of it. */
export function dpopReplayKey(jkt: string, jti: string): string {
  return createHash('sha256').update(`${jkt}\u0000${jti}`).digest('base64url');
}

/** The server nonces in force (RFC 9449 §8): the current one, and the previous one for one more period. */
export interface DpopNonceState {
  current: string;
  previous: string;
  /** When `current` was issued, seconds since the epoch. */
  issuedAt: number;
}

/**
 * The next nonce state (RFC 9449 §8): undefined when `state` is still current, otherwise a state
 * whose current nonce is `fresh` and whose previous nonce is the old current one (so a client
 * that just received it is not refused). A nonce is therefore accepted for between one and two periods.
 */
export function nextDpopNonceState(state: DpopNonceState | undefined, now: Date, periodSeconds: number, fresh: string): DpopNonceState | undefined {
  const t = Math.floor(now.getTime() / 1000);
  if (state !== undefined && t >= state.issuedAt && t < state.issuedAt + periodSeconds) return undefined;
  return { current: fresh, previous: state?.current ?? '', issuedAt: t };
}

/** The nonces a proof may carry under `state`. */
export function acceptedDpopNonces(state: DpopNonceState): string[] {
  return [state.current, state.previous].filter((n) => n !== '');
}

/**
 * RFC 9449 §7.1: a DPoP-bound access token (one with cnf.jkt) presented with the Bearer scheme is
 * refused: whoever holds a copy of it without the key must not use it.
 * @throws InvalidToken for a bound token.
 */
export function assertBearerUsable(claims: { cnf?: { jkt?: string } | undefined }): void {
  // RFC 9449 §7.1: a bound token is not accepted as a Bearer token.
  if (claims.cnf?.jkt !== undefined) throw new InvalidToken('the access token is DPoP-bound and cannot be used as a Bearer token');
}

/**
 * Whether a token request must be DPoP-bound, and whether it is (RFC 9449 §5.2): a client
 * registered with dpop_bound_access_tokens=true must present a proof.
 * @throws InvalidDpopProof when the client requires DPoP and no proof was presented.
 */
export function assertDpopPolicy(input: { dpopBoundAccessTokens: boolean; proofPresented: boolean }): void {
  // RFC 9449 §5.2: dpop_bound_access_tokens=true: the client always uses DPoP at the token endpoint.
  if (input.dpopBoundAccessTokens && !input.proofPresented) throw new InvalidDpopProof('this client must present a DPoP proof');
}

/**
 * The token of an `Authorization: DPoP <token>` value (RFC 9449 §7.1: the DPoP scheme, a
 * token68), or undefined when the value is not a well-formed DPoP credential.
 */
export function parseDpopAuthorization(authorization: string): string | undefined {
  // RFC 9449 §7.1: "DPoP" (case-insensitive, RFC 9110 §11.1), one or more spaces, then a token68.
  return /^DPoP +([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization)?.[1];
}

/** The parts of a resource request a proof's htu is rebuilt from (what the edge forwarded). */
export interface ResourceRequestTarget {
  /** The scheme the client used: x-forwarded-proto set by the edge, else the request's :scheme. */
  scheme: string;
  /** The :authority (Host) the client sent. */
  authority: string;
  /** The request path; its query and fragment are dropped. */
  path: string;
}

/**
 * The htu a proof for this resource request must carry (RFC 9449 §4.3 step 9, §7.1): scheme,
 * authority and path without query or fragment. Undefined when the parts do not make an absolute
 * http(s) URI (then no proof can match and the request is refused).
 */
export function resourceRequestHtu(target: ResourceRequestTarget): string | undefined {
  const scheme = target.scheme.trim().toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return undefined;
  // An authority with a path, userinfo or query delimiter would let the host part move the path.
  if (target.authority === '' || /[/?#@\s\\]/.test(target.authority)) return undefined;
  if (!target.path.startsWith('/')) return undefined;
  const path = target.path.split(/[?#]/, 1)[0]!;
  return normalizeHtu(`${scheme}://${target.authority}${path}`);
}

/**
 * The hosts (host[:port] as URL.host gives them: lower case, a scheme's default port left out) this
 * edge answers for, for a resource request's htu (RFC 9449 §4.3 step 9, §11.1): the issuer's, and
 * each of `others` that is an absolute http(s) URL (the mutual-TLS base URL, the route's resource
 * audience). The Host header is the client's to choose; without this check a proof made for another
 * server (same path) could be replayed here by sending that server's Host. The scheme is not part of
 * this: the htu's scheme is the one the edge saw (x-forwarded-proto), compared with the proof's.
 * @param others URLs or other identifiers (a non-URL audience is ignored), undefined entries skipped
 */
export function edgeHosts(issuer: string, others: readonly (string | undefined)[] = []): Set<string> {
  const out = new Set<string>();
  for (const candidate of [issuer, ...others]) {
    if (candidate === undefined) continue;
    try {
      const u = new URL(candidate);
      if (u.protocol === 'http:' || u.protocol === 'https:') out.add(u.host);
    } catch {
      // Not a URL (e.g. an audience like "orders-api"): names no host.
    }
  }
  return out;
}

/** Whether an htu (as resourceRequestHtu builds it) names one of `hosts` (edgeHosts). */
export function isHtuOnHosts(htu: string, hosts: ReadonlySet<string>): boolean {
  try {
    return hosts.has(new URL(htu).host);
  } catch {
    return false;
  }
}

/**
 * RFC 9449 §7.1: a token presented with the DPoP scheme must be DPoP-bound (cnf.jkt), and the
 * proof must be signed by that very key (RFC 9449 §4.3 step 12, §6.1).
 * @throws InvalidToken for an unbound token; InvalidDpopProof when the proof's key is another.
 */
export function assertProofBindsToken(claims: { cnf?: { jkt?: string | undefined } | undefined }, proofJkt: string): void {
  const jkt = claims.cnf?.jkt;
  // RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens only.
  if (jkt === undefined) throw new InvalidToken('the access token is not DPoP-bound; send it with the Bearer scheme');
  // RFC 9449 §6.1, §7.1: the proof's key thumbprint equals the token's cnf.jkt.
  if (jkt !== proofJkt) throw new InvalidDpopProof('the DPoP proof was not signed by the key the access token is bound to');
}

/**
 * The dpop_jkt of an authorization request (RFC 9449 §10): undefined when absent (''), else the
 * thumbprint itself.
 * @throws InvalidRequest when it is not a base64url SHA-256 thumbprint (43 characters).
 */
export function parseDpopJkt(value: string): string | undefined {
  if (value === '') return undefined;
  // RFC 9449 §10, RFC 7638 §3: the base64url-encoded SHA-256 JWK thumbprint.
  if (!/^[A-Za-z0-9_-]{43}$/.test(value)) throw new InvalidRequest('dpop_jkt must be a base64url SHA-256 JWK thumbprint');
  return value;
}

/**
 * RFC 9449 §10: a code issued for a dpop_jkt is redeemed only with a DPoP proof by that key.
 * @throws InvalidGrant when no proof was presented or it was signed by another key.
 */
export function assertAuthorizationCodeKey(codeJkt: string | undefined, presentedJkt: string | undefined): void {
  if (codeJkt === undefined || codeJkt === '') return;
  // RFC 9449 §10: the proof's key must match the dpop_jkt of the authorization request.
  if (presentedJkt !== codeJkt) throw new InvalidGrant('the authorization code is bound to another DPoP key (dpop_jkt)');
}
