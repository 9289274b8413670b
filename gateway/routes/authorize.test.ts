// The authorization code flow with PKCE through the gateway, driven by real client libraries
// (oauth4webapi, openid-client) and a minimal browser that logs in and consents on the pages.
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { APP_CB, Browser, createFixtures, createUser, FIRST_CB, type Fixtures, formFor, locationOf, PASSWORD, runAuthorization, WEB_CB } from './authorize-test-support.js';

let t: TestGateway;
let f: Fixtures;
let as: oauth.AuthorizationServer;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

beforeAll(async () => {
  t = await startTestGateway();
  f = await createFixtures(t);
  const issuer = new URL(t.baseUrl);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
});
afterAll(async () => t?.close());

async function authorizationUrl(clientId: string, redirectUri: string, scope: string) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', clientId);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('scope', scope);
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  return { url: url.href, verifier, state };
}

describe('authorization code + PKCE with oauth4webapi', () => {
  it('logs in, consents, redirects with code, state and iss, and the code buys an access token', async () => {
    const browser = new Browser(t.baseUrl);
    const client: oauth.Client = { client_id: f.publicId };
    const { url, verifier, state } = await authorizationUrl(f.publicId, APP_CB, 'read write');

    // The first GET shows the login page.
    const first = await browser.get(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const loginPage = await first.text();
    expect(loginPage).toContain('<html lang="en">');
    expect(loginPage).toContain('<label for="username">Username</label>');
    // The client name is escaped, never interpreted as markup.
    expect(loginPage).toContain('Photo &lt;Book&gt; &amp; &quot;Friends&quot;');
    expect(loginPage).not.toContain('<Book>');
    expect(first.headers.get('content-security-policy')).toContain('img-src https://app.example.com');

    // Submitting the login form answers 303 back to the authorization endpoint.
    const login = await browser.submit(formFor(loginPage, '/oauth2/login'), { username: f.username, password: PASSWORD });
    expect(login.status).toBe(303);
    const back = locationOf(login, t.baseUrl);
    expect(back.pathname).toBe('/oauth2/authorize');
    expect(back.searchParams.get('state')).toBe(state);

    // Then the consent page, listing the scopes.
    const consentRes = await browser.get(back.href);
    expect(consentRes.status).toBe(200);
    const consentPage = await consentRes.text();
    expect(consentPage).toContain('<li>read</li>');
    expect(consentPage).toContain('<li>write</li>');
    const consent = await browser.submit(formFor(consentPage, '/oauth2/consent'), { decision: 'allow' });
    // RFC 9700 §4.10: 303 after the POST.
    expect(consent.status).toBe(303);
    const callback = locationOf(consent, t.baseUrl);
    expect(`${callback.origin}${callback.pathname}`).toBe(APP_CB);
    expect(callback.searchParams.get('iss')).toBe(t.baseUrl);
    expect(callback.searchParams.get('state')).toBe(state);

    // RFC 9207: the library checks iss against the discovered issuer.
    const params = oauth.validateAuthResponse(as, client, callback, state);
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, APP_CB, verifier, insecure);
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.access_token).toMatch(/^ey/);
    expect(tokens.scope?.split(' ').sort()).toEqual(['read', 'write']);

    // A second authorization reuses the session; a public client's users are asked for consent
    // every time (RFC 8252 §8.6: its identity cannot be proven), so the consent page again.
    const again = await authorizationUrl(f.publicId, APP_CB, 'read');
    const second = await browser.get(again.url);
    expect(second.status).toBe(200);
    const secondConsent = await browser.submit(formFor(await second.text(), '/oauth2/consent'), { decision: 'allow' });
    const secondCallback = locationOf(secondConsent, t.baseUrl);
    const secondParams = oauth.validateAuthResponse(as, client, secondCallback, again.state);
    const secondTokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), secondParams, APP_CB, again.verifier, insecure),
    );
    expect(secondTokens.scope).toBe('read');
  });

  it('asks again for consent when it was not remembered, and a denial returns access_denied with iss', async () => {
    const browser = new Browser(t.baseUrl);
    const client: oauth.Client = { client_id: f.webId, client_secret: f.webSecret };
    const a = await authorizationUrl(f.webId, WEB_CB, 'read');
    const firstRun = await runAuthorization(browser, a.url, { username: f.username, remember: false });
    expect(firstRun.pages).toEqual(['login', 'consent']);
    const params = oauth.validateAuthResponse(as, client, firstRun.location, a.state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(f.webSecret), params, WEB_CB, a.verifier, insecure),
    );
    expect(tokens.access_token).toBeTruthy();

    // Same session, consent not remembered: the consent page again, no login page; this time Deny.
    const b = await authorizationUrl(f.webId, WEB_CB, 'read');
    const secondRun = await runAuthorization(browser, b.url, { username: f.username, decision: 'deny' });
    expect(secondRun.pages).toEqual(['consent']);
    expect(secondRun.statuses.at(-1)).toBe(303);
    expect(secondRun.location.searchParams.get('error')).toBe('access_denied');
    expect(secondRun.location.searchParams.get('iss')).toBe(t.baseUrl);
    expect(() => oauth.validateAuthResponse(as, client, secondRun.location, b.state)).toThrow(oauth.AuthorizationResponseError);
  });

  it('skips the consent page for a client an admin marked skip_consent', async () => {
    const browser = new Browser(t.baseUrl);
    const client: oauth.Client = { client_id: f.firstId };
    const a = await authorizationUrl(f.firstId, FIRST_CB, 'read');
    const run = await runAuthorization(browser, a.url, { username: f.username });
    expect(run.pages).toEqual(['login']);
    // Login POST → 303 to the endpoint → 302 to the client.
    expect(run.statuses).toEqual([200, 303, 302]);
    const params = oauth.validateAuthResponse(as, client, run.location, a.state);
    expect(params.get('code')).toBeTruthy();
  });

  it('re-renders the login page with one generic message for a wrong password or an unknown user', async () => {
    const browser = new Browser(t.baseUrl);
    const a = await authorizationUrl(f.publicId, APP_CB, 'read');
    const page = await (await browser.get(a.url)).text();
    const form = formFor(page, '/oauth2/login');
    const wrongPassword = await browser.submit(form, { username: f.username, password: 'not the password' });
    const unknownUser = await browser.submit(form, { username: 'nobody-at-all', password: 'whatever it is' });
    for (const res of [wrongPassword, unknownUser]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('set-cookie') ?? '').not.toContain('authmesh_session');
      const body = await res.text();
      expect(body).toContain('<div class="alert" role="alert" id="login-error">Invalid username or password.</div>');
      expect(body).not.toContain('not the password');
    }
    expect(browser.cookies.has('authmesh_session')).toBe(false);
  });
});

describe('authorization code + PKCE with openid-client', () => {
  it('runs the OAuth 2 flow with buildAuthorizationUrl and authorizationCodeGrant', async () => {
    const config = await oidc.discovery(new URL(t.baseUrl), f.publicId, undefined, oidc.None(), {
      algorithm: 'oauth2',
      execute: [oidc.allowInsecureRequests],
    });
    const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: APP_CB,
      scope: 'write',
      code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: 'S256',
      state,
    });
    // A user of their own, so no consent remembered by the other tests applies.
    const { username } = await createUser(t);
    const run = await runAuthorization(new Browser(t.baseUrl), url.href, { username });
    expect(run.pages).toEqual(['login', 'consent']);
    const tokens = await oidc.authorizationCodeGrant(config, run.location, { pkceCodeVerifier, expectedState: state });
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.scope).toBe('write');
  });
});
