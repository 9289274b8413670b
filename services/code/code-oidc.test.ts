// The code service's OpenID Connect parts over real gRPC: what IssueCode binds to the code (nonce,
// sid as the hash of the login session, amr) and RedeemCode hands to the token service; max_age
// and prompt decided by ValidateAuthorizationRequest and rechecked by IssueCode; bounds on the
// new inputs. Errors carry the redirect target (OIDC Core §3.1.2.6).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IssueCodeRequest, RedeemCodeRequest, ValidateAuthorizationRequestRequest, type AuthorizationRequest } from '../../gen/ts/authmesh/code/v1/code.js';
import { hashToken } from '../core/oauth/index.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { APP_CB, createFixtures, type Fixtures, publicRequest, rejection, VERIFIER } from './code-test-support.js';

let t: TestMesh;
let f: Fixtures;

beforeAll(async () => {
  t = await startTestMesh();
  f = await createFixtures(t);
});
afterAll(async () => {
  await t?.close();
});

const issue = (request: AuthorizationRequest, more: Partial<IssueCodeRequest> = {}) =>
  t.peers.code.issueCode(IssueCodeRequest.fromPartial({ request, userId: f.userId, authTime: new Date(), ...more }));
const validate = (request: AuthorizationRequest, more: Partial<ValidateAuthorizationRequestRequest> = {}) =>
  t.peers.code.validateAuthorizationRequest(ValidateAuthorizationRequestRequest.fromPartial({ request, ...more }));
const redeem = (code: string) => t.peers.code.redeemCode(RedeemCodeRequest.fromPartial({ code, clientId: f.publicId, redirectUri: APP_CB, codeVerifier: VERIFIER }));

describe('IssueCode / RedeemCode bind the OIDC values to the code', () => {
  it('binds nonce, sid (the hash of the session id, never the id) and amr', async () => {
    const sessionId = 'raw-session-id-secret-value-0123456789abcdef';
    const { code } = await issue(publicRequest(f, { nonce: 'n-0S6 _WzA2Mj' }), { sessionId, amr: ['pwd'] });
    const { grant } = await redeem(code);
    expect(grant).toMatchObject({ nonce: 'n-0S6 _WzA2Mj', sid: hashToken(sessionId), amr: ['pwd'] });
    expect(JSON.stringify(grant)).not.toContain(sessionId);
  });

  it('leaves sid and amr empty when the gateway names no session', async () => {
    const { code } = await issue(publicRequest(f));
    expect((await redeem(code)).grant).toMatchObject({ sid: '', amr: [] });
  });

  it.each<[string, Partial<IssueCodeRequest>]>([
    ['an amr value outside RFC 8176 names', { amr: ['pwd', 'Not A Method!'] }],
    ['more than 8 amr values', { amr: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] }],
    ['a session id longer than any we issue', { sessionId: 's'.repeat(257) }],
  ])('refuses %s as invalid_request', async (_name, more) => {
    expect((await rejection(issue(publicRequest(f), more))).code).toBe('invalid_request');
  });
});

describe('prompt and max_age (OIDC Core §3.1.2.1)', () => {
  it('asks for a login when the session is older than max_age, and not when it is fresh', async () => {
    const old = new Date(Date.now() - 120_000);
    expect((await validate(publicRequest(f, { maxAge: '60' }), { userId: f.userId, authTime: old })).loginRequired).toBe(true);
    expect((await validate(publicRequest(f, { maxAge: '600' }), { userId: f.userId, authTime: old })).loginRequired).toBe(false);
    expect((await validate(publicRequest(f, { prompt: 'login' }), { userId: f.userId, authTime: new Date() })).loginRequired).toBe(true);
  });

  it('asks for a login for max_age=0 even within the second of the login (OIDC Core §3.1.2.1 errata: prompt=login)', async () => {
    // An auth_time a little ahead of the service's clock: the authentication is 0 whole seconds old.
    const justNow = new Date(Date.now() + 5_000);
    expect((await validate(publicRequest(f, { maxAge: '0' }), { userId: f.userId, authTime: justNow })).loginRequired).toBe(true);
    expect((await validate(publicRequest(f, { maxAge: '1' }), { userId: f.userId, authTime: justNow })).loginRequired).toBe(false);
  });

  it('fails prompt=none without a user with LOGIN_REQUIRED, redirectable with state', async () => {
    const err = await rejection(validate(publicRequest(f, { prompt: 'none' })));
    expect(err.code).toBe('login_required');
    expect(err.metadata).toMatchObject({ redirect_uri: APP_CB, state: 'st-123' });
  });

  it('fails prompt=none with CONSENT_REQUIRED for a client whose users consent every time', async () => {
    const err = await rejection(validate(publicRequest(f, { prompt: 'none' }), { userId: f.userId, authTime: new Date() }));
    expect(err.code).toBe('consent_required');
    expect(err.metadata.redirect_uri).toBe(APP_CB);
  });

  it('refuses at IssueCode an authentication older than max_age (a page left open), as LOGIN_REQUIRED', async () => {
    const err = await rejection(issue(publicRequest(f, { maxAge: '60' }), { authTime: new Date(Date.now() - 120_000) }));
    expect(err.code).toBe('login_required');
    expect(err.metadata).toMatchObject({ redirect_uri: APP_CB, state: 'st-123' });
  });

  it('refuses an id_token_hint that is not a JWS of ours with a redirectable invalid_request', async () => {
    const err = await rejection(validate(publicRequest(f, { idTokenHint: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }), { userId: f.userId, authTime: new Date() }));
    expect(err.code).toBe('invalid_request');
    expect(err.metadata.redirect_uri).toBe(APP_CB);
  });
});

describe('the claims parameter: a requested sub value and an essential acr (OIDC Core §5.5.1, §5.5.1.1)', () => {
  const subClaims = (member: 'id_token' | 'userinfo', sub: string) => JSON.stringify({ [member]: { sub: { value: sub } } });

  it.each(['id_token', 'userinfo'] as const)('sends the session of another user than the %s sub value to the login page, and issues no code for them', async (member) => {
    const request = publicRequest(f, { claims: subClaims(member, 'usr_someoneelse') });
    expect((await validate(request, { userId: f.userId, authTime: new Date() })).loginRequired).toBe(true);
    const err = await rejection(issue(request));
    expect(err.code).toBe('login_required');
    expect(err.metadata).toMatchObject({ redirect_uri: APP_CB, state: 'st-123' });
  });

  it('answers prompt=none with a session of another user than the sub value with LOGIN_REQUIRED, redirectable', async () => {
    const err = await rejection(validate(publicRequest(f, { prompt: 'none', claims: subClaims('id_token', 'usr_someoneelse') }), { userId: f.userId, authTime: new Date() }));
    expect(err.code).toBe('login_required');
    expect(err.metadata).toMatchObject({ redirect_uri: APP_CB, state: 'st-123' });
  });

  it('issues the code when the sub value is the session user (public subject: the user id)', async () => {
    const request = publicRequest(f, { claims: subClaims('id_token', f.userId) });
    expect((await validate(request, { userId: f.userId, authTime: new Date() })).loginRequired).toBe(false);
    expect((await issue(request)).code).toBeTruthy();
  });

  it('refuses an essential acr it cannot satisfy with a redirectable ACCESS_DENIED, at validation and at IssueCode', async () => {
    const request = publicRequest(f, { claims: '{"id_token":{"acr":{"essential":true,"values":["urn:x"]}}}' });
    for (const p of [validate(request, { userId: f.userId, authTime: new Date() }), validate(request), issue(request)]) {
      const err = await rejection(p);
      expect(err.code).toBe('access_denied');
      expect(err.metadata).toMatchObject({ redirect_uri: APP_CB, state: 'st-123' });
    }
    // A voluntary acr is a preference, not a requirement.
    expect((await issue(publicRequest(f, { claims: '{"id_token":{"acr":{"values":["urn:x"]}}}' }))).code).toBeTruthy();
  });
});
