// The RFC 9700 rules of the authorization endpoint seen from outside (exact redirect match, no
// open redirects, PKCE, code replay, 303, page headers, no CORS) plus CSRF, session cookies,
// repeated parameters, methods and content types.
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { baseCookieOptions } from '../cookie-options.js';
import { APP_CB, Browser, createFixtures, type Fixtures, formFor, locationOf, PASSWORD, runAuthorization, WEB_CB } from './authorize-test-support.js';

let t: TestGateway;
let f: Fixtures;
let as: oauth.AuthorizationServer;
const insecure = { [oauth.allowInsecureRequests]: true } as const;
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
let CHALLENGE: string;

beforeAll(async () => {
  t = await startTestGateway();
  f = await createFixtures(t);
  const issuer = new URL(t.baseUrl);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  CHALLENGE = await oauth.calculatePKCECodeChallenge(VERIFIER);
});
afterAll(async () => t?.close());

function authorizeQuery(overrides: Record<string, string | undefined> = {}): string {
  const params: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: f.publicId,
    redirect_uri: APP_CB,
    scope: 'read',
    state: 'xyz-state',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    ...overrides,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v);
  return q.toString();
}

const EXPECTED_CSP_PREFIX = "default-src 'none'; style-src 'sha256-";

function expectPageHeaders(res: Response): void {
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(res.headers.get('x-frame-options')).toBe('DENY');
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp.startsWith(EXPECTED_CSP_PREFIX)).toBe(true);
  expect(csp).toContain("form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('access-control-allow-origin')).toBeNull();
}

/** An error page: the given status, no redirect, the error code on the page. */
async function expectErrorPage(res: Response, status: number, error: string): Promise<string> {
  expect(res.status).toBe(status);
  expect(res.headers.get('location')).toBeNull();
  expectPageHeaders(res);
  const body = await res.text();
  expect(body).toContain(`<code>${error}</code>`);
  return body;
}

/** A browser with a session of the fixture user. */
async function loggedIn(): Promise<Browser> {
  const browser = new Browser(t.baseUrl);
  const page = await (await browser.get(`/oauth2/authorize?${authorizeQuery()}`)).text();
  const res = await browser.submit(formFor(page, '/oauth2/login'), { username: f.username, password: PASSWORD });
  expect(res.status).toBe(303);
  return browser;
}

describe('redirect URIs (RFC 9700 §4.1, RFC 6749 §4.1.2.1)', () => {
  it.each([
    ['a trailing slash', `${APP_CB}/`],
    ['an extra query', `${APP_CB}?x=1`],
    ['another port', 'https://app.example.com:8443/cb'],
    ['http instead of https', 'http://app.example.com/cb'],
    ['a fragment', `${APP_CB}#frag`],
  ])('refuses a redirect_uri differing by %s with an error page and no Location', async (_label, redirectUri) => {
    const res = await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery({ redirect_uri: redirectUri })}`, { redirect: 'manual' });
    await expectErrorPage(res, 400, 'invalid_request');
  });

  it('accepts any port on a registered loopback redirect URI (RFC 8252 §7.3)', async () => {
    const res = await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery({ redirect_uri: 'http://127.0.0.1:54321/native' })}`, { redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('action="/oauth2/login"');
  });

  it('never redirects for an unknown client, a missing client_id or an unregistered redirect URI (no open redirect)', async () => {
    const evil = 'https://evil.example/cb';
    await expectErrorPage(await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery({ client_id: 'no-such-client', redirect_uri: evil })}`, { redirect: 'manual' }), 400, 'invalid_client');
    await expectErrorPage(await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery({ client_id: undefined, redirect_uri: evil })}`, { redirect: 'manual' }), 400, 'invalid_request');
    const body = await expectErrorPage(await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery({ redirect_uri: evil })}`, { redirect: 'manual' }), 400, 'invalid_request');
    expect(body).not.toContain('evil.example');
    // Also for a logged-in user, and for POST.
    const browser = await loggedIn();
    await expectErrorPage(await browser.post('/oauth2/authorize', Object.fromEntries(new URLSearchParams(authorizeQuery({ redirect_uri: evil })))), 400, 'invalid_request');
  });
});

describe('PKCE (RFC 7636, RFC 9700 §2.1.1)', () => {
  it('redirects invalid_request with state and iss when a public client sends no code_challenge', async () => {
    const res = await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery({ code_challenge: undefined, code_challenge_method: undefined })}`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = locationOf(res, t.baseUrl);
    expect(`${location.origin}${location.pathname}`).toBe(APP_CB);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toBe('code_challenge is required (PKCE with S256)');
    expect(location.searchParams.get('state')).toBe('xyz-state');
    expect(location.searchParams.get('iss')).toBe(t.baseUrl);
    expect(location.searchParams.has('code')).toBe(false);
    // RFC 9207: the library accepts the iss and reports the error.
    expect(() => oauth.validateAuthResponse(as, { client_id: f.publicId }, location, 'xyz-state')).toThrow(oauth.AuthorizationResponseError);
  });

  it('refuses the plain method', async () => {
    const res = await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery({ code_challenge: VERIFIER, code_challenge_method: 'plain' })}`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = locationOf(res, t.baseUrl);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('iss')).toBe(t.baseUrl);
  });
});

describe('code replay (RFC 6749 §4.1.2, RFC 9700 §4.5)', () => {
  it('refuses the second redemption with invalid_grant and revokes the tokens of the first', async () => {
    const client: oauth.Client = { client_id: f.webId };
    const auth = oauth.ClientSecretBasic(f.webSecret);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const query = authorizeQuery({ client_id: f.webId, redirect_uri: WEB_CB, state, code_challenge: await oauth.calculatePKCECodeChallenge(verifier) });
    const run = await runAuthorization(new Browser(t.baseUrl), `/oauth2/authorize?${query}`, { username: f.username });
    const params = oauth.validateAuthResponse(as, client, run.location, state);

    const first = await oauth.processAuthorizationCodeResponse(as, client, await oauth.authorizationCodeGrantRequest(as, client, auth, params, WEB_CB, verifier, insecure));
    const before = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, first.access_token, insecure));
    expect(before.active).toBe(true);

    const replay = oauth.processAuthorizationCodeResponse(as, client, await oauth.authorizationCodeGrantRequest(as, client, auth, params, WEB_CB, verifier, insecure));
    await expect(replay).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });

    const after = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, first.access_token, insecure));
    expect(after.active).toBe(false);
  });
});

describe('303 after POST (RFC 9700 §4.10)', () => {
  it('answers a POST authorization request with 303, for success and for redirected errors', async () => {
    const browser = await loggedIn();
    // The first-party client skips consent: the code is issued at once, with 303 since this was a POST.
    const fields = Object.fromEntries(new URLSearchParams(authorizeQuery({ client_id: f.firstId, redirect_uri: 'https://first.example.com/cb' })));
    const ok = await browser.post('/oauth2/authorize', fields);
    expect(ok.status).toBe(303);
    expect(locationOf(ok, t.baseUrl).searchParams.get('code')).toBeTruthy();
    const bad = await browser.post('/oauth2/authorize', { ...fields, code_challenge_method: 'plain' });
    expect(bad.status).toBe(303);
    expect(locationOf(bad, t.baseUrl).searchParams.get('error')).toBe('invalid_request');
  });
});

describe('pages', () => {
  it('carry X-Frame-Options DENY, a CSP with frame-ancestors none, no-referrer, nosniff and no-store', async () => {
    const browser = new Browser(t.baseUrl);
    const login = await browser.get(`/oauth2/authorize?${authorizeQuery()}`);
    expectPageHeaders(login);
    const page = await login.text();
    // The stylesheet is inline, allowed by its hash; the logo's https origin is the only image source.
    expect(login.headers.get('content-security-policy')).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; img-src https:\/\/app\.example\.com; form-action 'self'; frame-ancestors 'none'; base-uri 'none'$/,
    );
    const consent = await browser.get(locationOf(await browser.submit(formFor(page, '/oauth2/login'), { username: f.username, password: PASSWORD }), t.baseUrl).href);
    expectPageHeaders(consent);
    expect(await consent.text()).toContain('<h1>Allow access?</h1>');
  });

  it('sends no CORS headers, whatever the Origin (RFC 9700 §2.6: no CORS on the authorization endpoint)', async () => {
    const origin = { origin: 'https://evil.example' };
    const get = await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery()}`, { headers: origin, redirect: 'manual' });
    expect(get.status).toBe(200);
    const preflight = await fetch(`${t.baseUrl}/oauth2/authorize`, { method: 'OPTIONS', headers: { ...origin, 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(405);
    const error = await fetch(`${t.baseUrl}/oauth2/authorize?client_id=nope`, { headers: origin, redirect: 'manual' });
    const redirected = await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery({ code_challenge_method: 'plain' })}`, { headers: origin, redirect: 'manual' });
    const login = await fetch(`${t.baseUrl}/oauth2/login`, { method: 'POST', headers: { ...origin, 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf_token=x' });
    for (const res of [get, preflight, error, redirected, login]) {
      expect([...res.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
  });

  it('refuses other methods with 405 and Allow, and other content types with 415', async () => {
    const put = await fetch(`${t.baseUrl}/oauth2/authorize`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    const getLogin = await fetch(`${t.baseUrl}/oauth2/login`);
    expect(getLogin.status).toBe(405);
    expect(getLogin.headers.get('allow')).toBe('POST');
    const json = await fetch(`${t.baseUrl}/oauth2/authorize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: f.publicId }) });
    await expectErrorPage(json, 415, 'invalid_request');
    const text = await fetch(`${t.baseUrl}/oauth2/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    await expectErrorPage(text, 415, 'invalid_request');
  });
});

describe('repeated parameters (RFC 6749 §3.1)', () => {
  it('shows an error page when client_id or redirect_uri is repeated', async () => {
    await expectErrorPage(await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery()}&client_id=${f.publicId}`, { redirect: 'manual' }), 400, 'invalid_request');
    await expectErrorPage(await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery()}&redirect_uri=${encodeURIComponent(APP_CB)}`, { redirect: 'manual' }), 400, 'invalid_request');
  });

  it('redirects invalid_request to the client for other repeated parameters (without a repeated state)', async () => {
    const scope = await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery()}&scope=write`, { redirect: 'manual' });
    expect(scope.status).toBe(302);
    const l1 = locationOf(scope, t.baseUrl);
    expect(Object.fromEntries(l1.searchParams)).toEqual({ error: 'invalid_request', error_description: 'scope must not be repeated', state: 'xyz-state', iss: t.baseUrl });
    const state = await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery()}&state=other`, { redirect: 'manual' });
    expect(state.status).toBe(302);
    expect(Object.fromEntries(locationOf(state, t.baseUrl).searchParams)).toEqual({ error: 'invalid_request', error_description: 'state must not be repeated', iss: t.baseUrl });
    // A repeated parameter in a POST body: 303.
    const post = await fetch(`${t.baseUrl}/oauth2/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${authorizeQuery()}&code_challenge=${CHALLENGE}`,
      redirect: 'manual',
    });
    expect(post.status).toBe(303);
    expect(locationOf(post, t.baseUrl).searchParams.get('error_description')).toBe('code_challenge must not be repeated');
  });
});

describe('one parameter rule with the token endpoint (RFC 6749 §3.1)', () => {
  it('treats a valueless parameter as omitted and ignores unrecognized ones, even repeated', async () => {
    // Before the shared rule, `scope=&scope=read` was "scope must not be repeated" here.
    const res = await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery({ scope: undefined })}&scope=&scope=read&foo=1&foo=2`, { redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(formFor(await res.text(), '/oauth2/login').action).toBe('/oauth2/login');
  });

  it('shows an error page for more than 64 parameters, without redirecting', async () => {
    const padding = Array.from({ length: 64 }, (_, i) => `p${i}=x`).join('&');
    await expectErrorPage(await fetch(`${t.baseUrl}/oauth2/authorize?${authorizeQuery()}&${padding}`, { redirect: 'manual' }), 400, 'invalid_request');
  });
});

describe('CSRF and the session', () => {
  it('refuses a login form with a wrong or missing CSRF token (403) and starts no session', async () => {
    const browser = new Browser(t.baseUrl);
    const form = formFor(await (await browser.get(`/oauth2/authorize?${authorizeQuery()}`)).text(), '/oauth2/login');
    const creds = { username: f.username, password: PASSWORD };
    await expectErrorPage(await browser.submit(form, { ...creds, csrf_token: 'forged' }), 403, 'access_denied');
    // A form from another browser (its own CSRF token and pending request) does not match this browser's cookie.
    const other = new Browser(t.baseUrl);
    const otherForm = formFor(await (await other.get(`/oauth2/authorize?${authorizeQuery()}`)).text(), '/oauth2/login');
    await expectErrorPage(await browser.submit(otherForm, creds), 403, 'access_denied');
    // No cookie at all (a cross-site POST does not carry the Strict cookie).
    await expectErrorPage(await new Browser(t.baseUrl).submit(form, creds), 403, 'access_denied');
    // A tampered pending request is refused too.
    await expectErrorPage(await browser.submit(form, { ...creds, authorization_request: `${form.fields.authorization_request}x` }), 400, 'invalid_request');
    expect(browser.cookies.has('authmesh_session')).toBe(false);
    expect(browser.setCookies.some((c) => c.startsWith('authmesh_session='))).toBe(false);
  });

  it('refuses a consent form with a wrong CSRF token and issues nothing', async () => {
    const browser = await loggedIn();
    const query = authorizeQuery({ client_id: f.webId, redirect_uri: WEB_CB, scope: 'write' });
    const form = formFor(await (await browser.get(`/oauth2/authorize?${query}`)).text(), '/oauth2/consent');
    const refused = await browser.submit(form, { decision: 'allow', csrf_token: 'forged' });
    await expectErrorPage(refused, 403, 'access_denied');
    // Nothing was remembered: the consent page is shown again.
    const again = await browser.get(`/oauth2/authorize?${query}`);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('action="/oauth2/consent"');
  });

  it('sets the session cookie signed, HttpOnly, SameSite=Lax, Path=/oauth2, and the CSRF cookie SameSite=Strict', async () => {
    const browser = await loggedIn();
    const session = browser.setCookies.find((c) => c.startsWith('authmesh_session='));
    expect(session).toBeDefined();
    const attrs = session!.split(';').map((a) => a.trim());
    expect(attrs).toEqual(expect.arrayContaining(['Max-Age=28800', 'Path=/oauth2', 'HttpOnly', 'SameSite=Lax']));
    // http issuer on loopback: not Secure; the value holds no password.
    expect(attrs).not.toContain('Secure');
    expect(decodeURIComponent(session!)).not.toContain(PASSWORD);
    const csrf = browser.setCookies.find((c) => c.startsWith('authmesh_csrf='));
    expect(csrf!.split(';').map((a) => a.trim())).toEqual(expect.arrayContaining(['Path=/oauth2', 'HttpOnly', 'SameSite=Strict']));
    expect(baseCookieOptions('https://as.example.com').secure).toBe(true);
  });

  it('ignores a forged session cookie', async () => {
    const browser = await loggedIn();
    const real = browser.cookies.get('authmesh_session')!;
    const forged = Buffer.from(JSON.stringify({ u: 'someone-else', at: Math.floor(Date.now() / 1000), ls: Math.floor(Date.now() / 1000) })).toString('base64url');
    browser.cookies.set('authmesh_session', { ...real, value: `s1.${forged}.${real.value.split('.').at(-1)}` });
    const res = await browser.get(`/oauth2/authorize?${authorizeQuery()}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('action="/oauth2/login"');
  });

  it('logs out with CSRF: the next authorization asks for the password again', async () => {
    const browser = await loggedIn();
    const query = authorizeQuery({ client_id: f.webId, redirect_uri: WEB_CB, scope: 'read write' });
    const consentPage = await (await browser.get(`/oauth2/authorize?${query}`)).text();
    const logoutForm = formFor(consentPage, '/oauth2/logout');
    await expectErrorPage(await browser.submit(logoutForm, { csrf_token: 'forged' }), 403, 'access_denied');
    expect(browser.cookies.has('authmesh_session')).toBe(true);
    // "Use another account": session cleared, back to the same request, which shows the login page.
    const out = await browser.submit(logoutForm);
    expect(out.status).toBe(303);
    expect(browser.cookies.has('authmesh_session')).toBe(false);
    const next = await browser.get(locationOf(out, t.baseUrl).href);
    expect(await next.text()).toContain('action="/oauth2/login"');
    // A consent form from before the logout no longer issues anything: it restarts the request.
    const stale = await browser.submit(formFor(consentPage, '/oauth2/consent'), { decision: 'allow' });
    expect(stale.status).toBe(303);
    expect(locationOf(stale, t.baseUrl).pathname).toBe('/oauth2/authorize');
  });
});
