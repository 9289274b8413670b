// Token exchange (RFC 8693): request validation, scope and audience narrowing, and the act chain.
import { InvalidDpopProof, InvalidRequest, InvalidTarget } from '../errors/index.js';
import { type AccessTokenClaims, type ActClaim, isAddressedTo, MAX_ACT_DEPTH } from './access-token-claims.js';
import { intersect, narrowScope, parseScope } from './scope.js';

export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';

/** Token types we accept as subject_token_type and actor_token_type (RFC 8693 §3). */
export const SUPPORTED_SUBJECT_TOKEN_TYPES = [TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT] as const;
export type SubjectTokenType = (typeof SUPPORTED_SUBJECT_TOKEN_TYPES)[number];

/** Form parameters of a token-exchange request; audience and resource may repeat (RFC 8693 §2.1). */
export interface TokenExchangeParams {
  subject_token?: string | undefined;
  subject_token_type?: string | undefined;
  actor_token?: string | undefined;
  actor_token_type?: string | undefined;
  requested_token_type?: string | undefined;
  audience?: string | readonly string[] | undefined;
  resource?: string | readonly string[] | undefined;
  scope?: string | undefined;
}

export interface TokenExchangeRequest {
  subjectToken: string;
  subjectTokenType: SubjectTokenType;
  actorToken?: string;
  actorTokenType?: SubjectTokenType;
  requestedTokenType: typeof TOKEN_TYPE_ACCESS_TOKEN;
  audience: string[];
  resource: string[];
  scope: string[];
}

// RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
function present(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function list(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  const values = typeof value === 'string' ? [value] : value;
  return [...new Set(values.filter((v) => v !== ''))];
}

function isSupportedType(value: string): value is SubjectTokenType {
  return (SUPPORTED_SUBJECT_TOKEN_TYPES as readonly string[]).includes(value);
}

/**
 * Validates the parameters of a token-exchange request (the tokens themselves are verified by the
 * caller). Throws InvalidRequest, InvalidTarget or InvalidScope as RFC 8693 §2.2.2 prescribes.
 */
export function validateTokenExchangeRequest(params: TokenExchangeParams): TokenExchangeRequest {
  const subjectToken = present(params.subject_token);
  const subjectTokenType = present(params.subject_token_type);
  // RFC 8693 §2.1: subject_token and subject_token_type are REQUIRED.
  if (subjectToken === undefined) throw new InvalidRequest('subject_token is required');
  if (subjectTokenType === undefined) throw new InvalidRequest('subject_token_type is required');
  // RFC 8693 §2.2.2: a subject token we cannot process makes the request invalid_request.
  if (!isSupportedType(subjectTokenType)) throw new InvalidRequest('subject_token_type must be an access_token or jwt token type');

  const actorToken = present(params.actor_token);
  const actorTokenType = present(params.actor_token_type);
  // RFC 8693 §2.1: actor_token_type is REQUIRED with actor_token and MUST NOT appear without it.
  if (actorToken !== undefined && actorTokenType === undefined) throw new InvalidRequest('actor_token_type is required with actor_token');
  if (actorToken === undefined && actorTokenType !== undefined) throw new InvalidRequest('actor_token_type must not be sent without actor_token');
  // RFC 8693 §2.2.2: an actor token we cannot process makes the request invalid_request.
  if (actorTokenType !== undefined && !isSupportedType(actorTokenType)) throw new InvalidRequest('actor_token_type must be an access_token or jwt token type');

  const requestedTokenType = present(params.requested_token_type) ?? TOKEN_TYPE_ACCESS_TOKEN;
  // RFC 8693 §2.1: we issue access tokens only, so any other requested type is refused.
  if (requestedTokenType !== TOKEN_TYPE_ACCESS_TOKEN) throw new InvalidRequest('requested_token_type must be urn:ietf:params:oauth:token-type:access_token');

  const resource = list(params.resource);
  for (const uri of resource) {
    // RFC 8693 §2.1 / RFC 8707 §2: resource is an absolute URI without a fragment.
    if (!isAbsoluteUriWithoutFragment(uri)) throw new InvalidTarget('resource must be an absolute URI without a fragment');
  }

  const request: TokenExchangeRequest = {
    subjectToken,
    subjectTokenType,
    requestedTokenType,
    audience: list(params.audience),
    resource,
    scope: parseScope(present(params.scope)),
  };
  if (actorToken !== undefined && actorTokenType !== undefined) {
    request.actorToken = actorToken;
    request.actorTokenType = actorTokenType;
  }
  return request;
}

function isAbsoluteUriWithoutFragment(uri: string): boolean {
  if (uri.includes('#') || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri) || /[^\x21-\x7e]/.test(uri)) return false;
  try {
    new URL(uri);
    return true;
  } catch {
    return false;
  }
}

export interface ExchangeScopeInput {
  /** The scope the exchanging client asked for; [] for none. */
  requested: readonly string[];
  /** The scope of the subject token. */
  subjectScope: readonly string[];
  /** The scopes the exchanging client may be granted. */
  clientAllowed: readonly string[];
}

/**
 * The scope of the exchanged token: within both the subject token's scope and the client's
 * allowance. Throws InvalidScope when the request asks for more.
 */
export function exchangeScope({ requested, subjectScope, clientAllowed }: ExchangeScopeInput): string[] {
  // RFC 8693 §2.1 / §5: an exchanged token never carries more than the subject token and the client allow.
  return narrowScope(requested, intersect(subjectScope, clientAllowed));
}

export interface ExchangeAudienceInput {
  /** audience parameters (logical names) from the request. */
  audience: readonly string[];
  /** resource parameters (URIs) from the request. */
  resource: readonly string[];
  /** Targets this client may obtain tokens for. */
  allowed: readonly string[];
  /** Used when the request names no target. */
  defaultAudience: readonly string[];
}

/** The audience of the exchanged token. Throws InvalidTarget for a target the client may not reach. */
export function exchangeAudience({ audience, resource, allowed, defaultAudience }: ExchangeAudienceInput): string[] {
  const requested = [...new Set([...audience, ...resource])];
  if (requested.length === 0) {
    // RFC 8693 §2.1: without audience or resource the server picks the target by policy.
    if (defaultAudience.length === 0) throw new InvalidTarget('audience or resource is required');
    return [...new Set(defaultAudience)];
  }
  const allowedSet = new Set(allowed);
  // RFC 8693 §2.2.2: a target the server will not issue a token for is invalid_target.
  if (requested.some((t) => !allowedSet.has(t))) throw new InvalidTarget('the client may not obtain a token for the requested audience');
  return requested;
}

function depthOf(act: ActClaim | undefined): number {
  let depth = 0;
  for (let a = act; a !== undefined; a = a.act) depth += 1;
  return depth;
}

/**
 * The act claim of a delegated token: the new actor on top, the subject token's own act (if it
 * was already delegated) nested below it. Throws InvalidRequest when the chain is too long.
 */
export function buildActClaim(actor: string, previous?: ActClaim): ActClaim {
  // RFC 8693 §4.1: nested act claims record prior actors, most recent outermost.
  if (depthOf(previous) + 1 > MAX_ACT_DEPTH) throw new InvalidRequest('the delegation chain is too long');
  return previous === undefined ? { sub: actor } : { sub: actor, act: previous };
}

/**
 * The exchange policy of this server (RFC 8693 §2.1 and §5 leave it to the server): which subject
 * and actor tokens a client may present.
 *
 * - subject_token: the requesting client may exchange a token that was issued to it (its
 *   `client_id`) or addressed to it (its client_id in `aud`). A token that merely reached it —
 *   leaked, logged, or held by another party — cannot be turned into a token for anything else.
 * - actor_token: must have been issued to the requesting client, so `act.sub` always names a
 *   party the requesting client holds a credential of, never another client.
 *
 * Throws InvalidRequest (RFC 8693 §2.2.2: a token unacceptable by policy is invalid_request).
 */
export function assertExchangeAllowed(input: {
  clientId: string;
  subject: Pick<AccessTokenClaims, 'client_id' | 'aud'>;
  actor?: Pick<AccessTokenClaims, 'client_id'> | undefined;
}): void {
  const { clientId, subject, actor } = input;
  // RFC 8693 §5: the server must decide whether this client may exchange this subject token.
  if (subject.client_id !== clientId && !isAddressedTo(subject, clientId)) {
    throw new InvalidRequest('the subject_token was neither issued nor addressed to this client');
  }
  // RFC 8693 §4.1: act identifies the acting party; only the requesting client's own token may name it.
  if (actor !== undefined && actor.client_id !== clientId) throw new InvalidRequest('the actor_token was not issued to this client');
}

/**
 * Proof of possession for DPoP-bound tokens the client itself holds (RFC 9449 §7, RFC 8693 §5):
 * a bound subject token issued to this client, and a bound actor token (always this client's),
 * are only exchanged with a DPoP proof by the key they are bound to; otherwise a stolen bound
 * token would become an unbound one. A bound subject token merely addressed to this client (a
 * resource server exchanging the token it was called with) needs none: the caller is its audience,
 * which verified the proof when it received the token.
 * @param presentedJkt thumbprint of the token request's verified DPoP proof, undefined without one.
 * @throws InvalidDpopProof without a proof; InvalidRequest with a proof by another key, or when
 *   the subject and actor tokens are bound to two different keys (one request carries one proof).
 */
export function assertExchangePossession(input: {
  clientId: string;
  subject: Pick<AccessTokenClaims, 'client_id' | 'cnf'>;
  actor?: Pick<AccessTokenClaims, 'cnf'> | undefined;
  presentedJkt: string | undefined;
}): void {
  const { clientId, subject, actor, presentedJkt } = input;
  const needed = new Set<string>();
  // RFC 9449 §7: only the holder of the key may use a bound token; here the client is the holder.
  if (subject.client_id === clientId && subject.cnf?.jkt !== undefined) needed.add(subject.cnf.jkt);
  if (actor?.cnf?.jkt !== undefined) needed.add(actor.cnf.jkt);
  if (needed.size === 0) return;
  if (needed.size > 1) throw new InvalidRequest('the subject_token and actor_token are bound to different DPoP keys');
  if (presentedJkt === undefined) throw new InvalidDpopProof('the token presented for exchange is DPoP-bound: a DPoP proof by its key is required');
  if (!needed.has(presentedJkt)) throw new InvalidRequest('the token presented for exchange is bound to another DPoP key');
}

/**
 * Lifetime in seconds of an exchanged token: the configured lifetime, cut so the new token never
 * outlives its subject token (`subjectExp`, seconds since the epoch). Throws InvalidRequest when
 * nothing is left.
 */
export function exchangedTokenLifetime(ttlSeconds: number, subjectExp: number, now: Date): number {
  const left = subjectExp - Math.floor(now.getTime() / 1000);
  // RFC 8693 §2.1 / §5: a delegated token must not extend the authority of its subject token.
  if (left <= 0) throw new InvalidRequest('the subject_token has expired');
  return Math.min(ttlSeconds, left);
}

/**
 * The jti chain an exchanged token records (`src_jti`): its subject token's jti first, then that
 * token's own sources. Verification refuses a token any of whose sources is revoked, so revoking
 * a token (or the grant it came from) also ends every token exchanged from it.
 */
export function exchangeSourceChain(subject: Pick<AccessTokenClaims, 'jti' | 'src_jti'>): string[] {
  const chain = [subject.jti, ...(subject.src_jti ?? [])];
  // Bounded like the act chain it follows (one source per exchange hop).
  if (chain.length > MAX_ACT_DEPTH) throw new InvalidRequest('the delegation chain is too long');
  return chain;
}
