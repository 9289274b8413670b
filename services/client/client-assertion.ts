// private_key_jwt client authentication (RFC 7523 §2.2 / §3, OpenID Connect Core §9): a JWT the
// client signed with a key from its registered JWKS. Every failure is the same InvalidClient.
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from 'jose';
import { InvalidClient } from '../core/errors/index.js';
import type { GridMap } from '../core/grid/index.js';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

// DESIGN.md §6: an explicit asymmetric allow-list; never 'none', never HS* (a public key is no secret).
export const ASSERTION_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** How far in the future an assertion's exp may lie: assertions are meant to be short-lived. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** Tolerated clock difference between the client and this server. */
export const CLOCK_SKEW_SECONDS = 30;

export interface AssertionInput {
  clientAssertionType: string;
  clientAssertion: string;
  /** The client_id sent alongside, if any. */
  clientId: string;
}

/**
 * The `aud` values that name this authorization server in a client assertion: its issuer and the
 * URLs of its endpoints that authenticate clients (token, introspection, revocation, pushed authorization requests), all derived
 * from the configured issuer. Decided here, never by the caller: a caller-supplied endpoint URL
 * would let an assertion meant for another server be replayed against this one (RFC 7523 §3).
 */
export function assertionAudiences(issuer: string): string[] {
  // RFC 9126 §2: the pushed authorization request endpoint's URL is accepted too.
  return [issuer, `${issuer}/oauth2/token`, `${issuer}/oauth2/introspect`, `${issuer}/oauth2/revoke`, `${issuer}/oauth2/par`];
}

/** Reads the client an assertion claims to come from without trusting it yet; undefined when unreadable. */
export function assertionClientId(input: AssertionInput): string | undefined {
  // RFC 7523 §2.2: the type must be exactly jwt-bearer.
  if (input.clientAssertionType !== JWT_BEARER_ASSERTION_TYPE) return undefined;
  if (input.clientAssertion.length > 16_384) return undefined;
  let sub: unknown;
  try {
    sub = decodeJwt(input.clientAssertion).sub;
  } catch {
    return undefined;
  }
  if (typeof sub !== 'string' || sub === '') return undefined;
  // RFC 7521 §4.2: a client_id sent alongside must identify the same client.
  if (input.clientId !== '' && input.clientId !== sub) return undefined;
  return sub;
}

export interface VerifyAssertionOptions {
  clientId: string;
  jwks: Record<string, unknown>;
  issuer: string;
  /** Replay markers: clientId:jti → 1 until the assertion's exp. */
  jtiMap: GridMap<number>;
  now: Date;
}

const fail = (): never => {
  throw new InvalidClient('client authentication failed');
};

/** Verifies the assertion and consumes its jti; throws InvalidClient. */
export async function verifyClientAssertion(assertion: string, o: VerifyAssertionOptions): Promise<void> {
  let keys: ReturnType<typeof createLocalJWKSet>;
  try {
    keys = createLocalJWKSet(o.jwks as unknown as JSONWebKeySet);
  } catch {
    return fail();
  }
  // RFC 7523 §3: aud identifies this authorization server (its issuer or an endpoint URL of it),
  // as this server knows itself: never from a URL the caller supplies.
  const audience = assertionAudiences(o.issuer);
  let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
  try {
    ({ payload } = await jwtVerify(assertion, keys, {
      algorithms: ASSERTION_ALGORITHMS,
      // RFC 7523 §3: iss and sub are both the client_id.
      issuer: o.clientId,
      subject: o.clientId,
      audience,
      // RFC 7523 §3: exp is required; jti is required here so the assertion can be single-use.
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_SKEW_SECONDS,
      currentDate: o.now,
    }));
  } catch {
    return fail();
  }
  const exp = payload.exp as number;
  const nowSeconds = Math.floor(o.now.getTime() / 1000);
  // RFC 7523 §3: the server may reject assertions whose exp is unreasonably far in the future.
  if (exp - nowSeconds > MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) return fail();
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) return fail();
  // RFC 7523 §3: a jti may be used only once until the assertion expires.
  const ttlMs = Math.max(1_000, (exp + CLOCK_SKEW_SECONDS - nowSeconds) * 1000);
  const first = await o.jtiMap.putIfAbsent(`${o.clientId}:${jti}`, 1, ttlMs);
  if (!first) return fail();
}
