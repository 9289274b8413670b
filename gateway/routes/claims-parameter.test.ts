// The OpenID Connect `claims` request parameter (OIDC Core §5.5) end to end, driven by
// openid-client: requested claims reach the ID Token (and survive a refresh, §12.2) and UserInfo,
// only within the consented scope groups; a malformed parameter is invalid_request at the client.
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { uniqueId } from '../../test/support/ids.js';
import { Browser, oidcRelyingParty, PASSWORD, runAuthorization, startOidcAuthorization, type OidcStart } from './authorize-test-support.js';

const RP_CB = 'https://rp.example.com/cb';
const CLAIMS = JSON.stringify({ id_token: { email: { essential: true } }, userinfo: { phone_number: null } });

let t: TestGateway;
let config: oidc.Configuration;
let username: string;
let userId: string;

beforeAll(async () => {
  t = await startTestGateway();
  const admin = await t.bearer();
  config = (await oidcRelyingParty(t, RP_CB, ['openid', 'offline_access', 'profile', 'email', 'phone', 'address'])).config;
  username = uniqueId('claire');
  const user = await t.anon.user.createUser(
    CreateUserRequest.fromPartial({
      user: { username, email: 'claire@example.com', emailVerified: true, phoneNumber: '+33123456789', address: { locality: 'Lyon', country: 'FR' } },
      password: PASSWORD,
    }),
    { bearer: admin },
  );
  userId = user.user!.userId;
}, 60_000);
afterAll(async () => t?.close());

function start(params: Record<string, string>): Promise<OidcStart> {
  return startOidcAuthorization(config, RP_CB, params);
}

async function signIn(params: Record<string, string>) {
  const s = await start(params);
  const run = await runAuthorization(new Browser(t.baseUrl), s.url.href, { username });
  return oidc.authorizationCodeGrant(config, run.location, { pkceCodeVerifier: s.verifier, expectedState: s.state, expectedNonce: s.nonce, idTokenExpected: true });
}

describe('the claims request parameter (OIDC Core §5.5)', () => {
  it('is announced in discovery', () => {
    expect(config.serverMetadata().claims_parameter_supported).toBe(true);
  });

  it('puts the requested id_token claims in the ID Token and the requested userinfo claims in UserInfo', async () => {
    const tokens = await signIn({ scope: 'openid email phone', claims: CLAIMS });
    const idToken = tokens.claims()!;
    expect(idToken).toMatchObject({ sub: userId, email: 'claire@example.com', email_verified: true });
    // Only what was asked for the ID Token: phone_number was asked for UserInfo.
    expect(idToken).not.toHaveProperty('phone_number');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId);
    expect(info).toMatchObject({ sub: userId, phone_number: '+33123456789', email: 'claire@example.com' });
  });

  it('puts no standard claim in the ID Token without a claims request (the code flow releases them through UserInfo, §5.4)', async () => {
    const tokens = await signIn({ scope: 'openid email phone' });
    expect(tokens.claims()!).not.toHaveProperty('email');
  });

  it('never releases a claim whose scope group was not consented, in the ID Token or in UserInfo', async () => {
    const claims = JSON.stringify({ id_token: { email: null, phone_number: { essential: true } }, userinfo: { address: { essential: true }, phone_number: null } });
    const tokens = await signIn({ scope: 'openid email', claims });
    const idToken = tokens.claims()!;
    expect(idToken.email).toBe('claire@example.com');
    expect(idToken).not.toHaveProperty('phone_number');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, userId);
    expect(info.email).toBe('claire@example.com');
    expect(info).not.toHaveProperty('phone_number');
    expect(info).not.toHaveProperty('address');
  });

  it('keeps the requested ID Token claims through refreshes (OIDC Core §12.2)', async () => {
    // OIDC Core §11: offline_access needs prompt=consent.
    const tokens = await signIn({ scope: 'openid offline_access email phone', prompt: 'consent', claims: CLAIMS });
    expect(tokens.claims()!.email).toBe('claire@example.com');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(decodeJwt(refreshed.id_token!)).toMatchObject({ sub: userId, email: 'claire@example.com', email_verified: true });
    // Rotated once more: the successor token carries them too.
    const again = await oidc.refreshTokenGrant(config, refreshed.refresh_token!);
    expect(decodeJwt(again.id_token!).email).toBe('claire@example.com');
    // A refresh narrowed to a scope without email releases no email (the consent it keeps).
    const narrowed = await oidc.refreshTokenGrant(config, again.refresh_token!, { scope: 'openid offline_access phone' });
    expect(decodeJwt(narrowed.id_token!)).not.toHaveProperty('email');
  });

  it('ignores the parameter, even malformed, in a plain OAuth request (RFC 6749 §3.1)', async () => {
    const s = await start({ scope: 'email', claims: '{"id_token":' });
    const run = await runAuthorization(new Browser(t.baseUrl), s.url.href, { username });
    expect(run.location.searchParams.get('error')).toBeNull();
    expect(run.location.searchParams.get('code')).toBeTruthy();
  });

  it.each([
    ['not JSON', '{"id_token":'],
    ['a JSON array', '[]'],
    ['a claim request that is neither null nor an object', '{"id_token":{"email":true}}'],
    ['longer than 4096 characters', JSON.stringify({ id_token: { email: { value: 'x'.repeat(4100) } } })],
  ])('answers a claims parameter that is %s with invalid_request at the redirect URI, with state and iss', async (_name, claims) => {
    const s = await start({ scope: 'openid email', claims });
    const res = await new Browser(t.baseUrl).get(s.url.href);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(RP_CB);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe(s.state);
    expect(location.searchParams.get('iss')).toBe(t.baseUrl);
    expect(location.searchParams.get('code')).toBeNull();
  });

  it('gives no code to a session whose user is not the requested sub value (OIDC Core §5.5.1): the login page, or login_required with prompt=none', async () => {
    const browser = new Browser(t.baseUrl);
    const first = await start({ scope: 'openid' });
    expect((await runAuthorization(browser, first.url.href, { username })).location.searchParams.get('code')).toBeTruthy();
    for (const member of ['id_token', 'userinfo']) {
      const claims = JSON.stringify({ [member]: { sub: { value: 'usr_someoneelse' } } });
      const res = await browser.get((await start({ scope: 'openid', claims })).url.href);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('action="/oauth2/login"');
      const none = await start({ scope: 'openid', claims, prompt: 'none' });
      const location = new URL((await browser.get(none.url.href)).headers.get('location')!);
      expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'login_required', state: none.state, iss: t.baseUrl });
    }
    // The session user's own sub value: the code at once.
    const own = await start({ scope: 'openid', claims: JSON.stringify({ id_token: { sub: { value: userId } } }), prompt: 'none' });
    expect(new URL((await browser.get(own.url.href)).headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });

  it('answers an essential acr it cannot satisfy with access_denied at the redirect URI, before any login (OIDC Core §5.5.1.1)', async () => {
    const s = await start({ scope: 'openid', claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['urn:x'] } } }) });
    const res = await new Browser(t.baseUrl).get(s.url.href);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(RP_CB);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({ error: 'access_denied', state: s.state, iss: t.baseUrl });
    expect(location.searchParams.get('code')).toBeNull();
  });
});
