// JWT-Secured Authorization Requests (RFC 9101): verifying a request object signed by the client
// and turning it into the parameters of the authorization request. Pure apart from the signature
// check (jose, in memory): the client's keys come from its registration, the jti replay marker is
// the caller's (the grid), nothing is fetched.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { InvalidRequest, InvalidRequestObject } from '../errors/index.js';

/** RFC 9101 §10.8: the media type (typ header) of a request object. */
export const REQUEST_OBJECT_TYP = 'oauth-authz-req+jwt';

/**
 * DESIGN.md §6 / RFC 9101 §10.3: the JWS algorithms a request object may be signed with; never
 * `none` (an unsigned request proves nothing), never HS* (the client's keys are public keys).
 */
export const REQUEST_OBJECT_SIGNING_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

/** Longest request object accepted, characters (a bounded request, RFC 9101 §10.x denial of service). */
export const MAX_REQUEST_OBJECT_LENGTH = 32_768;
/** Longest lifetime (exp minus nbf, iat or now) a request object may claim, seconds. */
export const MAX_REQUEST_OBJECT_LIFETIME_SECONDS = 3_600;
/** Tolerated clock difference between the client and this server, seconds. */
export const REQUEST_OBJECT_CLOCK_SKEW_SECONDS = 30;

/**
 * The authorization request parameters a request object may carry (RFC 6749 §4.1.1, RFC 7636
 * §4.3, OIDC Core §3.1.2.1, §5.5). Others (JWT claims, unknown members) are not parameters here.
 */
export const REQUEST_OBJECT_PARAMETERS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'prompt',
  'max_age',
  'login_hint',
  'id_token_hint',
  'ui_locales',
  'claims_locales',
  'claims',
  // RFC 9449 §10: the DPoP key the code is bound to may be named in a signed request too.
  'dpop_jkt',
] as const;
export type RequestObjectParameter = (typeof REQUEST_OBJECT_PARAMETERS)[number];

/** The client as request-object verification needs it. */
export interface RequestObjectClient {
  clientId: string;
  /** The client's registered JWK Set (RFC 7591 jwks); undefined when it registered none. */
  jwks: Record<string, unknown> | undefined;
  /** RFC 9101 §10.5 require_signed_request_object: also makes the typ header mandatory. */
  requireSignedRequestObject: boolean;
  /** OIDC Registration §2 request_object_signing_alg; '' = any of REQUEST_OBJECT_SIGNING_ALGS. */
  requestObjectSigningAlg: string;
}

export interface VerifiedRequestObject {
  /** The authorization parameters of the object; client_id is always the client's. */
  params: Partial<Record<RequestObjectParameter, string>>;
  /** RFC 8707 §2.1 resource indicators of the object (a string or an array of strings there); [] when none. */
  resource: string[];
  /** The object's jti: the caller refuses its replay until `exp`. */
  jti: string;
  /** Expiry, epoch seconds. */
  exp: number;
}

const invalid = (description: string): never => {
  throw new InvalidRequestObject(description);
};

/** RFC 9101 §4: each claim as the string parameter it stands for. */
function parameterOf(name: RequestObjectParameter, value: unknown): string {
  if (typeof value === 'string') return value;
  // OIDC Core §6.1: max_age is a JSON number in a request object.
  if (name === 'max_age' && typeof value === 'number' && Number.isInteger(value) && value >= 0) return String(value);
  // OIDC Core §5.5 / §6.1: claims is a JSON object in a request object.
  if (name === 'claims' && value !== null && typeof value === 'object' && !Array.isArray(value)) return JSON.stringify(value);
  return invalid(`the request object's ${name} has the wrong type`);
}

/**
 * RFC 8707 §2.1 / RFC 9101 §4: `resource` in a request object is one string or an array of strings
 * (the parameter may repeat in a query). Shape only; the values are checked like any other request's.
 * @returns the indicators, [] when the member is absent or null
 * @throws InvalidRequestObject for any other type, and for an empty array
 */
export function requestObjectResources(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  // An empty array names no resource while saying it names some: refused rather than read as
  // "no resource", which would widen the token's audience to the default (second review N11).
  if (Array.isArray(value) && value.length === 0) return invalid("the request object's resource is an empty array: name at least one resource or leave it out");
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) return [...value];
  return invalid("the request object's resource must be a string or an array of strings");
}

/** The signing algorithms accepted from this client. */
export function requestObjectAlgorithms(client: Pick<RequestObjectClient, 'requestObjectSigningAlg'>): string[] {
  const registered = client.requestObjectSigningAlg;
  return registered === '' ? [...REQUEST_OBJECT_SIGNING_ALGS] : [registered];
}

/**
 * Verifies a request object (RFC 9101 §6.1-§6.3) and returns its parameters.
 * @param jwt the `request` parameter (a compact JWS)
 * @param o.issuer this server's issuer identifier, the only accepted `aud` (RFC 9101 §4)
 * @throws InvalidRequestObject for anything wrong with the object: size, encryption, alg outside
 *   the allow-list or the client's registered alg, typ, signature, iss, aud, exp/nbf/iat bounds,
 *   client_id, nested request/request_uri, parameter types
 */
export async function verifyRequestObject(jwt: string, o: { client: RequestObjectClient; issuer: string; now: Date }): Promise<VerifiedRequestObject> {
  if (jwt.length > MAX_REQUEST_OBJECT_LENGTH) invalid(`the request object must be at most ${MAX_REQUEST_OBJECT_LENGTH} characters`);
  // RFC 9101 §6.1: an encrypted request object (JWE, five parts) is not supported here.
  if (jwt.split('.').length !== 3) invalid('the request object must be a signed JWT (JWS compact serialization); encrypted request objects are not supported');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jwt);
  } catch {
    return invalid('the request object is not a readable JWT');
  }
  const algorithms = requestObjectAlgorithms(o.client);
  // RFC 9101 §6.2 / §10.3: unsigned (none) and symmetric (HS*) objects are refused; so is an alg
  // other than the one the client registered (OIDC Registration §2 request_object_signing_alg).
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) invalid(`the request object must be signed with ${algorithms.join(', ')}`);
  const typ = header.typ;
  // RFC 9101 §10.8: typ, when present, is oauth-authz-req+jwt (the "application/" prefix may be omitted, RFC 7515 §4.1.9).
  if (typ !== undefined && (typeof typ !== 'string' || typ.toLowerCase().replace(/^application\//, '') !== REQUEST_OBJECT_TYP)) {
    invalid(`the request object's typ must be ${REQUEST_OBJECT_TYP}`);
  }
  // RFC 9101 §10.8: a client that registered require_signed_request_object is held to explicit typing.
  if (typ === undefined && o.client.requireSignedRequestObject) invalid(`the request object must carry typ ${REQUEST_OBJECT_TYP}`);
  if (o.client.jwks === undefined) invalid('the client has no registered keys to verify a request object with');

  let keys: ReturnType<typeof createLocalJWKSet>;
  try {
    keys = createLocalJWKSet(o.client.jwks as unknown as JSONWebKeySet);
  } catch {
    return invalid('the client has no usable registered keys');
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(jwt, keys, {
      algorithms,
      // RFC 9101 §4: iss is the client_id, aud this server's issuer identifier.
      issuer: o.client.clientId,
      audience: o.issuer,
      // exp and jti are required: the object is single use (its jti is remembered until exp).
      requiredClaims: ['exp', 'jti'],
      clockTolerance: REQUEST_OBJECT_CLOCK_SKEW_SECONDS,
      currentDate: o.now,
    }));
  } catch {
    return invalid('the request object signature, issuer, audience or validity period is invalid');
  }
  const now = Math.floor(o.now.getTime() / 1000);
  const exp = payload.exp as number;
  // RFC 7519 §4.1.6: an iat in the future is not a time the object was made.
  if (payload.iat !== undefined && payload.iat > now + REQUEST_OBJECT_CLOCK_SKEW_SECONDS) invalid('the request object was issued in the future');
  const start = payload.nbf ?? payload.iat ?? now;
  // A bounded lifetime: a captured object is not usable for long, and its replay marker not kept for long.
  if (exp - start > MAX_REQUEST_OBJECT_LIFETIME_SECONDS || exp - now > MAX_REQUEST_OBJECT_LIFETIME_SECONDS + REQUEST_OBJECT_CLOCK_SKEW_SECONDS) {
    invalid(`the request object must expire within ${MAX_REQUEST_OBJECT_LIFETIME_SECONDS} seconds`);
  }
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) return invalid('the request object jti must be a string of at most 256 characters');
  // RFC 9101 §4: "The Request Object MUST NOT include the request or request_uri parameters."
  if ('request' in payload || 'request_uri' in payload) invalid('the request object must not contain request or request_uri');
  // RFC 9101 §5: client_id inside the object, when present, is the signing client's.
  if (payload.client_id !== undefined && payload.client_id !== o.client.clientId) invalid('the request object client_id does not match its issuer');

  const params: Partial<Record<RequestObjectParameter, string>> = {};
  for (const name of REQUEST_OBJECT_PARAMETERS) {
    const value = (payload as Record<string, unknown>)[name];
    if (value !== undefined && value !== null) params[name] = parameterOf(name, value);
  }
  params.client_id = o.client.clientId;
  const resource = requestObjectResources((payload as Record<string, unknown>).resource);
  return { params, resource, jti, exp };
}

/**
 * RFC 9101 §5 / §6.3: the parameters sent outside a request object. client_id is required (it
 * says whose keys verify the object) and must match; response_type, when sent, must match the
 * object's (OAuth 2.0 requires it in the query, OIDC Core §6.1); every other outside parameter is
 * ignored, only the object's are used.
 * @throws InvalidRequest for a missing client_id; InvalidRequestObject for a mismatch
 */
export function checkRequestObjectQuery(query: { client_id?: string | undefined; response_type?: string | undefined }, object: VerifiedRequestObject): void {
  // RFC 9101 §5: client_id MUST be sent as an OAuth 2.0 request parameter too.
  if (query.client_id === undefined || query.client_id === '') throw new InvalidRequest('client_id is required with request');
  // RFC 9101 §6.3: the client_id outside must equal the one inside.
  if (query.client_id !== object.params.client_id) invalid('client_id does not match the request object');
  // RFC 9101 §6.3 / OIDC Core §6.1: a response_type outside must be the one inside.
  if (query.response_type !== undefined && query.response_type !== '' && query.response_type !== object.params.response_type) {
    invalid('response_type does not match the request object');
  }
}
