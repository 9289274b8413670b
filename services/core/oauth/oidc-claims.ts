// Which OpenID Connect standard claims a token releases (OIDC Core §5.4 scopes, §5.5 the
// `claims` request parameter) and the claim set built from a user's stored claims (§5.1, §5.3.2).
// Pure: the user service's UserInfo and the code flow's ID Token both call these.
import { InvalidRequest } from '../errors/index.js';

/** OIDC Core §5.4: the claims each scope value requests. */
export const SCOPE_CLAIMS: Readonly<Record<'profile' | 'email' | 'address' | 'phone', readonly string[]>> = {
  profile: [
    'name',
    'family_name',
    'given_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
};

/** The claim groups (scope values) in the order pages list them. */
export const CLAIM_SCOPES = ['profile', 'email', 'phone', 'address'] as const;
export type ClaimScope = (typeof CLAIM_SCOPES)[number];

/** Every claim UserInfo can return (discovery's claims_supported, OIDC Discovery §3). */
export const SUPPORTED_USER_CLAIMS: readonly string[] = ['sub', ...CLAIM_SCOPES.flatMap((s) => SCOPE_CLAIMS[s])];

const VERIFIED_FLAG: Readonly<Record<string, string>> = { email: 'email_verified', phone_number: 'phone_number_verified' };

const GROUP_OF = new Map<string, ClaimScope>(CLAIM_SCOPES.flatMap((s) => SCOPE_CLAIMS[s].map((c) => [c, s] as const)));

/** OIDC Core §5.5.1: how one claim is requested; null means "requested, default manner". */
export interface ClaimRequest {
  essential?: boolean;
  /** The one value the claim is requested to have. */
  value?: string | number | boolean;
  /** Values the claim is requested to have, in order of preference. */
  values?: (string | number | boolean)[];
}

/** OIDC Core §5.5: the parsed `claims` parameter; a member absent from the JSON is an empty map. */
export interface ClaimsRequest {
  userinfo: Record<string, ClaimRequest | null>;
  idToken: Record<string, ClaimRequest | null>;
}

/** Longest `claims` parameter accepted, in characters (a request object of its own size). */
export const MAX_CLAIMS_PARAMETER_LENGTH = 4096;
const MAX_CLAIMS_PER_MEMBER = 64;
const MAX_VALUES = 16;
const MAX_CLAIM_NAME = 128;
const MAX_VALUE_LENGTH = 256;
// OIDC Core §2: sub "MUST NOT exceed 255 ASCII characters in length".
const MAX_SUBJECT_LENGTH = 255;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): v is string | number | boolean {
  return (typeof v === 'string' && v.length <= MAX_VALUE_LENGTH) || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
}

function parseMember(name: 'userinfo' | 'id_token', raw: unknown): Record<string, ClaimRequest | null> {
  if (raw === undefined) return {};
  // OIDC Core §5.5: userinfo and id_token are JSON objects naming the requested claims.
  if (!isPlainObject(raw)) throw new InvalidRequest(`claims.${name} must be a JSON object`);
  const entries = Object.entries(raw);
  if (entries.length > MAX_CLAIMS_PER_MEMBER) throw new InvalidRequest(`claims.${name} may request at most ${MAX_CLAIMS_PER_MEMBER} claims`);
  const out: Record<string, ClaimRequest | null> = Object.create(null) as Record<string, ClaimRequest | null>;
  for (const [claim, spec] of entries) {
    if (claim.length === 0 || claim.length > MAX_CLAIM_NAME) throw new InvalidRequest(`claims.${name} has a claim name of 0 or more than ${MAX_CLAIM_NAME} characters`);
    // OIDC Core §5.5.1: each claim's value is null or an object with essential, value, values.
    if (spec === null) {
      out[claim] = null;
      continue;
    }
    if (!isPlainObject(spec)) throw new InvalidRequest(`claims.${name}.${claim.slice(0, 64)} must be null or a JSON object`);
    const request: ClaimRequest = {};
    if (spec.essential !== undefined) {
      if (typeof spec.essential !== 'boolean') throw new InvalidRequest(`claims.${name}.${claim.slice(0, 64)}.essential must be true or false`);
      request.essential = spec.essential;
    }
    if (spec.value !== undefined) {
      if (!isScalar(spec.value)) throw new InvalidRequest(`claims.${name}.${claim.slice(0, 64)}.value must be a string, number or boolean`);
      // OIDC Core §2 / §5.5.1: a requested sub value is a subject identifier, at most 255 ASCII characters.
      if (claim === 'sub' && (typeof spec.value !== 'string' || spec.value === '' || spec.value.length > MAX_SUBJECT_LENGTH)) {
        throw new InvalidRequest(`claims.${name}.sub.value must be a string of 1 to ${MAX_SUBJECT_LENGTH} characters`);
      }
      request.value = spec.value;
    }
    if (spec.values !== undefined) {
      if (!Array.isArray(spec.values) || spec.values.length > MAX_VALUES || !spec.values.every(isScalar)) {
        throw new InvalidRequest(`claims.${name}.${claim.slice(0, 64)}.values must be an array of at most ${MAX_VALUES} strings, numbers or booleans`);
      }
      request.values = [...spec.values];
    }
    // OIDC Core §5.5.1: other members are extensions; those not understood are ignored.
    out[claim] = request;
  }
  return out;
}

/**
 * Parses the `claims` authorization request parameter (OIDC Core §5.5): a JSON object whose
 * `userinfo` and `id_token` members name requested claims. Other top-level members are ignored;
 * unknown claim names are kept here and ignored by releasedClaims.
 * An absent or empty parameter yields empty requests.
 * @throws InvalidRequest for a parameter longer than MAX_CLAIMS_PARAMETER_LENGTH, not JSON, or of
 * the wrong shape (a claim request that is neither null nor an object, essential not a boolean,
 * value/values not scalars), naming the offending member.
 */
export function parseClaimsParameter(raw: string | undefined): ClaimsRequest {
  if (raw === undefined || raw === '') return { userinfo: {}, idToken: {} };
  if (raw.length > MAX_CLAIMS_PARAMETER_LENGTH) throw new InvalidRequest(`claims must be at most ${MAX_CLAIMS_PARAMETER_LENGTH} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidRequest('claims must be a JSON object (OIDC Core §5.5)');
  }
  if (!isPlainObject(parsed)) throw new InvalidRequest('claims must be a JSON object (OIDC Core §5.5)');
  return { userinfo: parseMember('userinfo', parsed.userinfo), idToken: parseMember('id_token', parsed.id_token) };
}

/** The claim groups a set of granted scope values covers, in page order. */
export function claimScopesOf(scopes: readonly string[]): ClaimScope[] {
  return CLAIM_SCOPES.filter((s) => scopes.includes(s));
}

/**
 * The standard claims to release for one target, as a set of claim names (sub is always released
 * and not in the set).
 *
 * - userinfo: the claims of the granted scope values (OIDC Core §5.4), plus the claims requested
 *   in claims.userinfo (§5.5) whose group was granted.
 * - id_token: the claims requested in claims.id_token whose group was granted (§5.5; with the
 *   code flow, scope values release claims through UserInfo only, §5.4).
 *
 * `grantedScopes` is the token's scope: what the user consented to (or what the client may get
 * without consent). A claim requested by name is released only if its group's scope was granted,
 * so the `claims` parameter can move a consented claim into the ID Token but never widen consent.
 * A requested email or phone_number brings its verified flag along (§5.1).
 * Claims this server does not know are ignored (§5.5: "not understood" claims are ignored).
 * Nothing at all is released without the `openid` scope (§3.1.2.1).
 */
export function releasedClaims(grantedScopes: readonly string[], claimsRequest: ClaimsRequest | undefined, target: 'userinfo' | 'id_token'): Set<string> {
  const out = new Set<string>();
  // OIDC Core §3.1.2.1: without openid the request is plain OAuth 2.0: no identity claims.
  if (!grantedScopes.includes('openid')) return out;
  const granted = new Set(claimScopesOf(grantedScopes));
  if (target === 'userinfo') for (const s of granted) for (const c of SCOPE_CLAIMS[s]) out.add(c);
  const requested = target === 'userinfo' ? claimsRequest?.userinfo : claimsRequest?.idToken;
  for (const claim of Object.keys(requested ?? {})) {
    const group = GROUP_OF.get(claim);
    if (group === undefined || !granted.has(group)) continue;
    out.add(claim);
    // OIDC Core §5.1: email_verified / phone_number_verified qualify the value they accompany;
    // a relying party asking for the value gets the flag with it (present only with the value).
    const flag = VERIFIED_FLAG[claim];
    if (flag !== undefined) out.add(flag);
  }
  return out;
}

/** OIDC Core §5.1 address claim: a postal address, every member optional. */
export interface PostalAddress {
  formatted?: string;
  streetAddress?: string;
  locality?: string;
  region?: string;
  postalCode?: string;
  country?: string;
}

/**
 * The OIDC Core §5.1 standard claims stored for a user beyond the user's own fields (email is
 * User.email, name is User.displayName, updated_at is User.updatedAt). Every member is optional;
 * the verified flags are set by an administrator only, never inferred.
 */
export interface StandardClaims {
  givenName?: string;
  familyName?: string;
  middleName?: string;
  nickname?: string;
  preferredUsername?: string;
  /** URLs (http or https). */
  profile?: string;
  picture?: string;
  website?: string;
  gender?: string;
  /** YYYY or YYYY-MM-DD (ISO 8601). */
  birthdate?: string;
  /** An IANA time zone name, e.g. Europe/Paris. */
  zoneinfo?: string;
  /** A BCP 47 language tag, e.g. en-US. */
  locale?: string;
  emailVerified?: boolean;
  /** E.164, e.g. +15551234567 (an extension may follow as ;ext=123). */
  phoneNumber?: string;
  phoneNumberVerified?: boolean;
  address?: PostalAddress;
}

/** The user data claims are built from (the user service's User, without its secrets). */
export interface ClaimSource {
  username: string;
  email?: string | undefined;
  displayName?: string | undefined;
  updatedAt: Date;
  claims?: StandardClaims | undefined;
}

/**
 * The claim set (OIDC Core §5.3.2 JSON) for `sub` and the released claim names: only claims the
 * user has a value for are present (§5.3.2: claims without a value are omitted, never null).
 * name is the display name; preferred_username falls back to the username (the name the user
 * signs in with); updated_at is seconds since the epoch (§5.1); email_verified and
 * phone_number_verified appear only with their email or number, false unless an admin set them.
 */
export function buildClaimSet(sub: string, user: ClaimSource, released: ReadonlySet<string>): Record<string, unknown> {
  const c = user.claims ?? {};
  const a = c.address;
  const address =
    a === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries({ formatted: a.formatted, street_address: a.streetAddress, locality: a.locality, region: a.region, postal_code: a.postalCode, country: a.country }).filter(
            ([, v]) => v !== undefined,
          ),
        );
  const values: Record<string, unknown> = {
    name: user.displayName,
    given_name: c.givenName,
    family_name: c.familyName,
    middle_name: c.middleName,
    nickname: c.nickname,
    preferred_username: c.preferredUsername ?? user.username,
    profile: c.profile,
    picture: c.picture,
    website: c.website,
    gender: c.gender,
    birthdate: c.birthdate,
    zoneinfo: c.zoneinfo,
    locale: c.locale,
    updated_at: Math.floor(user.updatedAt.getTime() / 1000),
    email: user.email,
    email_verified: user.email === undefined ? undefined : c.emailVerified === true,
    address,
    phone_number: c.phoneNumber,
    phone_number_verified: c.phoneNumber === undefined ? undefined : c.phoneNumberVerified === true,
  };
  const out: Record<string, unknown> = { sub };
  for (const claim of SUPPORTED_USER_CLAIMS) {
    if (claim !== 'sub' && released.has(claim) && values[claim] !== undefined) out[claim] = values[claim];
  }
  return out;
}

/**
 * The standard claims of the code flow's ID Token (OIDC Core §5.5, §5.4): `sub` plus the claims
 * the authorization request's `claims` parameter asked for in its id_token member, limited to the
 * groups of the granted scope (the consent), each only if the user has a value. The code flow
 * parses the parameter once with parseClaimsParameter at the authorization request (so a bad one
 * is refused there) and calls this when it mints the ID Token; the other ID Token claims (iss,
 * aud, exp, iat, auth_time, nonce, ...) are the caller's.
 */
export function idTokenUserClaims(sub: string, user: ClaimSource, grantedScopes: readonly string[], claimsRequest: ClaimsRequest | undefined): Record<string, unknown> {
  return buildClaimSet(sub, user, releasedClaims(grantedScopes, claimsRequest, 'id_token'));
}

/**
 * The standard claims the `claims` parameter requested for the ID Token (OIDC Core §5.5), as the
 * claim names this server knows, in claims_supported order: what a code and a refresh token
 * carry so that every ID Token of the grant (§3.1.3.3, §12.2) releases the same claims. At most
 * SUPPORTED_USER_CLAIMS.length names, never a user's data; unknown names are dropped (§5.5: not
 * understood claims are ignored). Consent is applied later, by releasedClaims at each mint.
 */
export function requestedIdTokenClaims(claimsRequest: ClaimsRequest | undefined): string[] {
  const requested = claimsRequest?.idToken ?? {};
  return SUPPORTED_USER_CLAIMS.filter((c) => c !== 'sub' && Object.hasOwn(requested, c));
}

/** A claims request naming `names` for the ID Token, each "in the default manner" (§5.5.1 null). */
export function idTokenClaimsRequest(names: readonly string[]): ClaimsRequest {
  const idToken: Record<string, null> = Object.create(null) as Record<string, null>;
  for (const n of names) idToken[n] = null;
  return { userinfo: {}, idToken };
}

/**
 * Whether the sub values the `claims` parameter requests (OIDC Core §5.5.1, under id_token and
 * under userinfo) all equal `subject`, the session user's subject identifier for the client
 * (public or pairwise, exact string comparison). §5.5.1: with a sub value "the Authorization
 * Server MUST only send a positive response if the End-User identified by that sub value has an
 * active session with the Authorization Server or has been Authenticated as a result of the
 * request". Returns undefined when no sub value is requested (sub requested without a value, or
 * only with `values`, which §5.5.1 does not define for sub, asks nothing of the user).
 */
export function subjectRequestMatches(claimsRequest: ClaimsRequest | undefined, subject: string): boolean | undefined {
  if (claimsRequest === undefined) return undefined;
  const requested = [claimsRequest.idToken, claimsRequest.userinfo]
    .map((member) => (Object.hasOwn(member, 'sub') ? member.sub?.value : undefined))
    .filter((v) => v !== undefined);
  if (requested.length === 0) return undefined;
  return requested.every((v) => v === subject);
}

/**
 * Authentication Context Class Reference values this server can satisfy: none (it records no acr;
 * ID Tokens carry none).
 */
export const SUPPORTED_ACR_VALUES: readonly string[] = [];

/**
 * Whether the `claims` parameter requests acr as an Essential Claim with a value or values this
 * server cannot satisfy (none of them in supportedAcr). OIDC Core §5.5.1.1: "If this is an
 * Essential Claim and the requirement cannot be met, then the Authorization Server MUST treat that
 * outcome as a failed authentication attempt". An essential acr without value/values asks for no
 * particular context, and a voluntary one (essential absent or false) is a preference: neither fails.
 */
export function essentialAcrUnmet(claimsRequest: ClaimsRequest | undefined, supportedAcr: readonly string[] = SUPPORTED_ACR_VALUES): boolean {
  if (claimsRequest === undefined) return false;
  return [claimsRequest.idToken, claimsRequest.userinfo].some((member) => {
    const acr = Object.hasOwn(member, 'acr') ? member.acr : null;
    if (acr === null || acr === undefined || acr.essential !== true) return false;
    const wanted = [...(acr.value !== undefined ? [acr.value] : []), ...(acr.values ?? [])];
    return wanted.length > 0 && !wanted.some((v) => typeof v === 'string' && supportedAcr.includes(v));
  });
}
