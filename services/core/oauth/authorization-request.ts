// Validation of an authorization request at the authorization endpoint (RFC 6749 §4.1.1).
import { type AuthmeshError, InvalidClient, InvalidRequest, UnauthorizedClient, UnsupportedResponseType, toAuthmeshError } from '../errors/index.js';
import { type ClientType, pkceRequired } from './client-policy.js';
import { applyOfflineAccessRule, type OidcAuthorizationParams, type OidcRequest, validateOidcParams } from './oidc-request.js';
import { type CodeChallengeMethod, validateCodeChallenge } from './pkce.js';
import { selectRedirectUri } from './redirect-uri.js';
import { grantScope, parseScope } from './scope.js';

/** The registered client as the authorization endpoint needs it. */
export interface AuthorizationClient {
  clientId: string;
  clientType: ClientType;
  grantTypes: readonly string[];
  redirectUris: readonly string[];
  /** Scopes the client may be granted. */
  scope: readonly string[];
  /** Granted when the request names no scope; defaults to `scope`. */
  defaultScope?: readonly string[] | undefined;
}

/** Query parameters as received; the gateway already refused repeated parameters. */
export interface AuthorizationParams extends OidcAuthorizationParams {
  response_type?: string | undefined;
  client_id?: string | undefined;
  redirect_uri?: string | undefined;
  scope?: string | undefined;
  state?: string | undefined;
  code_challenge?: string | undefined;
  code_challenge_method?: string | undefined;
  nonce?: string | undefined;
}

export interface AuthorizationRequestInput {
  /** The client registered under params.client_id, or undefined when there is none. */
  client: AuthorizationClient | undefined;
  params: AuthorizationParams;
  /** Require PKCE from confidential clients too; default true (RFC 9700 §2.1.1). */
  requirePkceForConfidential?: boolean;
  /** The issuer: redirect URIs registered on its origin are matched exactly (redirect-uri.ts). */
  issuer?: string | undefined;
}

export interface ValidatedAuthorizationRequest {
  clientId: string;
  /** Where the response goes, including the port a loopback native app listens on. */
  redirectUri: string;
  /** The token endpoint must then require the same redirect_uri (RFC 6749 §4.1.3). */
  redirectUriWasSent: boolean;
  scope: string[];
  state?: string;
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: CodeChallengeMethod;
  /** The OpenID Connect parameters, checked (also present, empty, for a plain OAuth request). */
  oidc: OidcRequest;
}

/**
 * A failed request. When `redirectable` is false the client or redirect URI could not be trusted
 * and the error must be shown to the user, never redirected (RFC 6749 §4.1.2.1).
 */
export type AuthorizationError =
  | { redirectable: false; error: AuthmeshError }
  | { redirectable: true; error: AuthmeshError; redirectUri: string; state?: string };

export type AuthorizationRequestResult =
  | { ok: true; request: ValidatedAuthorizationRequest }
  | ({ ok: false } & AuthorizationError);

// RFC 6749 Appendix A.5: state = 1*VSCHAR, VSCHAR = %x20-7E.
const VSCHARS = /^[\x20-\x7e]+$/;

// RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
function present(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Validates an authorization request for the code flow. Never throws for bad input: the result
 * says whether the error may be redirected to the client.
 */
export function validateAuthorizationRequest({ client, params, requirePkceForConfidential, issuer }: AuthorizationRequestInput): AuthorizationRequestResult {
  const clientId = present(params.client_id);
  // RFC 6749 §4.1.2.1: a missing or unknown client_id must not be redirected.
  if (clientId === undefined) return { ok: false, redirectable: false, error: new InvalidRequest('client_id is required') };
  if (client === undefined || client.clientId !== clientId) {
    return { ok: false, redirectable: false, error: new InvalidClient('client_id is unknown') };
  }

  let redirectUri: string;
  try {
    redirectUri = selectRedirectUri(client.redirectUris, present(params.redirect_uri), { serverOrigin: issuer });
  } catch (err) {
    // RFC 6749 §4.1.2.1: a missing, invalid or mismatching redirect URI must not be redirected.
    return { ok: false, redirectable: false, error: toAuthmeshError(err) };
  }

  const rawState = present(params.state);
  // RFC 6749 Appendix A.5: a state outside VSCHAR cannot be echoed safely, so it is dropped.
  const state = rawState !== undefined && VSCHARS.test(rawState) ? rawState : undefined;
  const fail = (error: AuthmeshError): AuthorizationRequestResult =>
    state === undefined ? { ok: false, redirectable: true, error, redirectUri } : { ok: false, redirectable: true, error, redirectUri, state };

  // RFC 6749 Appendix A.5: state is 1*VSCHAR.
  if (rawState !== undefined && state === undefined) return fail(new InvalidRequest('state must contain printable ASCII characters only'));

  const responseType = present(params.response_type);
  // RFC 6749 §4.1.1: response_type is REQUIRED.
  if (responseType === undefined) return fail(new InvalidRequest('response_type is required'));
  // RFC 9700 §2.1.2: only the code flow is offered; implicit and hybrid types are refused.
  if (responseType !== 'code') return fail(new UnsupportedResponseType('response_type must be code'));

  // RFC 6749 §4.1.2.1: a client not registered for the code grant is unauthorized_client.
  if (!client.grantTypes.includes('authorization_code')) {
    return fail(new UnauthorizedClient('the client is not registered for the authorization_code grant'));
  }

  let scope: string[];
  try {
    scope = grantScope({ requested: parseScope(present(params.scope)), allowed: client.scope, defaultScope: client.defaultScope });
  } catch (err) {
    // RFC 6749 §4.1.2.1: invalid, unknown or malformed scope is invalid_scope, redirected.
    return fail(toAuthmeshError(err));
  }

  const challenge = present(params.code_challenge);
  const method = present(params.code_challenge_method);
  let codeChallengeMethod: CodeChallengeMethod | undefined;
  if (challenge !== undefined) {
    try {
      codeChallengeMethod = validateCodeChallenge(challenge, method);
    } catch (err) {
      // RFC 7636 §4.4.1: a bad challenge is invalid_request, redirected.
      return fail(toAuthmeshError(err));
    }
  } else if (method !== undefined) {
    // RFC 7636 §4.3: a method without a challenge is a malformed request.
    return fail(new InvalidRequest('code_challenge_method was sent without code_challenge'));
  } else if (pkceRequired(client, { requireForConfidential: requirePkceForConfidential ?? true })) {
    // RFC 7636 §4.4.1 / RFC 9700 §2.1.1: PKCE is required for this client.
    return fail(new InvalidRequest('code_challenge is required (PKCE with S256)'));
  }

  let oidc: OidcRequest;
  try {
    // OIDC Core §3.1.2.2: the OpenID Connect parameters are validated like the OAuth ones;
    // their errors go back to the client (§3.1.2.6).
    oidc = validateOidcParams(params, scope);
  } catch (err) {
    return fail(toAuthmeshError(err));
  }
  // OIDC Core §11: offline_access only with prompt=consent in an OpenID Connect request.
  scope = applyOfflineAccessRule(scope, oidc);
  const nonce = oidc.nonce;

  const request: ValidatedAuthorizationRequest = {
    clientId,
    redirectUri,
    redirectUriWasSent: present(params.redirect_uri) !== undefined,
    scope,
    oidc,
  };
  if (state !== undefined) request.state = state;
  if (nonce !== undefined) request.nonce = nonce;
  if (challenge !== undefined && codeChallengeMethod !== undefined) {
    request.codeChallenge = challenge;
    request.codeChallengeMethod = codeChallengeMethod;
  }
  return { ok: true, request };
}
