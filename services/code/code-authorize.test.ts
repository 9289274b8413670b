// ValidateAuthorizationRequest, IssueCode and DenyAuthorization over real gRPC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationRequest, DenyAuthorizationRequest, IssueCodeRequest, ValidateAuthorizationRequestRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import type { MemoryGrid } from '../core/grid/index.js';
import { hashToken } from '../core/oauth/index.js';
import { CreateUserRequest, UpdateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { CODES_MAP, type StoredCode } from './code-grants.js';
import { APP_CB, CHALLENGE, createFixtures, type Fixtures, LOOPBACK_CB, publicRequest, rejection, WEB_CB } from './code-test-support.js';
import { uniqueId } from '../../test/support/ids.js';

let t: TestMesh;
let f: Fixtures;

beforeAll(async () => {
  t = await startTestMesh();
  f = await createFixtures(t);
});
afterAll(async () => {
  await t?.close();
});

const validate = (request: AuthorizationRequest, userId = '') =>
  t.peers.code.validateAuthorizationRequest(ValidateAuthorizationRequestRequest.fromPartial({ request, userId }));
const issue = (request: AuthorizationRequest, more: Partial<IssueCodeRequest> = {}) =>
  t.peers.code.issueCode(IssueCodeRequest.fromPartial({ request, userId: f.userId, ...more }));

// Entries in the in-process grid; undefined on a remote grid (AUTHMESH_TEST_GRID=hazelcast), where
// the audit count alone shows nothing was issued.
const gridEntries = () => {
  const g = t.mesh.deps.grid as Partial<MemoryGrid>;
  return typeof g.entryCount === 'function' ? g.entryCount() : undefined;
};
const issuedCount = async () => (await t.store.audit.list({ type: 'code.issued', pageSize: 1000 })).items.length;

async function codesInGrid(code: string): Promise<StoredCode | undefined> {
  return t.mesh.deps.grid.map<StoredCode>(CODES_MAP).get(hashToken(code));
}

describe('ValidateAuthorizationRequest', () => {
  it('describes a valid request for the pages', async () => {
    const res = await validate(publicRequest(f));
    expect(res).toEqual({
      clientId: f.publicId,
      clientName: 'Single Page App',
      logoUri: 'https://app.example.com/logo.png',
      redirectUri: APP_CB,
      scopes: ['openid', 'read'],
      consentNotRequired: false,
      // RFC 8252 §8.6: never for a public client.
      consentRememberable: false,
      // No user: the login page comes first (OIDC Core §3.1.2.3).
      loginRequired: true,
      loginHint: '',
      // RFC 8707 §2.1: the request named no resource.
      resources: [],
    });
  });

  it('resolves an omitted redirect_uri when exactly one is registered and grants the allowance for no scope', async () => {
    const res = await validate(AuthorizationRequest.fromPartial({ responseType: 'code', clientId: f.confidentialId }));
    expect(res.redirectUri).toBe(WEB_CB);
    expect(res.scopes).toEqual(['read', 'write']);
  });

  it('accepts a loopback redirect on any port (RFC 8252 §7.3)', async () => {
    const res = await validate(publicRequest(f, { redirectUri: 'http://127.0.0.1:49152/cb' }));
    expect(res.redirectUri).toBe('http://127.0.0.1:49152/cb');
    const plain = await validate(publicRequest(f, { redirectUri: LOOPBACK_CB }));
    expect(plain.redirectUri).toBe(LOOPBACK_CB);
  });

  it('says no consent is needed for a client that skips consent', async () => {
    const res = await validate(AuthorizationRequest.fromPartial({ responseType: 'code', clientId: f.skipConsentId, codeChallenge: CHALLENGE, codeChallengeMethod: 'S256' }));
    expect(res.consentNotRequired).toBe(true);
  });

  it.each<[string, () => AuthorizationRequest, string]>([
    ['an unknown client', () => publicRequest(f, { clientId: 'no-such-client' }), 'invalid_client'],
    ['a client_id too long to exist', () => publicRequest(f, { clientId: 'x'.repeat(5000) }), 'invalid_client'],
    ['a missing client_id', () => publicRequest(f, { clientId: '' }), 'invalid_request'],
    ['an unregistered redirect URI', () => publicRequest(f, { redirectUri: 'https://evil.example/cb' }), 'invalid_request'],
    ['a redirect URI differing only by a trailing slash', () => publicRequest(f, { redirectUri: `${APP_CB}/` }), 'invalid_request'],
    ['a missing redirect URI with two registered', () => publicRequest(f, { redirectUri: '' }), 'invalid_request'],
    ['an unregistered redirect URI together with a bad response_type', () => publicRequest(f, { redirectUri: 'https://evil.example/cb', responseType: 'token' }), 'invalid_request'],
  ])('never redirects %s', async (_name, make, code) => {
    const err = await rejection(validate(make()));
    expect(err.code).toBe(code);
    expect(err.metadata).not.toHaveProperty('redirect_uri');
    expect(err.metadata).not.toHaveProperty('state');
  });

  it('refuses a request without the request message, without redirect', async () => {
    const err = await rejection(t.peers.code.validateAuthorizationRequest(ValidateAuthorizationRequestRequest.fromPartial({})));
    expect(err.code).toBe('invalid_request');
    expect(err.metadata).not.toHaveProperty('redirect_uri');
  });

  it.each<[string, () => AuthorizationRequest, string]>([
    ['a missing response_type', () => publicRequest(f, { responseType: '' }), 'invalid_request'],
    ['response_type token (implicit)', () => publicRequest(f, { responseType: 'token' }), 'unsupported_response_type'],
    ['a scope the client may not have', () => publicRequest(f, { scope: 'read admin' }), 'invalid_scope'],
    ['a malformed scope', () => publicRequest(f, { scope: 'read  write' }), 'invalid_scope'],
    ['a missing PKCE challenge for a public client', () => publicRequest(f, { codeChallenge: '', codeChallengeMethod: '' }), 'invalid_request'],
    ['a plain PKCE challenge', () => publicRequest(f, { codeChallenge: CHALLENGE, codeChallengeMethod: 'plain' }), 'invalid_request'],
    ['a challenge without a method (plain)', () => publicRequest(f, { codeChallengeMethod: '' }), 'invalid_request'],
    ['an oversized scope', () => publicRequest(f, { scope: 'a'.repeat(5000) }), 'invalid_request'],
    ['an oversized nonce', () => publicRequest(f, { nonce: 'n'.repeat(600) }), 'invalid_request'],
  ])('redirects %s to the client with state', async (_name, make, code) => {
    const err = await rejection(validate(make()));
    expect(err.code).toBe(code);
    expect(err.metadata).toMatchObject({ redirect_uri: APP_CB, state: 'st-123' });
  });

  it('redirects unauthorized_client for a client without the code grant', async () => {
    const err = await rejection(validate(AuthorizationRequest.fromPartial({ responseType: 'code', clientId: f.serviceId, state: 's', codeChallenge: CHALLENGE, codeChallengeMethod: 'S256' })));
    expect(err.code).toBe('unauthorized_client');
    expect(err.metadata).toEqual({ redirect_uri: 'https://svc.example.com/cb', state: 's' });
  });

  it('redirects to the loopback port the app asked for', async () => {
    const err = await rejection(validate(publicRequest(f, { redirectUri: 'http://127.0.0.1:5000/cb', responseType: 'token' })));
    expect(err.metadata).toMatchObject({ redirect_uri: 'http://127.0.0.1:5000/cb', state: 'st-123' });
  });

  it('omits state from the error when the request had none, and never echoes an oversized one', async () => {
    const none = await rejection(validate(publicRequest(f, { state: '', responseType: 'token' })));
    expect(none.metadata).toEqual({ redirect_uri: APP_CB });
    const huge = await rejection(validate(publicRequest(f, { state: 's'.repeat(3000) })));
    expect(huge.code).toBe('invalid_request');
    expect(huge.metadata).toEqual({ redirect_uri: APP_CB });
  });

  it('requires PKCE from a confidential client only when it registered require_pkce', async () => {
    const skip = await rejection(validate(AuthorizationRequest.fromPartial({ responseType: 'code', clientId: f.skipConsentId })));
    expect(skip.code).toBe('invalid_request');
    expect(skip.metadata).toMatchObject({ redirect_uri: 'https://first.example.com/cb' });
    const res = await validate(AuthorizationRequest.fromPartial({ responseType: 'code', clientId: f.confidentialId }));
    expect(res.clientId).toBe(f.confidentialId);
  });
});

describe('IssueCode', () => {
  it('refuses a user who was disabled or deleted after logging in: access_denied back to the client', async () => {
    const bearer = await t.bearer();
    const created = await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username: uniqueId('gone') }, password: 'correct horse battery staple' }), { bearer });
    const userId = created.user!.userId;
    await expect(issue(publicRequest(f), { userId })).resolves.toMatchObject({ code: expect.any(String) });
    await t.anon.user.updateUser(UpdateUserRequest.fromPartial({ user: { ...created.user!, disabled: true }, updateMask: ['disabled'] }), { bearer });
    const disabled = await rejection(issue(publicRequest(f), { userId }));
    expect(disabled.code).toBe('access_denied');
    expect(disabled.metadata.redirect_uri).toBe(APP_CB);
    await t.anon.user.deleteUser({ userId }, { bearer });
    expect((await rejection(issue(publicRequest(f), { userId }))).code).toBe('access_denied');
  });

  it('issues a code bound to the request and builds the redirect with code, state and iss', async () => {
    const res = await issue(publicRequest(f));
    expect(res.code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.expiresIn).toBe(t.config.codeTtlSeconds);
    const to = new URL(res.redirectTo);
    expect(`${to.origin}${to.pathname}`).toBe(APP_CB);
    expect(to.searchParams.get('code')).toBe(res.code);
    expect(to.searchParams.get('state')).toBe('st-123');
    expect(to.searchParams.get('iss')).toBe(t.config.issuer);

    const stored = await codesInGrid(res.code);
    expect(stored).toMatchObject({
      clientId: f.publicId,
      userId: f.userId,
      scopes: ['openid', 'read'],
      redirectUri: APP_CB,
      redirectUriWasSent: true,
      codeChallenge: CHALLENGE,
      codeChallengeMethod: 'S256',
      nonce: 'n-0S6',
    });
    expect(stored?.grantId).toMatch(/^g_/);
    // Only the hash is a key: the raw code names nothing in the grid.
    expect(await t.mesh.deps.grid.map(CODES_MAP).get(res.code)).toBeUndefined();
  });

  it('keeps the query the registered redirect URI already has', async () => {
    const res = await issue(AuthorizationRequest.fromPartial({ responseType: 'code', clientId: f.confidentialId, state: 'a b&c' }));
    expect(res.redirectTo.startsWith(`${WEB_CB}&code=`)).toBe(true);
    const to = new URL(res.redirectTo);
    expect(to.searchParams.get('tenant')).toBe('a');
    expect(to.searchParams.get('state')).toBe('a b&c');
    expect(to.searchParams.get('iss')).toBe(t.config.issuer);
  });

  it('narrows the grant to the consented scopes and refuses scopes beyond the request', async () => {
    const res = await issue(publicRequest(f, { scope: 'openid read write' }), { consentedScopes: ['read'] });
    expect((await codesInGrid(res.code))?.scopes).toEqual(['read']);
    const err = await rejection(issue(publicRequest(f, { scope: 'openid' }), { consentedScopes: ['openid', 'write'] }));
    expect(err.code).toBe('invalid_scope');
    expect(err.metadata).toMatchObject({ redirect_uri: APP_CB, state: 'st-123' });
  });

  it('remembers consent of a confidential client so the next request needs no consent page', async () => {
    const web = (o: Partial<AuthorizationRequest> = {}) =>
      AuthorizationRequest.fromPartial({ responseType: 'code', clientId: f.confidentialId, redirectUri: WEB_CB, scope: 'write', state: 's', ...o });
    const request = web();
    expect((await validate(request, f.userId)).consentNotRequired).toBe(false);
    expect((await validate(request, f.userId)).consentRememberable).toBe(true);
    await issue(request, { rememberConsent: true });
    expect((await validate(request, f.userId)).consentNotRequired).toBe(true);
    // A wider request needs consent again; consent merges rather than replaces.
    expect((await validate(web({ scope: 'read write' }), f.userId)).consentNotRequired).toBe(false);
    await issue(web({ scope: 'read' }), { rememberConsent: true });
    expect((await t.store.consents.get(f.userId, f.confidentialId)).scopes.sort()).toEqual(['read', 'write']);
    expect((await validate(web({ scope: 'read write' }), f.userId)).consentNotRequired).toBe(true);
    // Consent belongs to the user: another user id still needs the page.
    expect((await validate(request, 'someone-else')).consentNotRequired).toBe(false);
  });

  it('never remembers consent for a public client: an impersonator with its own PKCE and loopback port is asked (RFC 8252 §8.6)', async () => {
    const first = publicRequest(f, { scope: 'openid write', redirectUri: 'http://127.0.0.1:51001/cb' });
    expect((await validate(first, f.userId)).consentRememberable).toBe(false);
    await issue(first, { rememberConsent: true });
    await expect(t.store.consents.get(f.userId, f.publicId)).rejects.toMatchObject({ code: 'not_found' });
    // Another app sending the same client_id, its own challenge and another loopback port.
    const impersonator = publicRequest(f, { scope: 'openid write', redirectUri: 'http://127.0.0.1:52002/cb', codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' });
    expect((await validate(impersonator, f.userId)).consentNotRequired).toBe(false);
    // Even a consent stored before this policy (or by hand) is not honoured for a public client.
    await t.store.consents.put({ userId: f.userId, clientId: f.publicId, scopes: ['openid', 'read', 'write'], resourceScopes: [] });
    expect((await validate(impersonator, f.userId)).consentNotRequired).toBe(false);
  });

  it('uses the given auth_time and refuses one in the future', async () => {
    const authTime = new Date(Date.now() - 30_000);
    authTime.setMilliseconds(0);
    const res = await issue(publicRequest(f), { authTime });
    expect((await codesInGrid(res.code))?.authTime).toBe(authTime.toISOString());
    const err = await rejection(issue(publicRequest(f), { authTime: new Date(Date.now() + 3_600_000) }));
    expect(err.code).toBe('invalid_request');
  });

  it('validates the request again and issues nothing for a bad one', async () => {
    const before = await issuedCount();
    const entries = gridEntries();
    const err = await rejection(issue(publicRequest(f, { redirectUri: 'https://evil.example/cb' })));
    expect(err.code).toBe('invalid_request');
    expect(err.metadata).not.toHaveProperty('redirect_uri');
    const scopeErr = await rejection(issue(publicRequest(f, { scope: 'admin' })));
    expect(scopeErr.code).toBe('invalid_scope');
    expect(scopeErr.metadata).toMatchObject({ redirect_uri: APP_CB });
    expect(await issuedCount()).toBe(before);
    expect(gridEntries()).toBe(entries);
  });

  it('requires user_id and refuses an unknown user without remembering any consent', async () => {
    expect((await rejection(issue(publicRequest(f), { userId: '' }))).code).toBe('invalid_request');
    const ghost = uniqueId('ghost');
    expect((await rejection(issue(publicRequest(f), { userId: ghost, rememberConsent: true }))).code).toBe('access_denied');
    await expect(t.store.consents.get(ghost, f.publicId)).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('DenyAuthorization', () => {
  it('redirects access_denied with state and iss', async () => {
    const res = await t.peers.code.denyAuthorization(DenyAuthorizationRequest.fromPartial({ request: publicRequest(f) }));
    const to = new URL(res.redirectTo);
    expect(`${to.origin}${to.pathname}`).toBe(APP_CB);
    expect(to.searchParams.get('error')).toBe('access_denied');
    expect(to.searchParams.get('error_description')).toBeTruthy();
    expect(to.searchParams.get('state')).toBe('st-123');
    expect(to.searchParams.get('iss')).toBe(t.config.issuer);
    expect(to.searchParams.has('code')).toBe(false);
  });

  it('keeps an existing query and validates the request again', async () => {
    const res = await t.peers.code.denyAuthorization(DenyAuthorizationRequest.fromPartial({ request: AuthorizationRequest.fromPartial({ responseType: 'code', clientId: f.confidentialId }) }));
    expect(res.redirectTo.startsWith(`${WEB_CB}&error=access_denied`)).toBe(true);
    const err = await rejection(t.peers.code.denyAuthorization(DenyAuthorizationRequest.fromPartial({ request: publicRequest(f, { clientId: 'nobody' }) })));
    expect(err.code).toBe('invalid_client');
    expect(err.metadata).not.toHaveProperty('redirect_uri');
  });
});

describe('access', () => {
  it('refuses every RPC with an ordinary bearer token and without credentials', async () => {
    const bearer = await t.bearer({ scope: ['authmesh.admin'] });
    const calls: Array<(opts: { bearer?: string }) => Promise<unknown>> = [
      (o) => t.anon.code.validateAuthorizationRequest(ValidateAuthorizationRequestRequest.fromPartial({ request: publicRequest(f) }), o),
      (o) => t.anon.code.issueCode(IssueCodeRequest.fromPartial({ request: publicRequest(f), userId: f.userId }), o),
      (o) => t.anon.code.denyAuthorization(DenyAuthorizationRequest.fromPartial({ request: publicRequest(f) }), o),
      // RFC 9126 / RFC 9101: only the gateway pushes and resolves (a caller could otherwise spend request_uri values).
      (o) => t.anon.code.pushAuthorizationRequest({ client: { credential: { $case: 'clientId', value: f.publicId } }, request: publicRequest(f), dpopProof: '', remoteIp: '' }, o),
      (o) => t.anon.code.resolveAuthorizationRequest({ request: publicRequest(f) }, o),
    ];
    for (const call of calls) {
      expect((await rejection(call({ bearer }))).code).toBe('access_denied');
      expect((await rejection(call({}))).code).toBe('invalid_token');
    }
  });
});
