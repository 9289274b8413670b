// RP-Initiated Logout 1.0 through the gateway as a browser sees it: a valid id_token_hint with a
// registered post_logout_redirect_uri logs out and redirects with state; an unregistered URI never
// redirects; forged, access-token and other-client hints are refused and end nothing; a request
// without proof is confirmed by the user through a CSRF-protected form.
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { uniqueId } from '../../test/support/ids.js';
import { SESSION_COOKIE } from '../session.js';
import { Browser, createUser, formFor, locationOf, runAuthorization } from './authorize-test-support.js';
import { END_SESSION_CONFIRM_PATH } from './end-session.js';

const RP_CB = 'https://rp.example.com/cb';
const RP_BYE = 'https://rp.example.com/bye';

let t: TestGateway;
let admin: string;
let rpId: string;
let otherId: string;

beforeAll(async () => {
  t = await startTestGateway();
  admin = await t.bearer();
  const create = async (over: Partial<Client>) =>
    (
      await t.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: Client.fromPartial({
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
            redirectUris: [RP_CB],
            grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
            scopes: ['openid'],
            skipConsent: true,
            ...over,
          }),
        }),
        { bearer: admin },
      )
    ).client!.clientId;
  rpId = await create({ clientId: uniqueId('rp'), postLogoutRedirectUris: [RP_BYE] });
  otherId = await create({ clientId: uniqueId('other'), postLogoutRedirectUris: ['https://other.example.com/bye'] });
}, 60_000);
afterAll(async () => t?.close());

function authorizeUrl(): string {
  const q = new URLSearchParams({ response_type: 'code', client_id: rpId, redirect_uri: RP_CB, scope: 'openid', state: 'st', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
  return `/oauth2/authorize?${q.toString()}`;
}

/** A browser signed in through the RP, its user and its session's public sid. */
async function signedIn(): Promise<{ browser: Browser; userId: string; sid: string }> {
  const user = await createUser(t);
  const browser = new Browser(t.baseUrl);
  const run = await runAuthorization(browser, authorizeUrl(), { username: user.username });
  expect(run.location.searchParams.get('code')).toBeTruthy();
  const sessions = (await t.anon.user.listUserSessions({ userId: user.userId }, { bearer: admin })).sessions;
  expect(sessions).toHaveLength(1);
  // The code flow recorded the RP on the session (the back-channel logout hook).
  expect(sessions[0]!.clientIds).toEqual([rpId]);
  return { browser, userId: user.userId, sid: sessions[0]!.sid };
}

/** An ID Token as the provider issues it (typ JWT, signed by the key service); expired unless told. */
async function idToken(claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const res = await t.peers.key.signJwt({ claims: { iss: t.baseUrl, aud: rpId, iat: now - 7200, exp: now - 3600, ...claims }, typ: 'JWT' });
  return res.jwt;
}

const liveSessions = async (userId: string) => (await t.anon.user.listUserSessions({ userId }, { bearer: admin })).sessions.length;

describe('end_session_endpoint', () => {
  it('a valid (expired) id_token_hint and a registered post_logout_redirect_uri: logout, redirect with state, cookie cleared', async () => {
    const { browser, userId, sid } = await signedIn();
    const saved = browser.cookies.get(SESSION_COOKIE)!;
    const hint = await idToken({ sub: userId, sid });
    const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: RP_BYE, state: 'af0ifjsldkj', ui_locales: 'fr', logout_hint: 'x' })}`);
    expect(res.status).toBe(302);
    const to = locationOf(res, t.baseUrl);
    expect(`${to.origin}${to.pathname}`).toBe(RP_BYE);
    expect(to.searchParams.get('state')).toBe('af0ifjsldkj');
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
    expect(await liveSessions(userId)).toBe(0);
    // The cookie saved before logout names an ended session: the login page again.
    browser.cookies.set(SESSION_COOKIE, saved);
    expect(await (await browser.get(authorizeUrl())).text()).toContain('action="/oauth2/login"');
  });

  it('a pairwise sub with the session\'s sid proves the request (the sid names the session, OIDC Core §8.1 hides the user id)', async () => {
    const { browser, userId, sid } = await signedIn();
    const hint = await idToken({ sub: 'pairwise-subject-not-the-user-id', sid });
    const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: RP_BYE, state: 'pw' })}`);
    expect(res.status).toBe(302);
    expect(locationOf(res, t.baseUrl).searchParams.get('state')).toBe('pw');
    expect(await liveSessions(userId)).toBe(0);
  });

  it('POST works like GET, answered with 303', async () => {
    const { browser, userId, sid } = await signedIn();
    const res = await browser.post('/oauth2/end_session', { id_token_hint: await idToken({ sub: userId, sid }), client_id: rpId, post_logout_redirect_uri: RP_BYE });
    expect(res.status).toBe(303);
    expect(locationOf(res, t.baseUrl).href).toBe(RP_BYE);
    expect(await liveSessions(userId)).toBe(0);
  });

  it.each([
    ['an unregistered URI', 'https://evil.example/steal'],
    ['another client\'s registered URI', 'https://other.example.com/bye'],
    ['the registered URI with a trailing slash', `${RP_BYE}/`],
  ])('%s is never redirected to: the signed-out page is shown, the session still ends', async (_n, uri) => {
    const { browser, userId, sid } = await signedIn();
    const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ id_token_hint: await idToken({ sub: userId, sid }), post_logout_redirect_uri: uri, state: 's' })}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    const page = await res.text();
    expect(page).toContain('You are signed out');
    expect(page).not.toContain(uri);
    expect(await liveSessions(userId)).toBe(0);
  });

  it('refuses forged, access-token and other-client hints, ends nothing and redirects nowhere', async () => {
    const { browser, userId, sid } = await signedIn();
    const { privateKey } = await generateKeyPair('ES256');
    const kid = (await t.peers.key.getJwks({})).keys[0]!.kid as string;
    const forged = await new SignJWT({ sub: userId, sid, aud: rpId, iss: t.baseUrl })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
      .setIssuedAt()
      .sign(privateKey);
    const refused: Record<string, string>[] = [
      { id_token_hint: forged },
      { id_token_hint: admin },
      { id_token_hint: 'not.a.jwt' },
      { id_token_hint: await idToken({ sub: userId, sid, iss: 'https://other-issuer.example' }) },
      // The hint names another client than client_id.
      { id_token_hint: await idToken({ sub: userId, sid, aud: otherId }), client_id: rpId },
    ];
    for (const params of refused) {
      const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ ...params, post_logout_redirect_uri: RP_BYE })}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('invalid_request');
    }
    expect(await liveSessions(userId)).toBe(1);
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(true);
  });

  it('refuses a signed UserInfo response as id_token_hint (typ JWT, iss/aud/sub but no exp/iat: not an ID Token, OIDC Core §2)', async () => {
    const { browser, userId } = await signedIn();
    // What services/user signs for a client with userinfo_signed_response_alg: iss, aud, sub and claims, typ JWT.
    const { jwt: signedUserInfo } = await t.peers.key.signJwt({ claims: { sub: userId, iss: t.baseUrl, aud: rpId }, typ: 'JWT' });
    const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ id_token_hint: signedUserInfo, post_logout_redirect_uri: RP_BYE, state: 'ui' })}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('invalid_request');
    expect(await liveSessions(userId)).toBe(1);
  });

  it('without proof (no hint, or a hint of another user) asks the user; the form is CSRF-protected', async () => {
    const { browser, userId } = await signedIn();
    const other = await createUser(t);
    const queries: Record<string, string>[] = [{ client_id: rpId }, { id_token_hint: await idToken({ sub: other.userId }) }];
    for (const query of queries) {
      const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ ...query, post_logout_redirect_uri: RP_BYE, state: 'st<x>' })}`);
      expect(res.status).toBe(200);
      const page = await res.text();
      expect(page).toContain('Sign out?');
      expect(page).not.toContain('st<x>');
      expect(await liveSessions(userId)).toBe(1);
    }
    const page = await (await browser.get(`/oauth2/end_session?${new URLSearchParams({ client_id: rpId, post_logout_redirect_uri: RP_BYE, state: 'st<x>' })}`)).text();
    const form = formFor(page, END_SESSION_CONFIRM_PATH);
    expect(form.fields.state).toBe('st<x>');
    // A cross-site post: no CSRF token, or a token without the matching cookie.
    expect((await browser.post(END_SESSION_CONFIRM_PATH, { ...form.fields, csrf_token: '', decision: 'logout' })).status).toBe(403);
    const stranger = new Browser(t.baseUrl);
    stranger.cookies.set(SESSION_COOKIE, browser.cookies.get(SESSION_COOKIE)!);
    expect((await stranger.post(END_SESSION_CONFIRM_PATH, { ...form.fields, decision: 'logout' })).status).toBe(403);
    expect(await liveSessions(userId)).toBe(1);
    // "Stay signed in" keeps the session.
    expect((await browser.submit(form, { decision: 'stay' })).status).toBe(200);
    expect(await liveSessions(userId)).toBe(1);
    // The first form is the sign-out one, complete as rendered (a browser sends only its inputs).
    const res = await browser.submit(form);
    expect(res.status).toBe(303);
    const to = locationOf(res, t.baseUrl);
    expect(`${to.origin}${to.pathname}`).toBe(RP_BYE);
    expect(to.searchParams.get('state')).toBe('st<x>');
    expect(await liveSessions(userId)).toBe(0);
  });

  it('with two accounts in the browser, the hint\'s account is the one signed out, current or not (RP-Initiated Logout §2)', async () => {
    const alice = await signedIn();
    const { browser } = alice;
    // Bob signs in on the same browser: the cookie holds [bob (current), alice].
    const bob = await createUser(t);
    const run = await runAuthorization(browser, `${authorizeUrl()}&prompt=login`, { username: bob.username });
    expect(run.location.searchParams.get('code')).toBeTruthy();
    const bobSid = (await t.anon.user.listUserSessions({ userId: bob.userId }, { bearer: admin })).sessions[0]!.sid;
    // Alice's RP logs her out: her session ends, bob's stays.
    const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ id_token_hint: await idToken({ sub: alice.userId, sid: alice.sid }), post_logout_redirect_uri: RP_BYE, state: 'a' })}`);
    expect(res.status).toBe(302);
    expect(await liveSessions(alice.userId)).toBe(0);
    expect(await liveSessions(bob.userId)).toBe(1);
    // Then bob's RP logs him out, though he is no longer current: his session ends too.
    const res2 = await browser.get(`/oauth2/end_session?${new URLSearchParams({ id_token_hint: await idToken({ sub: bob.userId, sid: bobSid }), post_logout_redirect_uri: RP_BYE, state: 'b' })}`);
    expect(res2.status).toBe(302);
    expect(await liveSessions(bob.userId)).toBe(0);
  });

  it('a hint naming a session this browser does not hold ends none of the browser\'s accounts', async () => {
    const { browser, userId } = await signedIn();
    const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ id_token_hint: await idToken({ sub: 'someone-else', sid: 'e'.repeat(64) }), post_logout_redirect_uri: RP_BYE })}`);
    expect(res.status).toBe(302);
    expect(await liveSessions(userId)).toBe(1);
  });

  it('confirmed without proof, every account of the browser is signed out (a shared device keeps no one signed in)', async () => {
    const alice = await signedIn();
    const bob = await createUser(t);
    await runAuthorization(alice.browser, `${authorizeUrl()}&prompt=login`, { username: bob.username });
    const page = await (await alice.browser.get(`/oauth2/end_session?${new URLSearchParams({ client_id: rpId })}`)).text();
    expect((await alice.browser.submit(formFor(page, END_SESSION_CONFIRM_PATH))).status).toBe(200);
    expect(await liveSessions(alice.userId)).toBe(0);
    expect(await liveSessions(bob.userId)).toBe(0);
    expect(alice.browser.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it('refuses an over-long state (it would be echoed into the Location header) and ends nothing', async () => {
    const { browser, userId, sid } = await signedIn();
    const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ id_token_hint: await idToken({ sub: userId, sid }), post_logout_redirect_uri: RP_BYE, state: 'x'.repeat(3000) })}`);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await liveSessions(userId)).toBe(1);
  });

  it('a post_logout_redirect_uri without client_id or hint is refused; repeated parameters too', async () => {
    const browser = new Browser(t.baseUrl);
    expect((await browser.get(`/oauth2/end_session?${new URLSearchParams({ post_logout_redirect_uri: RP_BYE })}`)).status).toBe(400);
    expect((await browser.get(`/oauth2/end_session?client_id=${rpId}&client_id=${otherId}`)).status).toBe(400);
    // No session and a registered URI named with client_id: straight back to the RP.
    const res = await browser.get(`/oauth2/end_session?${new URLSearchParams({ client_id: rpId, post_logout_redirect_uri: RP_BYE })}`);
    expect(locationOf(res, t.baseUrl).href).toBe(RP_BYE);
  });
});
