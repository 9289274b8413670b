// The UserInfo endpoint (OIDC Core §5.3) through the real gateway and mesh: GET and POST with a
// real access token from the code flow, the RFC 6750 ways of presenting it, and every way a
// token is not good enough (missing, malformed, expired, revoked, an ID Token, no openid scope,
// no user behind it).
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { randomBytes } from 'node:crypto';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { ALLOWED_ORIGIN, authorizationRedirect, basicAuth, postForm, REDIRECT } from './route-test-support.js';

let t: TestGateway;
let client: { id: string; secret: string };
let userId: string;
let url: string;

async function codeToken(scope: string, as: { id: string; secret: string } = client): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const redirect = await authorizationRedirect(t, as.id, userId, scope, verifier);
  const body = new URLSearchParams({ grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier });
  const res = await postForm(`${t.baseUrl}/oauth2/token`, body.toString(), { authorization: basicAuth(as.id, as.secret) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function expectChallenge(res: Response, status: number, error: string | undefined): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('cache-control')).toBe('no-store');
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer realm="/);
  if (error === undefined) expect(challenge).not.toContain('error=');
  else expect(challenge).toContain(`error="${error}"`);
}

beforeAll(async () => {
  t = await startTestGateway({ AUTHMESH_CORS_ORIGINS: ALLOWED_ORIGIN });
  const admin = await t.bearer();
  const created = await t.anon.client.createClient(
    CreateClientRequest.fromPartial({
      client: Client.fromPartial({
        clientName: 'rp',
        clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
        redirectUris: [REDIRECT],
        grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_CLIENT_CREDENTIALS, GrantType.GRANT_TYPE_REFRESH_TOKEN],
        scopes: ['openid', 'profile', 'email', 'phone', 'address', 'read'],
      }),
    }),
    { bearer: admin },
  );
  client = { id: created.client!.clientId, secret: created.clientSecret };
  const user = await t.anon.user.createUser(
    CreateUserRequest.fromPartial({
      user: {
        username: `zoe-${randomBytes(4).toString('hex')}`,
        displayName: 'Zoë Ünal',
        email: 'zoe@example.com',
        emailVerified: true,
        givenName: 'Zoë',
        locale: 'fr-FR',
        phoneNumber: '+33123456789',
        address: { locality: 'Paris', country: 'FR' },
      },
      password: 'correct horse battery staple',
    }),
    { bearer: admin },
  );
  userId = user.user!.userId;
  url = `${t.baseUrl}/oauth2/userinfo`;
}, 60_000);

afterAll(async () => {
  await t?.close();
});

describe('UserInfo endpoint', () => {
  it('answers GET with sub and the claims of the granted scopes only, never cached', async () => {
    const token = await codeToken('openid profile email');
    const res = await fetch(url, { headers: bearer(token) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ sub: userId, name: 'Zoë Ünal', given_name: 'Zoë', locale: 'fr-FR', email: 'zoe@example.com', email_verified: true });
    expect(typeof body.updated_at).toBe('number');
    // phone and address were not granted.
    expect(body).not.toHaveProperty('phone_number');
    expect(body).not.toHaveProperty('address');
  });

  it('answers POST with the token in the header or in a form body (RFC 6750 §2.2)', async () => {
    const token = await codeToken('openid phone address');
    const viaHeader = await fetch(url, { method: 'POST', headers: bearer(token) });
    expect(viaHeader.status).toBe(200);
    const expected = { sub: userId, phone_number: '+33123456789', phone_number_verified: false, address: { locality: 'Paris', country: 'FR' } };
    expect(await viaHeader.json()).toEqual(expected);
    const viaBody = await postForm(url, new URLSearchParams({ access_token: token }).toString());
    expect(viaBody.status).toBe(200);
    expect(await viaBody.json()).toEqual(expected);
  });

  it('sends CORS headers to configured origins only', async () => {
    const token = await codeToken('openid');
    const allowed = await fetch(url, { headers: { ...bearer(token), origin: ALLOWED_ORIGIN } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    const other = await fetch(url, { headers: { ...bearer(token), origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a request without a token with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
    await expectChallenge(await fetch(url), 401, undefined);
  });

  it('refuses a token in the query string, or in two places at once (RFC 6750 §2)', async () => {
    const token = await codeToken('openid');
    const inQuery = await fetch(`${url}?access_token=${token}`);
    expect(inQuery.status).toBe(400);
    expect(await inQuery.json()).toMatchObject({ error: 'invalid_request' });
    const twice = await postForm(url, new URLSearchParams({ access_token: token }).toString(), bearer(token));
    expect(twice.status).toBe(400);
  });

  it('refuses a malformed, forged or non-Bearer credential with invalid_token', async () => {
    await expectChallenge(await fetch(url, { headers: bearer('not.a.jwt') }), 401, 'invalid_token');
    await expectChallenge(await fetch(url, { headers: { authorization: basicAuth(client.id, client.secret) } }), 401, 'invalid_token');
  });

  it('refuses an expired access token', async () => {
    const token = await codeToken('openid profile');
    const claims = decodeJwt(token);
    const now = Math.floor(Date.now() / 1000);
    const { jwt } = await t.peers.key.signJwt({ claims: { ...claims, jti: `${claims.jti}-x`, iat: now - 7200, exp: now - 3600 }, typ: 'at+jwt' });
    await expectChallenge(await fetch(url, { headers: bearer(jwt) }), 401, 'invalid_token');
  });

  it('refuses a revoked access token (RFC 7009)', async () => {
    const token = await codeToken('openid profile');
    expect((await fetch(url, { headers: bearer(token) })).status).toBe(200);
    const revoked = await postForm(`${t.baseUrl}/oauth2/revoke`, new URLSearchParams({ token }).toString(), { authorization: basicAuth(client.id, client.secret) });
    expect(revoked.status).toBe(200);
    await expectChallenge(await fetch(url, { headers: bearer(token) }), 401, 'invalid_token');
  });

  it('refuses an ID Token presented as an access token', async () => {
    // An ID Token is what the key service signs with typ JWT (OIDC Core §2): same issuer, same
    // keys, the user as sub; only its type tells it apart, and that must be enough.
    const token = await codeToken('openid profile');
    const claims = decodeJwt(token);
    const { jwt } = await t.peers.key.signJwt({ claims: { ...claims, aud: client.id, azp: client.id, jti: `${claims.jti}-id` }, typ: 'JWT' });
    await expectChallenge(await fetch(url, { headers: bearer(jwt) }), 401, 'invalid_token');
  });

  it('refuses a token without the openid scope with 403 insufficient_scope naming openid', async () => {
    const token = await codeToken('read');
    const res = await fetch(url, { headers: bearer(token) });
    await expectChallenge(res, 403, 'insufficient_scope');
    expect(res.headers.get('www-authenticate')).toContain('scope="openid"');
  });

  it('refuses a client_credentials token with openid: it identifies no user', async () => {
    const res = await postForm(`${t.baseUrl}/oauth2/token`, 'grant_type=client_credentials&scope=openid', { authorization: basicAuth(client.id, client.secret) });
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    await expectChallenge(await fetch(url, { headers: bearer(access_token) }), 401, 'invalid_token');
  });

  it('answers a client that registered userinfo_signed_response_alg with a JWT that verifies with the JWKS', async () => {
    const admin = await t.bearer();
    const created = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({
        client: Client.fromPartial({
          clientName: 'signed-rp',
          clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
          redirectUris: [REDIRECT],
          grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
          scopes: ['openid', 'email'],
          userinfoSignedResponseAlg: 'ES256',
        }),
      }),
      { bearer: admin },
    );
    expect(created.client!.userinfoSignedResponseAlg).toBe('ES256');
    const signer = { id: created.client!.clientId, secret: created.clientSecret };
    const res = await fetch(url, { headers: bearer(await codeToken('openid email', signer)) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/jwt/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const jwt = await res.text();
    expect(decodeProtectedHeader(jwt)).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    const jwks = createRemoteJWKSet(new URL(`${t.baseUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(jwt, jwks, { issuer: t.baseUrl, audience: signer.id, algorithms: ['ES256'] });
    expect(payload).toEqual({ sub: userId, email: 'zoe@example.com', email_verified: true, iss: t.baseUrl, aud: signer.id });
    // Not an access token: presenting it to UserInfo fails.
    await expectChallenge(await fetch(url, { headers: bearer(jwt) }), 401, 'invalid_token');
  });

  it('refuses a userinfo_signed_response_alg the server does not sign with (and none)', async () => {
    const admin = await t.bearer();
    for (const alg of ['RS256', 'none', 'HS256']) {
      const create = t.anon.client.createClient(
        CreateClientRequest.fromPartial({ client: Client.fromPartial({ clientName: 'x', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, userinfoSignedResponseAlg: alg }) }),
        { bearer: admin },
      );
      await expect(create).rejects.toMatchObject({ code: 'invalid_client_metadata' });
    }
  });

  it('takes userinfo_signed_response_alg in dynamic registration (RFC 7591, OIDC Registration §2)', async () => {
    const admin = await t.bearer();
    const register = (alg: string) =>
      fetch(`${t.baseUrl}/oauth2/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ client_name: 'dyn', redirect_uris: [REDIRECT], scope: 'openid email', userinfo_signed_response_alg: alg }),
      });
    const ok = await register('ES256');
    expect(ok.status).toBe(201);
    const info = (await ok.json()) as Record<string, string>;
    expect(info.userinfo_signed_response_alg).toBe('ES256');
    expect((await t.peers.client.getClient({ clientId: info.client_id! })).client!.userinfoSignedResponseAlg).toBe('ES256');
    const bad = await register('none');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });

  it('answers 405 for other methods', async () => {
    const res = await fetch(url, { method: 'PUT' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
  });
});
