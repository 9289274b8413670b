// Login sessions through the gateway as a browser sees them: logout and a password reset end them
// server-side (a saved copy of the cookie gets the login page), a stranger's failed logins cannot
// cut the owner's existing session off, and a public client never gets remembered consent.
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SetPasswordRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { SESSION_COOKIE } from '../session.js';
import { Browser, createFixtures, createUser, FIRST_CB, type Fixtures, formFor, locationOf, PASSWORD, runAuthorization, WEB_CB } from './authorize-test-support.js';

let t: TestGateway;
let f: Fixtures;

beforeAll(async () => {
  // The account-wide cap as low as the per-source one, so three strangers' failures lock the account.
  t = await startTestGateway({ AUTHMESH_LOGIN_MAX_FAILURES: '3', AUTHMESH_LOGIN_ACCOUNT_MAX_FAILURES: '3', AUTHMESH_LOGIN_LOCK_SECONDS: '600' });
  f = await createFixtures(t);
}, 60_000);
afterAll(async () => t?.close());

async function authorizeUrl(clientId: string, redirectUri: string, scope = 'read'): Promise<string> {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state: 'st',
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: 'S256',
  });
  return `/oauth2/authorize?${q.toString()}`;
}

/** What the next authorization of the skip-consent client shows this browser: a code, or the login page. */
async function outcome(browser: Browser): Promise<'code' | 'login'> {
  const res = await browser.get(await authorizeUrl(f.firstId, FIRST_CB));
  if (res.status === 302) {
    const to = locationOf(res, t.baseUrl);
    expect(`${to.origin}${to.pathname}`).toBe(FIRST_CB);
    expect(to.searchParams.get('code')).toBeTruthy();
    return 'code';
  }
  expect(res.status).toBe(200);
  expect(await res.text()).toContain('action="/oauth2/login"');
  return 'login';
}

/** A browser logged in as username through the skip-consent client. */
async function loggedInAs(username: string): Promise<Browser> {
  const browser = new Browser(t.baseUrl);
  const run = await runAuthorization(browser, await authorizeUrl(f.firstId, FIRST_CB), { username });
  expect(run.pages).toEqual(['login']);
  return browser;
}

describe('login sessions end server-side', () => {
  it('logout, then a replayed session cookie saved before it gets the login page', async () => {
    const browser = await loggedInAs(f.username);
    expect(await outcome(browser)).toBe('code');
    const saved = browser.cookies.get(SESSION_COOKIE)!;
    // The logout form is on the consent page of a client that asks for consent.
    const consentPage = await (await browser.get(await authorizeUrl(f.webId, WEB_CB))).text();
    const out = await browser.submit(formFor(consentPage, '/oauth2/logout'));
    expect(out.status).toBe(303);
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
    // The attacker (or a shared computer's next user) replays the cookie saved before the logout.
    browser.cookies.set(SESSION_COOKIE, saved);
    expect(await outcome(browser)).toBe('login');
    expect((await t.store.audit.list({ type: 'session.ended', subject: f.userId })).items.length).toBeGreaterThanOrEqual(1);
  });

  it("a password reset by an admin ends the user's existing sessions", async () => {
    const { username, userId } = await createUser(t);
    const browser = await loggedInAs(username);
    const other = await loggedInAs(username);
    expect(await outcome(browser)).toBe('code');
    await t.anon.user.setPassword(SetPasswordRequest.fromPartial({ userId, newPassword: 'a brand new passphrase' }), { bearer: await t.bearer() });
    expect(await outcome(browser)).toBe('login');
    expect(await outcome(other)).toBe('login');
    // A login with the new password starts a session that works.
    const fresh = new Browser(t.baseUrl);
    const run = await runAuthorization(fresh, await authorizeUrl(f.firstId, FIRST_CB), { username, password: 'a brand new passphrase' });
    expect(run.location.searchParams.get('code')).toBeTruthy();
    expect(await outcome(fresh)).toBe('code');
  });
});

describe('login throttling', () => {
  it("a stranger cannot lock the owner out of the owner's existing session", async () => {
    const { username, userId } = await createUser(t);
    const owner = await loggedInAs(username);
    // Failed logins from several addresses: enough to lock the account's password logins.
    const stranger = new Browser(t.baseUrl);
    const page = await (await stranger.get(await authorizeUrl(f.firstId, FIRST_CB))).text();
    const form = formFor(page, '/oauth2/login');
    for (let i = 0; i < 3; i++) {
      const res = await stranger.post(form.action, { ...form.fields, username, password: `guess number ${i}` }, { 'x-forwarded-for': `203.0.113.${20 + i}` });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('Invalid username or password.');
    }
    expect((await t.store.users.get(userId)).lockedUntil).toBeDefined();
    // The owner's session keeps getting codes during the lock.
    expect(await outcome(owner)).toBe('code');
    // A new password login is refused during the lock, even with the right password.
    const fresh = new Browser(t.baseUrl);
    const loginPage = await (await fresh.get(await authorizeUrl(f.firstId, FIRST_CB))).text();
    const refused = await fresh.submit(formFor(loginPage, '/oauth2/login'), { username, password: PASSWORD });
    expect(refused.status).toBe(200);
    expect(fresh.cookies.has(SESSION_COOKIE)).toBe(false);
  });
});

describe('remembered consent', () => {
  it('an impersonator of a public client with remembered consent gets the consent page', async () => {
    const { username, userId } = await createUser(t);
    const browser = new Browser(t.baseUrl);
    // The genuine app: login, consent, and "remember" posted even though the page no longer offers it.
    const first = await browser.get(await authorizeUrl(f.publicId, 'http://127.0.0.1:51001/native', 'read write'));
    const login = await browser.submit(formFor(await first.text(), '/oauth2/login'), { username, password: PASSWORD });
    const consentPage = await (await browser.get(locationOf(login, t.baseUrl).href)).text();
    expect(consentPage).not.toContain('name="remember"');
    const allowed = await browser.submit(formFor(consentPage, '/oauth2/consent'), { decision: 'allow', remember: 'on' });
    expect(locationOf(allowed, t.baseUrl).searchParams.get('code')).toBeTruthy();
    await expect(t.store.consents.get(userId, f.publicId)).rejects.toMatchObject({ code: 'not_found' });
    // Another app on the same machine: the same client_id, its own PKCE challenge, another loopback port.
    const impersonated = await browser.get(await authorizeUrl(f.publicId, 'http://127.0.0.1:52002/native', 'read write'));
    expect(impersonated.status).toBe(200);
    expect(await impersonated.text()).toContain('action="/oauth2/consent"');
  });
});
