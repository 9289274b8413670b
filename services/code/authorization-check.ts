// Runs the authorization request rules of core/oauth against the registered client and turns a
// failure into the error the gateway can act on: with redirect_uri/state in ErrorInfo.metadata
// when it may be redirected to the client, without them when it must be shown to the user
// (RFC 6749 §4.1.2.1).
import type { AuthorizationRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { AuthmeshError, InvalidRequest } from '../core/errors/index.js';
import { type AuthorizationParams, type ValidatedAuthorizationRequest, validateAuthorizationRequest } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { resolveAuthorizationResources, type ResolvedResources } from '../resource-registry.js';
import { type CodeClient, lookUpClient } from './client-lookup.js';

export interface CheckedAuthorization {
  client: CodeClient;
  /** The validated request; with resources, its scope is narrowed to what they offer. */
  request: ValidatedAuthorizationRequest;
  /** The RFC 8707 §2.1 resources the request named, checked against the registry; undefined when none. */
  resources: ResolvedResources | undefined;
}

// Bounds on values that are echoed into redirects or error metadata: a URL or a gRPC trailer of
// unbounded size would fail somewhere downstream instead of producing a clear error.
const MAX_LENGTH: ReadonlyArray<readonly [keyof AuthorizationParams, number]> = [
  ['response_type', 64],
  ['scope', 4096],
  ['state', 2048],
  ['nonce', 512],
  ['code_challenge', 128],
  ['code_challenge_method', 32],
  // OIDC Core §3.1.2.1 parameters; the rules in core/oauth bound them more finely.
  ['prompt', 128],
  ['max_age', 32],
  ['login_hint', 512],
  ['id_token_hint', 8192],
  ['ui_locales', 512],
  ['claims_locales', 512],
  // claims is never echoed; parseClaimsParameter bounds it (MAX_CLAIMS_PARAMETER_LENGTH).
];

export function toParams(r: AuthorizationRequest): AuthorizationParams {
  return {
    response_type: r.responseType,
    client_id: r.clientId,
    redirect_uri: r.redirectUri,
    scope: r.scope,
    state: r.state,
    code_challenge: r.codeChallenge,
    code_challenge_method: r.codeChallengeMethod,
    nonce: r.nonce,
    prompt: r.prompt,
    max_age: r.maxAge,
    login_hint: r.loginHint,
    id_token_hint: r.idTokenHint,
    ui_locales: r.uiLocales,
    claims_locales: r.claimsLocales,
    claims: r.claims,
    request: r.request,
    request_uri: r.requestUri,
  };
}

/** The error as it goes to the gateway when it may be redirected: target and state in metadata. */
export function redirectableError(error: AuthmeshError, redirectUri: string, state: string | undefined): AuthmeshError {
  const metadata: Record<string, string> = { ...error.metadata, redirect_uri: redirectUri };
  if (state !== undefined) metadata.state = state;
  return new AuthmeshError(error.code, error.description, { metadata, cause: error });
}

/** The error as it goes to the gateway when it must never be redirected. */
export function shownToUser(error: AuthmeshError): AuthmeshError {
  if (!('redirect_uri' in error.metadata) && !('state' in error.metadata)) return error;
  const { redirect_uri: _r, state: _s, ...metadata } = error.metadata;
  return new AuthmeshError(error.code, error.description, { metadata, cause: error });
}

/**
 * Validates an authorization request against its client, and its resource indicators against the
 * service registry (RFC 8707 §2.1). Throws the RFC 6749 §4.1.2.1 error, shaped as described
 * above; resolves the validated request otherwise.
 */
export async function checkAuthorizationRequest(
  deps: Pick<MeshDeps, 'peers' | 'config'>,
  request: AuthorizationRequest | undefined,
  deadline?: Date,
): Promise<CheckedAuthorization> {
  const peers = deps.peers;
  // Without the request nothing is known about the client, so nothing may be redirected.
  if (request === undefined) throw new InvalidRequest('request is required');
  const params = toParams(request);
  const oversized = MAX_LENGTH.find(([name, max]) => (params[name]?.length ?? 0) > max);
  if (oversized !== undefined) params[oversized[0]] = undefined;

  const client = await lookUpClient(peers, request.clientId, deadline);
  const result = validateAuthorizationRequest({
    client,
    params,
    // RFC 9700 §2.1.1: a confidential client is held to PKCE when it registered require_pkce.
    requirePkceForConfidential: client?.requirePkce ?? true,
    // The console's redirect URI is on the issuer's origin: matched exactly (review F1).
    issuer: deps.config.issuer,
  });
  // RFC 6749 §4.1.2.1: an unknown client or an untrusted redirect URI is never redirected to.
  if (!result.ok && !result.redirectable) throw shownToUser(result.error);
  // The redirect target is known from here on; every remaining error goes back to the client.
  const redirectUri = result.ok ? result.request.redirectUri : result.redirectUri;
  const state = result.ok ? result.request.state : result.state;
  if (oversized !== undefined) {
    const [name, max] = oversized;
    // RFC 6749 §4.1.2.1: a malformed parameter is invalid_request; an oversized state is not echoed.
    throw redirectableError(new InvalidRequest(`${name} must be at most ${max} characters`), redirectUri, name === 'state' ? undefined : state);
  }
  if (!result.ok) throw redirectableError(result.error, redirectUri, state);
  if (client === undefined) throw new InvalidRequest('client_id is unknown');
  const checked = result.request;
  // OpenID Connect Registration §2: default_max_age stands in for a max_age the request omits.
  if (checked.oidc.openid && checked.oidc.maxAge === undefined && client.defaultMaxAge !== undefined) {
    checked.oidc = { ...checked.oidc, maxAge: client.defaultMaxAge };
  }
  let resources: ResolvedResources | undefined;
  try {
    ({ resources, scope: checked.scope } = await resolveAuthorizationResources(deps, client.clientId, request.resource, checked.scope));
  } catch (err) {
    // RFC 8707 §2 / RFC 6749 §4.1.2.1: invalid_target (and a malformed resource list) goes back to the
    // verified redirect URI; a registry outage is not the client's error and is not redirected.
    if (err instanceof AuthmeshError && ['invalid_target', 'invalid_request', 'invalid_scope'].includes(err.code)) throw redirectableError(err, redirectUri, state);
    throw err;
  }
  return { client, request: checked, resources };
}
