import { describe, expect, it } from 'vitest';
import { type AuthmeshError, InvalidClient, InvalidRequest, InvalidScope, UnauthorizedClient, UnsupportedResponseType } from '../errors/index.js';
import { type AuthorizationClient, type AuthorizationParams, type AuthorizationRequestResult, validateAuthorizationRequest } from './authorization-request.js';

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

const publicClient: AuthorizationClient = {
  clientId: 'spa',
  clientType: 'public',
  grantTypes: ['authorization_code', 'refresh_token'],
  redirectUris: ['https://app.example.com/cb', 'http://127.0.0.1/native'],
  scope: ['openid', 'read', 'write'],
};
const confidentialClient: AuthorizationClient = {
  clientId: 'web',
  clientType: 'confidential',
  grantTypes: ['authorization_code'],
  redirectUris: ['https://web.example.com/cb'],
  scope: ['read', 'write'],
  defaultScope: ['read'],
};
const serviceClient: AuthorizationClient = {
  clientId: 'svc',
  clientType: 'confidential',
  grantTypes: ['client_credentials'],
  redirectUris: ['https://svc.example.com/cb'],
  scope: ['read'],
};

const good: AuthorizationParams = {
  response_type: 'code',
  client_id: 'spa',
  redirect_uri: 'https://app.example.com/cb',
  scope: 'read',
  state: 'xyz',
  code_challenge: CHALLENGE,
  code_challenge_method: 'S256',
};

function failure(result: AuthorizationRequestResult): Exclude<AuthorizationRequestResult, { ok: true }> {
  if (result.ok) throw new Error('expected the request to fail');
  return result;
}

describe('validateAuthorizationRequest: accepted requests', () => {
  it('normalizes a complete public-client request', () => {
    const result = validateAuthorizationRequest({ client: publicClient, params: { ...good, nonce: 'n-0S6_WzA2Mj' } });
    expect(result).toEqual({
      ok: true,
      request: {
        clientId: 'spa',
        redirectUri: 'https://app.example.com/cb',
        redirectUriWasSent: true,
        scope: ['read'],
        state: 'xyz',
        nonce: 'n-0S6_WzA2Mj',
        codeChallenge: CHALLENGE,
        codeChallengeMethod: 'S256',
        oidc: { openid: false, prompt: [], nonce: 'n-0S6_WzA2Mj', uiLocales: [], claimsLocales: [] },
      },
    });
  });

  it.each<[string, AuthorizationClient, AuthorizationParams, Partial<{ redirectUri: string; redirectUriWasSent: boolean; scope: string[]; state: string | undefined }>, boolean | undefined]>([
    ['a loopback redirect with a runtime port', publicClient, { ...good, redirect_uri: 'http://127.0.0.1:49152/native' }, { redirectUri: 'http://127.0.0.1:49152/native' }, undefined],
    ['no scope → the client allowance', publicClient, { ...good, scope: undefined }, { scope: ['openid', 'read', 'write'] }, undefined],
    ['an empty scope → the client default', { ...confidentialClient }, { ...good, client_id: 'web', redirect_uri: 'https://web.example.com/cb', scope: '' }, { scope: ['read'] }, undefined],
    ['omitted redirect_uri with one registered', confidentialClient, { ...good, client_id: 'web', redirect_uri: undefined }, { redirectUri: 'https://web.example.com/cb', redirectUriWasSent: false }, undefined],
    ['no state', publicClient, { ...good, state: undefined }, { state: undefined }, undefined],
    ['an empty state (treated as omitted)', publicClient, { ...good, state: '' }, { state: undefined }, undefined],
    ['a confidential client without PKCE when allowed', confidentialClient, { ...good, client_id: 'web', redirect_uri: undefined, code_challenge: undefined, code_challenge_method: undefined }, {}, false],
  ])('accepts %s', (_name, client, params, expected, requirePkceForConfidential) => {
    const result = validateAuthorizationRequest({ client, params, requirePkceForConfidential });
    if (!result.ok) throw new Error(`unexpected ${result.error.code}: ${result.error.description}`);
    const { state, ...rest } = expected;
    expect(result.request).toMatchObject(rest);
    if ('state' in expected && state === undefined) expect(result.request).not.toHaveProperty('state');
  });
});

describe('validateAuthorizationRequest: errors shown to the user, never redirected', () => {
  it.each<[string, AuthorizationClient | undefined, AuthorizationParams, new (...a: never[]) => AuthmeshError, string]>([
    ['missing client_id', publicClient, { ...good, client_id: undefined }, InvalidRequest, 'invalid_request'],
    ['empty client_id', publicClient, { ...good, client_id: '' }, InvalidRequest, 'invalid_request'],
    ['unknown client', undefined, good, InvalidClient, 'invalid_client'],
    ['client record for another id', confidentialClient, good, InvalidClient, 'invalid_client'],
    ['unregistered redirect_uri', publicClient, { ...good, redirect_uri: 'https://evil.example/cb' }, InvalidRequest, 'invalid_request'],
    ['redirect_uri with an extra path', publicClient, { ...good, redirect_uri: 'https://app.example.com/cb/x' }, InvalidRequest, 'invalid_request'],
    ['omitted redirect_uri with several registered', publicClient, { ...good, redirect_uri: undefined }, InvalidRequest, 'invalid_request'],
    ['bad redirect_uri even with a bad response_type', publicClient, { ...good, redirect_uri: 'https://evil.example/cb', response_type: 'token' }, InvalidRequest, 'invalid_request'],
  ])('%s', (_name, client, params, errorClass, code) => {
    const result = failure(validateAuthorizationRequest({ client, params }));
    expect(result.redirectable).toBe(false);
    expect(result.error).toBeInstanceOf(errorClass);
    expect(result.error.code).toBe(code);
    expect(result).not.toHaveProperty('redirectUri');
  });
});

describe('validateAuthorizationRequest: errors redirected to the client', () => {
  it.each<[string, AuthorizationClient, AuthorizationParams, new (...a: never[]) => AuthmeshError, string, boolean | undefined]>([
    ['missing response_type', publicClient, { ...good, response_type: undefined }, InvalidRequest, 'invalid_request', undefined],
    ['implicit response_type', publicClient, { ...good, response_type: 'token' }, UnsupportedResponseType, 'unsupported_response_type', undefined],
    ['hybrid response_type', publicClient, { ...good, response_type: 'code id_token' }, UnsupportedResponseType, 'unsupported_response_type', undefined],
    ['uppercase response_type', publicClient, { ...good, response_type: 'CODE' }, UnsupportedResponseType, 'unsupported_response_type', undefined],
    ['a client without the code grant', serviceClient, { ...good, client_id: 'svc', redirect_uri: undefined }, UnauthorizedClient, 'unauthorized_client', undefined],
    ['a scope outside the allowance', publicClient, { ...good, scope: 'read admin' }, InvalidScope, 'invalid_scope', undefined],
    ['a malformed scope', publicClient, { ...good, scope: 'read\\write' }, InvalidScope, 'invalid_scope', undefined],
    ['a public client without PKCE', publicClient, { ...good, code_challenge: undefined, code_challenge_method: undefined }, InvalidRequest, 'invalid_request', undefined],
    ['a public client without PKCE even when confidential clients are exempt', publicClient, { ...good, code_challenge: undefined, code_challenge_method: undefined }, InvalidRequest, 'invalid_request', false],
    ['a confidential client without PKCE by default', confidentialClient, { ...good, client_id: 'web', redirect_uri: undefined, code_challenge: undefined, code_challenge_method: undefined }, InvalidRequest, 'invalid_request', undefined],
    ['a plain challenge', publicClient, { ...good, code_challenge_method: 'plain' }, InvalidRequest, 'invalid_request', undefined],
    ['a challenge without a method (plain)', publicClient, { ...good, code_challenge_method: undefined }, InvalidRequest, 'invalid_request', undefined],
    ['a malformed challenge', publicClient, { ...good, code_challenge: 'short' }, InvalidRequest, 'invalid_request', undefined],
    ['a method without a challenge', publicClient, { ...good, code_challenge: undefined }, InvalidRequest, 'invalid_request', undefined],
    ['a nonce with a control character', publicClient, { ...good, nonce: 'a\nb' }, InvalidRequest, 'invalid_request', undefined],
  ])('%s', (_name, client, params, errorClass, code, requirePkceForConfidential) => {
    const result = failure(validateAuthorizationRequest({ client, params, requirePkceForConfidential }));
    expect(result.error).toBeInstanceOf(errorClass);
    expect(result.error.code).toBe(code);
    expect(result.redirectable).toBe(true);
    if (!result.redirectable) return;
    expect(result.redirectUri).toBe(client.redirectUris.length === 1 ? client.redirectUris[0] : params.redirect_uri);
    expect(result.state).toBe('xyz');
  });

  it('redirects to the loopback URI with the requested port', () => {
    const result = failure(validateAuthorizationRequest({ client: publicClient, params: { ...good, redirect_uri: 'http://127.0.0.1:5000/native', response_type: 'token' } }));
    expect(result).toMatchObject({ redirectable: true, redirectUri: 'http://127.0.0.1:5000/native' });
  });

  it('reports a state with control characters as invalid_request without echoing it', () => {
    const result = failure(validateAuthorizationRequest({ client: publicClient, params: { ...good, state: 'a\r\nLocation: x' } }));
    expect(result.error).toBeInstanceOf(InvalidRequest);
    expect(result).toMatchObject({ redirectable: true, redirectUri: 'https://app.example.com/cb' });
    expect(result).not.toHaveProperty('state');
  });

  it('omits state from a redirected error when the request had none', () => {
    const result = failure(validateAuthorizationRequest({ client: publicClient, params: { ...good, state: undefined, response_type: 'token' } }));
    expect(result.redirectable).toBe(true);
    expect(result).not.toHaveProperty('state');
  });
});
