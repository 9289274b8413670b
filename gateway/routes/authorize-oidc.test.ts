// OpenID Connect Core 1.0 on the authorization code flow, seen from outside: openid-client signs a
// user in (discovery, nonce + PKCE, ID Token validation with at_hash) and refreshes; the spec's
// negative cases (prompt=none without a session, max_age=0, prompt=login, an id_token_hint of
// another user, consent_required, request objects); offline_access; and an ID Token refused
// wherever an access token is expected (introspection, ext_authz, admin API).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, ListClientsRequest, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { AuthorizationService, CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { IntrospectTokenRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { toAuthmeshError } from '../../services/core/errors/index.js';
import { hashToken, subjectIdentifier } from '../../services/core/oauth/index.js';
import { createRpcClient } from '../../services/core/rpc/index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { Browser, createUser, formFor, locationOf, oidcRelyingParty, runAuthorization, startOidcAuthorization, type OidcStart } from './authorize-test-support.js';

const RP_CB = 'https://rp.example.com/cb';

let t: TestGateway;
let rp: { id: string; secret: string };
let config: oidc.Configuration;

beforeAll(async () => {
  t = await startTestGateway();
  const relyingParty = await oidcRelyingParty(t, RP_CB, ['openid', 'offline_access', 'read']);
  rp = { id: relyingParty.id, secret: relyingParty.secret };
  config = relyingParty.config;
}, 60_000);
afterAll(async () => t?.close());

function start(params: Record<string, string> = {}, cfg: oidc.Configuration = config): Promise<OidcStart> {
  return startOidcAuthorization(cfg, RP_CB, { scope: 'openid read', ...params });
}

/** The server-side session id inside the browser's signed session cookie (for the sid check). */
function sessionIdOf(browser: Browser): string {
  const raw = decodeURIComponent(browser.cookies.get('authmesh_session')!.value);
  // The signed cookie's payload: the browser's accounts, current first (gateway/session.ts).
  const payload = JSON.parse(Buffer.from(raw.split('.')[1]!, 'base64url').toString('utf8')) as { a: Array<{ sid: string }> };
  return payload.a[0]!.sid;
}

/** A browser with a login session of a new user (signed in through a first OIDC authorization). */
async function signedIn(): Promise<{ browser: Browser; username: string; userId: string; idToken: string }> {
  const { username, userId } = await createUser(t);
  const browser = new Browser(t.baseUrl);
  const s = await start({ prompt: 'consent' });
  const run = await runAuthorization(browser, s.url.href, { username });
  const tokens = await oidc.authorizationCodeGrant(config, run.location, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce });
  return { browser, username, userId, idToken: tokens.id_token! };
}

describe('sign-in with openid-client (OIDC Core §3.1)', () => {
  it('returns an ID Token openid-client validates (signature, iss, aud, nonce, at_hash), then a new one on refresh', async () => {
    const { username, userId } = await createUser(t);
    const browser = new Browser(t.baseUrl);
    // OIDC Core §11: offline_access needs prompt=consent.
    const s = await start({ scope: 'openid offline_access read', prompt: 'consent' });
    const run = await runAuthorization(browser, s.url.href, { username });
    expect(run.pages).toEqual(['login', 'consent']);
    const tokens = await oidc.authorizationCodeGrant(config, run.location, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce, idTokenExpected: true });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: t.baseUrl, sub: userId, aud: [rp.id], azp: rp.id, nonce: s.nonce, amr: ['pwd'] });
    // The public session id is the hash of the session, never the cookie's secret.
    expect(claims.sid).toBe(hashToken(sessionIdOf(browser)));
    expect(typeof claims.auth_time).toBe('number');
    expect(typeof claims.at_hash).toBe('string');
    expect(decodeProtectedHeader(tokens.id_token!).typ).toBe('JWT');
    expect(tokens.refresh_token).toBeTruthy();

    // OIDC Core §12.2: same sub and aud, the original auth_time, no nonce.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    const again = decodeJwt(refreshed.id_token!);
    expect(again).toMatchObject({ iss: t.baseUrl, sub: userId, aud: [rp.id], azp: rp.id, auth_time: claims.auth_time });
    expect(again).not.toHaveProperty('nonce');
    expect(refreshed.refresh_token).toBeTruthy();
  });

  it('echoes exactly the nonce of the request in the ID Token (the RP compares it; a wrong one is its refusal)', async () => {
    const { username } = await createUser(t);
    const nonce = 'n-0S6_WzA2Mj ~!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}';
    const s = await start({ nonce });
    const run = await runAuthorization(new Browser(t.baseUrl), s.url.href, { username });
    const tokens = await oidc.authorizationCodeGrant(config, run.location, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: nonce });
    expect(tokens.claims()!.nonce).toBe(nonce);
    const other = await start();
    const run2 = await runAuthorization(new Browser(t.baseUrl), other.url.href, { username });
    // openid-client refuses an ID Token whose nonce is not the one it sent.
    const err = await oidc.authorizationCodeGrant(config, run2.location, { pkceCodeVerifier: other.verifier, expectedState: other.state, expectedNonce: 'another-nonce' }).catch((e: unknown) => e);
    expect((err as { cause?: { cause?: { claim?: string } } }).cause?.cause?.claim).toBe('nonce');
  });

  it('issues no refresh token for an openid grant without offline_access (OIDC Core §11), and drops offline_access without prompt=consent', async () => {
    const { username } = await createUser(t);
    const s = await start({ scope: 'openid offline_access read' });
    const run = await runAuthorization(new Browser(t.baseUrl), s.url.href, { username });
    const tokens = await oidc.authorizationCodeGrant(config, run.location, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce });
    expect(tokens.scope).toBe('openid read');
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.id_token).toBeTruthy();
  });

  it('issues no ID Token without the openid scope', async () => {
    const { username } = await createUser(t);
    const s = await start({ scope: 'read' });
    const run = await runAuthorization(new Browser(t.baseUrl), s.url.href, { username });
    const tokens = await oidc.authorizationCodeGrant(config, run.location, { pkceCodeVerifier: s.verifier, expectedState: s.state, idTokenExpected: false });
    expect(tokens.id_token).toBeUndefined();
    // Not an OpenID Connect grant: RFC 6749's rule, the client may refresh.
    expect(tokens.refresh_token).toBeTruthy();
  });
});

describe('prompt, max_age and id_token_hint (OIDC Core §3.1.2.1, §3.1.2.6)', () => {
  const errorOf = (location: URL) => Object.fromEntries(location.searchParams);

  it('answers prompt=none without a session with login_required at the redirect URI, with state and iss', async () => {
    const s = await start({ prompt: 'none' });
    const res = await new Browser(t.baseUrl).get(s.url.href);
    expect(res.status).toBe(302);
    const location = locationOf(res, t.baseUrl);
    expect(location.origin + location.pathname).toBe(RP_CB);
    expect(errorOf(location)).toMatchObject({ error: 'login_required', state: s.state, iss: t.baseUrl });
  });

  it('answers prompt=none with a code when the session and the remembered consent suffice', async () => {
    const { browser } = await signedIn();
    // signedIn consented to "openid read" with "remember" checked; offline_access is dropped
    // without prompt=consent, so "openid read offline_access" needs nothing more either.
    for (const scope of ['openid read', 'openid', 'openid read offline_access']) {
      const s = await start({ prompt: 'none', scope });
      const location = locationOf(await browser.get(s.url.href), t.baseUrl);
      expect(Object.fromEntries(location.searchParams)).toMatchObject({ state: s.state, iss: t.baseUrl });
      expect(location.searchParams.get('code')).toBeTruthy();
    }
  });

  it('answers prompt=none with consent_required when the logged-in user has not consented', async () => {
    const { username } = await createUser(t);
    const browser = new Browser(t.baseUrl);
    const denied = await runAuthorization(browser, (await start()).url.href, { username, decision: 'deny' });
    expect(denied.pages).toEqual(['login', 'consent']);
    const s = await start({ prompt: 'none' });
    const res = await browser.get(s.url.href);
    expect(errorOf(locationOf(res, t.baseUrl))).toMatchObject({ error: 'consent_required', state: s.state, iss: t.baseUrl });
  });

  it('shows the login page for max_age=0 even with a session, and the new ID Token has a fresh auth_time', async () => {
    const { browser, username, idToken } = await signedIn();
    const before = decodeJwt(idToken).auth_time!;
    await new Promise((r) => setTimeout(r, 1100));
    const s = await start({ max_age: '0' });
    const run = await runAuthorization(browser, s.url.href, { username });
    expect(run.pages).toEqual(['login']);
    const tokens = await oidc.authorizationCodeGrant(config, run.location, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce, maxAge: 0 });
    expect(tokens.claims()!.auth_time!).toBeGreaterThan(before as number);
  });

  it('shows the login page for max_age=0 right after a login (the same second: max_age=0 is prompt=login, Core §3.1.2.1 errata), with no loop after it', async () => {
    const { username } = await createUser(t);
    const browser = new Browser(t.baseUrl);
    const first = await start({ prompt: 'consent' });
    await runAuthorization(browser, first.url.href, { username });
    const s = await start({ max_age: '0' });
    const res = await browser.get(s.url.href);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('action="/oauth2/login"');
    // Logging in answers it: the code follows, not the login page again.
    const run = await runAuthorization(browser, s.url.href, { username });
    expect(run.pages).toEqual(['login']);
    expect(run.location.searchParams.get('code')).toBeTruthy();
  });

  it('shows the login page for prompt=login even with a session, prefilled with login_hint', async () => {
    const { browser, username } = await signedIn();
    const s = await start({ prompt: 'login', login_hint: username });
    const res = await browser.get(s.url.href);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(formFor(page, '/oauth2/login').fields.username).toBe(username);
    const run = await runAuthorization(browser, s.url.href, { username });
    expect(run.pages).toEqual(['login']);
    expect(run.location.searchParams.get('code')).toBeTruthy();
  });

  it('refuses an id_token_hint of another user: login_required with prompt=none, the login page without', async () => {
    const alice = await signedIn();
    const bob = await signedIn();
    const none = await start({ prompt: 'none', id_token_hint: alice.idToken });
    expect(errorOf(locationOf(await bob.browser.get(none.url.href), t.baseUrl))).toMatchObject({ error: 'login_required', state: none.state, iss: t.baseUrl });
    const interactive = await start({ id_token_hint: alice.idToken });
    const res = await bob.browser.get(interactive.url.href);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('action="/oauth2/login"');
    // The hint of the session's own user: answered at once.
    const own = await start({ prompt: 'none', id_token_hint: bob.idToken });
    expect(locationOf(await bob.browser.get(own.url.href), t.baseUrl).searchParams.get('code')).toBeTruthy();
  });

  it('accepts an expired ID Token as id_token_hint (OIDC Core §3.1.2.1: its signature matters, not its exp)', async () => {
    const { browser, idToken } = await signedIn();
    const claims = decodeJwt(idToken);
    const past = Math.floor(Date.now() / 1000) - 7200;
    const expired = await t.peers.key.signJwt({ claims: { ...claims, iat: past - 300, exp: past }, typ: 'JWT' });
    const s = await start({ prompt: 'none', id_token_hint: expired.jwt, ui_locales: 'fr-CA en', claims_locales: 'de' });
    expect(locationOf(await browser.get(s.url.href), t.baseUrl).searchParams.get('code')).toBeTruthy();
  });

  it('refuses as id_token_hint an access token, or a token with a forged signature (invalid_request)', async () => {
    const { browser, idToken } = await signedIn();
    const at = await t.bearer({ sub: 'x', clientId: rp.id, audience: rp.id });
    const [h, p] = idToken.split('.');
    for (const hint of [at, `${h}.${p}.${'A'.repeat(86)}`]) {
      const s = await start({ prompt: 'none', id_token_hint: hint });
      expect(errorOf(locationOf(await browser.get(s.url.href), t.baseUrl))).toMatchObject({ error: 'invalid_request', state: s.state });
    }
  });

  it('refuses as id_token_hint a signed UserInfo response of the same user (typ JWT, iss/aud/sub, no exp/iat: not an ID Token, OIDC Core §2)', async () => {
    const { browser, userId } = await signedIn();
    // What services/user signs for userinfo_signed_response_alg: the claims with iss and aud, typ JWT.
    const { jwt: signedUserInfo } = await t.peers.key.signJwt({ claims: { sub: userId, iss: t.baseUrl, aud: rp.id }, typ: 'JWT' });
    const s = await start({ prompt: 'none', id_token_hint: signedUserInfo });
    expect(errorOf(locationOf(await browser.get(s.url.href), t.baseUrl))).toMatchObject({ error: 'invalid_request', state: s.state });
  });

  it('shows the consent page for prompt=consent although consent was remembered', async () => {
    const { browser, username } = await signedIn();
    const run = await runAuthorization(browser, (await start({ prompt: 'consent' })).url.href, { username });
    expect(run.pages).toEqual(['consent']);
  });

  it.each([
    ['prompt=none with login', { prompt: 'none login' }, 'invalid_request'],
    ['an unknown prompt', { prompt: 'create' }, 'invalid_request'],
    ['a negative max_age', { max_age: '-1' }, 'invalid_request'],
    ['ui_locales that are not language tags', { ui_locales: 'en_US <b>' }, 'invalid_request'],
  ])('redirects %s as %s with state and iss', async (_name, params, error) => {
    const s = await start();
    for (const [name, value] of Object.entries(params)) s.url.searchParams.set(name, value);
    const res = await new Browser(t.baseUrl).get(s.url.href);
    expect(errorOf(locationOf(res, t.baseUrl)), JSON.stringify(errorOf(locationOf(res, t.baseUrl)))).toMatchObject({ error, state: s.state, iss: t.baseUrl });
  });
});

describe('an ID Token is never an access token', () => {
  let idToken: string;
  beforeAll(async () => {
    ({ idToken } = await signedIn());
  });

  it('verifies as an ID Token against the JWKS with typ JWT', async () => {
    const { keys } = await t.anon.key.getJwks({});
    const set = createLocalJWKSet({ keys: keys.map((k) => Object.fromEntries(Object.entries(k).filter(([, v]) => v !== ''))) });
    const { payload, protectedHeader } = await jwtVerify(idToken, set, { issuer: t.baseUrl, audience: rp.id, typ: 'JWT' });
    expect(protectedHeader.typ).toBe('JWT');
    expect(payload).not.toHaveProperty('scope');
  });

  it('is inactive at introspection (RFC 7662), asked by the client it was issued to', async () => {
    const res = await t.anon.token.introspectToken(
      IntrospectTokenRequest.fromPartial({
        client: { credential: { $case: 'clientSecret', value: { clientId: rp.id, clientSecret: rp.secret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } },
        token: idToken,
      }),
    );
    expect(res.active).toBe(false);
  });

  it('is denied by ext_authz Check as an invalid token', async () => {
    const authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', `127.0.0.1:${t.mesh.port}`);
    try {
      const check = (token: string) =>
        authz.check(CheckRequest.fromPartial({ attributes: { request: { http: { method: 'GET', path: '/x', host: 'api.example.com', headers: { authorization: `Bearer ${token}` } } } } }));
      // The same request with an access token passes: only the ID Token's nature is refused.
      expect((await check(await t.bearer({ scope: ['read'] }))).httpResponse?.$case).toBe('okResponse');
      const denied = await check(idToken);
      expect(denied.httpResponse?.$case).toBe('deniedResponse');
    } finally {
      authz.close();
    }
  });

  it('is refused by an admin API as invalid_token, even when signed with the admin scope', async () => {
    const err = toAuthmeshError(await t.anon.client.listClients(ListClientsRequest.fromPartial({}), { bearer: idToken }).catch((e: unknown) => e));
    expect(err.code).toBe('invalid_token');
    // The same claims an admin token carries, but typ JWT (an ID Token's): still refused.
    const forged = await t.peers.key.signJwt({ claims: { ...decodeJwt(await t.bearer()) }, typ: 'JWT' });
    const err2 = toAuthmeshError(await t.anon.client.listClients(ListClientsRequest.fromPartial({}), { bearer: forged.jwt }).catch((e: unknown) => e));
    expect(err2.code).toBe('invalid_token');
  });
});

describe('OpenID Connect client metadata (OpenID Connect Registration §2)', () => {
  const registration = {
    redirect_uris: [RP_CB],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid',
    token_endpoint_auth_method: 'client_secret_basic',
  };

  it('registers a pairwise client with openid-client; its sub is the pairwise identifier (OIDC Core §8.1), stable, and its id_token_hint is recognised', async () => {
    const cfg = await oidc.dynamicClientRegistration(
      new URL(t.baseUrl),
      { ...registration, subject_type: 'pairwise', id_token_signed_response_alg: 'ES256', require_auth_time: true },
      oidc.ClientSecretBasic(),
      { execute: [oidc.allowInsecureRequests], initialAccessToken: await t.bearer() },
    );
    expect(cfg.clientMetadata()).toMatchObject({ subject_type: 'pairwise', id_token_signed_response_alg: 'ES256', require_auth_time: true });
    const { username, userId } = await createUser(t);
    const browser = new Browser(t.baseUrl);
    const s = await start({ scope: 'openid' }, cfg);
    const run = await runAuthorization(browser, s.url.href, { username });
    const tokens = await oidc.authorizationCodeGrant(cfg, run.location, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce });
    const salt = readFileSync(join(t.config.dataDir, 'pairwise.salt'), 'utf8').trim();
    const expected = subjectIdentifier({ subjectType: 'pairwise', sectorIdentifierUri: '', redirectUris: [RP_CB] }, userId, salt);
    expect(tokens.claims()!.sub).toBe(expected);
    expect(tokens.claims()!.sub).not.toBe(userId);
    expect(typeof tokens.claims()!.auth_time).toBe('number');
    // OIDC Core §5.3.2: UserInfo answers with the same pairwise sub (openid-client checks it too).
    const userInfo = await oidc.fetchUserInfo(cfg, tokens.access_token, expected);
    expect(userInfo.sub).toBe(expected);
    // The same user on the public client keeps the user id as sub.
    const pub = await start();
    const pubRun = await runAuthorization(browser, pub.url.href, { username });
    expect((await oidc.authorizationCodeGrant(config, pubRun.location, { pkceCodeVerifier: pub.verifier, expectedState: pub.state, expectedNonce: pub.nonce })).claims()!.sub).toBe(userId);
    // prompt=none with the pairwise ID Token as hint: it names the session's user, so a code.
    const again = await start({ scope: 'openid', prompt: 'none', id_token_hint: tokens.id_token! }, cfg);
    const location = locationOf(await browser.get(again.url.href), t.baseUrl);
    expect(location.searchParams.get('code')).toBeTruthy();
    const second = await oidc.authorizationCodeGrant(cfg, location, { pkceCodeVerifier: again.verifier, expectedState: again.state, expectedNonce: again.nonce });
    expect(second.claims()!.sub).toBe(expected);
  });

  it('keeps a pairwise client in its sector: neither RFC 7592 nor the admin API can move it, so the refreshed ID Token keeps its sub (OIDC Core §8.1, §12.2; review M2)', async () => {
    const admin = await t.bearer();
    const cfg = await oidc.dynamicClientRegistration(
      new URL(t.baseUrl),
      { ...registration, grant_types: ['authorization_code', 'refresh_token'], scope: 'openid offline_access', subject_type: 'pairwise' },
      oidc.ClientSecretBasic(),
      { execute: [oidc.allowInsecureRequests], initialAccessToken: admin },
    );
    const m = cfg.clientMetadata();
    const { username, userId } = await createUser(t);
    const s = await start({ scope: 'openid offline_access', prompt: 'consent' }, cfg);
    const run = await runAuthorization(new Browser(t.baseUrl), s.url.href, { username });
    const tokens = await oidc.authorizationCodeGrant(cfg, run.location, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce });
    const sub = tokens.claims()!.sub;
    const salt = readFileSync(join(t.config.dataDir, 'pairwise.salt'), 'utf8').trim();
    expect(sub).toBe(subjectIdentifier({ subjectType: 'pairwise', sectorIdentifierUri: '', redirectUris: [RP_CB] }, userId, salt));

    // RFC 7592 §2.2: the client replaces its redirect_uris with ones on another host (another sector).
    const put = (token: string, body: Record<string, unknown>) =>
      fetch(m.registration_client_uri as string, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ client_id: m.client_id, ...registration, grant_types: ['authorization_code', 'refresh_token'], scope: 'openid offline_access', subject_type: 'pairwise', ...body }),
      });
    const token = m.registration_access_token as string;
    const moved = await put(token, { redirect_uris: ['https://other-sector.example.org/cb'] });
    expect(moved.status).toBe(400);
    expect(((await moved.json()) as { error: string }).error).toBe('invalid_redirect_uri');
    // The admin API refuses the same moves (delete and register again to change a sector).
    const adminMove = toAuthmeshError(
      await t.anon.client
        .updateClient({ client: Client.fromPartial({ clientId: m.client_id, redirectUris: ['https://other-sector.example.org/cb'] }), updateMask: ['redirect_uris'] }, { bearer: admin })
        .catch((e: unknown) => e),
    );
    expect(adminMove.code).toBe('invalid_redirect_uri');
    const adminSector = toAuthmeshError(
      await t.anon.client
        .updateClient(
          {
            client: Client.fromPartial({ clientId: m.client_id, redirectUris: ['https://other-sector.example.org/cb'], sectorIdentifierUri: 'https://other-sector.example.org/sector.json' }),
            updateMask: ['redirect_uris', 'sector_identifier_uri'],
          },
          { bearer: admin },
        )
        .catch((e: unknown) => e),
    );
    expect(adminSector.code).toBe('invalid_client_metadata');
    const adminSwitch = toAuthmeshError(
      await t.anon.client.updateClient({ client: Client.fromPartial({ clientId: m.client_id, subjectType: 'public' }), updateMask: ['subject_type'] }, { bearer: admin }).catch((e: unknown) => e),
    );
    expect(adminSwitch.code).toBe('invalid_client_metadata');
    expect((await t.store.clients.get(m.client_id)).redirectUris).toEqual([RP_CB]);

    // A change inside the sector is still allowed.
    const sameSector = await put(token, { redirect_uris: [RP_CB, 'https://rp.example.com/cb2'] });
    expect(sameSector.status).toBe(200);

    // OIDC Core §12.2: the refreshed ID Token carries the same sub.
    const refreshed = await oidc.refreshTokenGrant(cfg, tokens.refresh_token!);
    expect(decodeJwt(refreshed.id_token!).sub).toBe(sub);
  });

  it('refuses an id_token_signed_response_alg the key service does not sign with, and a sector_identifier_uri on another host', async () => {
    const register = (body: unknown) =>
      fetch(`${t.baseUrl}/oauth2/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify(body) });
    const admin = await t.bearer();
    for (const extra of [{ id_token_signed_response_alg: 'RS256' }, { id_token_signed_response_alg: 'none' }, { subject_type: 'pairwise', sector_identifier_uri: 'https://elsewhere.example.net/s.json' }, { default_max_age: -1 }]) {
      const res = await register({ ...registration, ...extra });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata');
    }
  });

  it('applies default_max_age when the request has no max_age: 0 shows the login page even with a session', async () => {
    const res = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({
        client: Client.fromPartial({
          clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
          tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
          redirectUris: [RP_CB],
          grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
          scopes: ['openid'],
          skipConsent: true,
          defaultMaxAge: 0,
        }),
      }),
      { bearer: await t.bearer() },
    );
    expect(res.client!.defaultMaxAge).toBe(0);
    const cfg = await oidc.discovery(new URL(t.baseUrl), res.client!.clientId, undefined, oidc.ClientSecretBasic(res.clientSecret), { execute: [oidc.allowInsecureRequests] });
    const { browser } = await signedIn();
    await new Promise((r) => setTimeout(r, 1100));
    const s = await start({ scope: 'openid' }, cfg);
    const page = await browser.get(s.url.href);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('action="/oauth2/login"');
    // The login satisfies it: the user is not sent round the login page again, however long the
    // redirect after the login takes (default_max_age stands in only for a missing max_age).
    const { username } = await createUser(t);
    const run = await runAuthorization(new Browser(t.baseUrl), s.url.href, { username });
    expect(run.pages).toEqual(['login']);
    expect(run.location.searchParams.get('code')).toBeTruthy();
  });
});
