// The OpenID Connect parameters of an authorization request (OpenID Connect Core 1.0 §3.1.2.1):
// whether it is an OIDC request at all, and nonce, prompt, max_age, login_hint, id_token_hint,
// ui_locales and claims_locales checked and bounded. Pure: no I/O.
import { InvalidRequest, RequestNotSupported, RequestUriNotSupported } from '../errors/index.js';
import { type ClaimsRequest, parseClaimsParameter } from './oidc-claims.js';

/** OIDC Core §3.1.2.1: the scope value that makes a request an OpenID Connect request. */
export const OPENID_SCOPE = 'openid';
/** OIDC Core §11: the scope value that asks for a refresh token usable while the user is away. */
export const OFFLINE_ACCESS_SCOPE = 'offline_access';

/** OIDC Core §3.1.2.1: the prompt values this provider implements. */
export const PROMPT_VALUES = ['none', 'login', 'consent', 'select_account'] as const;
export type Prompt = (typeof PROMPT_VALUES)[number];

/** Longest nonce accepted, characters (echoed in the ID Token, so bounded). */
export const MAX_NONCE_LENGTH = 512;
/** Longest login_hint accepted, characters (a username or an e-mail address). */
export const MAX_LOGIN_HINT_LENGTH = 256;
/** Longest id_token_hint accepted, characters (our ID Tokens are well under 2 KB). */
export const MAX_ID_TOKEN_HINT_LENGTH = 8192;
/** Longest ui_locales / claims_locales value accepted, characters. */
export const MAX_LOCALES_LENGTH = 256;
/** Largest max_age accepted, seconds (ten years; a larger value cannot mean anything else). */
export const MAX_MAX_AGE_SECONDS = 315_360_000;

/** The OIDC parameters as received (empty or absent = omitted, RFC 6749 §3.1). */
export interface OidcAuthorizationParams {
  nonce?: string | undefined;
  prompt?: string | undefined;
  max_age?: string | undefined;
  login_hint?: string | undefined;
  id_token_hint?: string | undefined;
  ui_locales?: string | undefined;
  claims_locales?: string | undefined;
  /** OIDC Core §5.5: a JSON object naming the claims to return in UserInfo and the ID Token. */
  claims?: string | undefined;
  request?: string | undefined;
  request_uri?: string | undefined;
}

/** The OIDC parameters once checked. */
export interface OidcRequest {
  /** The request's scope holds `openid` (OIDC Core §3.1.2.1). */
  openid: boolean;
  /** Distinct prompt values, in the order received; empty when prompt was omitted. */
  prompt: Prompt[];
  /** Seconds; undefined when omitted. */
  maxAge?: number;
  nonce?: string;
  loginHint?: string;
  idTokenHint?: string;
  /** BCP 47 language tags, preferred first (OIDC Core §3.1.2.1 ui_locales). */
  uiLocales: string[];
  /** BCP 47 language tags, preferred first (OIDC Core §5.2 claims_locales). */
  claimsLocales: string[];
  /** OIDC Core §5.5: the parsed `claims` parameter; undefined when omitted. */
  claims?: ClaimsRequest;
}

// RFC 6749 Appendix A.5 VSCHAR, the grammar state already follows; a nonce is as opaque.
const VSCHARS = /^[\x20-\x7e]+$/;
// RFC 5646 §2.1, loosely: alphanumeric subtags of 1-8 characters joined by hyphens.
const LANGUAGE_TAG = /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/;

const present = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

/** Whether the granted or requested scopes make this an OpenID Connect request (OIDC Core §3.1.2.1). */
export function isOidcRequest(scopes: readonly string[]): boolean {
  return scopes.includes(OPENID_SCOPE);
}

/**
 * The prompt parameter as a list of distinct values (OIDC Core §3.1.2.1).
 * @throws InvalidRequest for an unknown value, or `none` together with any other value
 */
export function parsePrompt(value: string | undefined): Prompt[] {
  const raw = present(value);
  if (raw === undefined) return [];
  const seen: Prompt[] = [];
  for (const token of raw.split(' ')) {
    // OIDC Core §3.1.2.1: prompt is a space-delimited list of ASCII values.
    if (token === '') throw new InvalidRequest('prompt must be values separated by single spaces');
    if (!(PROMPT_VALUES as readonly string[]).includes(token)) throw new InvalidRequest(`prompt value '${token.slice(0, 32)}' is not supported`);
    if (!seen.includes(token as Prompt)) seen.push(token as Prompt);
  }
  // OIDC Core §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
  if (seen.includes('none') && seen.length > 1) throw new InvalidRequest('prompt=none must not be combined with other values');
  return seen;
}

/**
 * max_age in seconds (OIDC Core §3.1.2.1: a non-negative integer; 0 forces a new login).
 * @throws InvalidRequest for anything but digits, or a value above MAX_MAX_AGE_SECONDS
 */
export function parseMaxAge(value: string | undefined): number | undefined {
  const raw = present(value);
  if (raw === undefined) return undefined;
  // OIDC Core §3.1.2.1: max_age is a number of seconds; no sign, no fraction, no exponent.
  if (!/^\d{1,12}$/.test(raw)) throw new InvalidRequest('max_age must be a non-negative whole number of seconds');
  const n = Number(raw);
  if (n > MAX_MAX_AGE_SECONDS) throw new InvalidRequest(`max_age must be at most ${MAX_MAX_AGE_SECONDS} seconds`);
  return n;
}

/**
 * A space-separated list of BCP 47 language tags (ui_locales, claims_locales), bounded.
 * @throws InvalidRequest when malformed or longer than MAX_LOCALES_LENGTH
 */
export function parseLocales(value: string | undefined, name: 'ui_locales' | 'claims_locales'): string[] {
  const raw = present(value);
  if (raw === undefined) return [];
  if (raw.length > MAX_LOCALES_LENGTH) throw new InvalidRequest(`${name} must be at most ${MAX_LOCALES_LENGTH} characters`);
  const tags = raw.split(' ');
  // OIDC Core §3.1.2.1: space-separated BCP 47 [RFC 5646] language tag values.
  if (tags.some((t) => !LANGUAGE_TAG.test(t))) throw new InvalidRequest(`${name} must be BCP 47 language tags separated by single spaces`);
  return [...new Set(tags)];
}

/**
 * Checks the OIDC parameters of an authorization request for the code flow.
 * @param scopes the request's scope values, to tell an OIDC request from a plain OAuth one
 * @throws InvalidRequest (malformed value), RequestNotSupported / RequestUriNotSupported
 *   (request objects, OIDC Core §6), all meant to be redirected to the client (§3.1.2.6)
 */
export function validateOidcParams(params: OidcAuthorizationParams, scopes: readonly string[]): OidcRequest {
  // OIDC Core §6.1 / §6.2: request objects and request_uri are resolved before validation (the code
  // service's ResolveAuthorizationRequest, RFC 9101 / RFC 9126); one that reaches the rules unresolved is refused.
  if (present(params.request) !== undefined) throw new RequestNotSupported('request objects are not supported');
  if (present(params.request_uri) !== undefined) throw new RequestUriNotSupported('request_uri is not supported');

  const result: OidcRequest = {
    openid: isOidcRequest(scopes),
    prompt: parsePrompt(params.prompt),
    uiLocales: parseLocales(params.ui_locales, 'ui_locales'),
    claimsLocales: parseLocales(params.claims_locales, 'claims_locales'),
  };
  const maxAge = parseMaxAge(params.max_age);
  if (maxAge !== undefined) result.maxAge = maxAge;
  // OIDC Core §5.5: a claims parameter that is not a JSON object of the §5.5.1 shape is
  // invalid_request. Without openid it is a parameter plain OAuth does not define: ignored (RFC 6749 §3.1).
  const claims = present(params.claims);
  if (claims !== undefined && result.openid) result.claims = parseClaimsParameter(claims);

  const nonce = present(params.nonce);
  // OIDC Core §3.1.2.1: nonce is OPTIONAL for the code flow (REQUIRED only for implicit/hybrid,
  // which are not offered); when present it is echoed in the ID Token, so bounded and printable.
  if (nonce !== undefined) {
    if (nonce.length > MAX_NONCE_LENGTH) throw new InvalidRequest(`nonce must be at most ${MAX_NONCE_LENGTH} characters`);
    if (!VSCHARS.test(nonce)) throw new InvalidRequest('nonce must contain printable ASCII characters only');
    result.nonce = nonce;
  }

  const loginHint = present(params.login_hint);
  if (loginHint !== undefined) {
    // OIDC Core §3.1.2.1: login_hint is a hint only; one we cannot show safely is refused.
    if (loginHint.length > MAX_LOGIN_HINT_LENGTH || !VSCHARS.test(loginHint)) {
      throw new InvalidRequest(`login_hint must be at most ${MAX_LOGIN_HINT_LENGTH} printable ASCII characters`);
    }
    result.loginHint = loginHint;
  }

  const idTokenHint = present(params.id_token_hint);
  if (idTokenHint !== undefined) {
    // RFC 7515 §7.1: a compact JWS is three base64url parts; anything else cannot be our ID Token.
    if (idTokenHint.length > MAX_ID_TOKEN_HINT_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(idTokenHint)) {
      throw new InvalidRequest('id_token_hint is not an ID Token issued by this server');
    }
    result.idTokenHint = idTokenHint;
  }
  return result;
}

/**
 * The scopes to grant once the OIDC rules are applied to the validated scopes. OIDC Core §11: in
 * an OpenID Connect request offline_access is ignored unless prompt contains consent (the user is
 * asked explicitly). A plain OAuth request (no openid) is left as it is: there offline_access is
 * an ordinary scope the client registered.
 */
export function applyOfflineAccessRule(scopes: readonly string[], oidc: Pick<OidcRequest, 'openid' | 'prompt'>): string[] {
  if (!oidc.openid || !scopes.includes(OFFLINE_ACCESS_SCOPE)) return [...scopes];
  // OIDC Core §11: "the Authorization Server MUST ignore the offline_access request unless ... prompt ... contains consent".
  if (oidc.prompt.includes('consent')) return [...scopes];
  return scopes.filter((s) => s !== OFFLINE_ACCESS_SCOPE);
}

/**
 * Whether an OIDC grant may carry a refresh token (OIDC Core §11): only when offline_access was
 * granted. A plain OAuth grant keeps RFC 6749's rule (the client's registered grant types).
 */
export function mayIssueRefreshToken(grantedScopes: readonly string[]): boolean {
  if (!isOidcRequest(grantedScopes)) return true;
  return grantedScopes.includes(OFFLINE_ACCESS_SCOPE);
}
