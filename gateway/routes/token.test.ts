// The token, introspection and revocation endpoints through the real gateway, driven by
// oauth4webapi (every client authentication method, every grant the library can send) and by raw
// fetch only for the malformed requests a library refuses to produce.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKEN_EXCHANGE_GRANT } from '../../services/core/oauth/index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { ALLOWED_ORIGIN, authorizationRedirect, basicAuth, createFixtures, ORDERS, postForm, REDIRECT, type Fixtures } from './route-test-support.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe('token endpoints with oauth4webapi', () => {
  let t: TestGateway;
  let f: Fixtures;
  let as: oauth.AuthorizationServer;
  let tokenUrl: string;

  beforeAll(async () => {
    t = await startTestGateway({ AUTHMESH_CORS_ORIGINS: ALLOWED_ORIGIN });
    f = await createFixtures(t);
    const res = await oauth.discoveryRequest(new URL(t.baseUrl), { algorithm: 'oauth2', ...insecure });
    as = await oauth.processDiscoveryResponse(new URL(t.baseUrl), res);
    tokenUrl = `${t.baseUrl}/oauth2/token`;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const clientCredentials = async (client: oauth.Client, auth: oauth.ClientAuth, scope = 'read') =>
    oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, auth, { scope }, insecure));

  async function verify(jwt: string) {
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri!));
    return (await jwtVerify(jwt, jwks, { issuer: t.baseUrl, typ: 'at+jwt' })).payload;
  }

  async function codeTokens(client: oauth.Client, auth: oauth.ClientAuth, scope: string) {
    const verifier = oauth.generateRandomCodeVerifier();
    const redirect = await authorizationRedirect(t, client.client_id, f.userId, scope, verifier);
    const params = oauth.validateAuthResponse(as, client, redirect, 'st-1');
    const res = await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT, verifier, insecure);
    return oauth.processAuthorizationCodeResponse(as, client, res);
  }

  describe('client_credentials with each client authentication method', () => {
    it('client_secret_basic', async () => {
      const res = await clientCredentials({ client_id: f.basic.id }, oauth.ClientSecretBasic(f.basic.secret));
      expect(res).toMatchObject({ token_type: 'bearer', expires_in: 600, scope: 'read' });
      expect(res.refresh_token).toBeUndefined();
      expect(await verify(res.access_token)).toMatchObject({ iss: t.baseUrl, sub: f.basic.id, client_id: f.basic.id, scope: 'read' });
    });

    it('client_secret_post', async () => {
      const res = await clientCredentials({ client_id: f.post.id }, oauth.ClientSecretPost(f.post.secret));
      expect((await verify(res.access_token)).client_id).toBe(f.post.id);
    });

    it('private_key_jwt (RFC 7523), and the same assertion cannot be replayed', async () => {
      const auth = oauth.PrivateKeyJwt({ key: f.jwt.privateKey, kid: f.jwt.kid });
      const res = await clientCredentials({ client_id: f.jwt.id }, auth);
      expect((await verify(res.access_token)).client_id).toBe(f.jwt.id);
      // Capture an assertion oauth4webapi builds, then send it twice by hand.
      const capture = oauth.PrivateKeyJwt({ key: f.jwt.privateKey, kid: f.jwt.kid });
      const body = new URLSearchParams({ grant_type: 'client_credentials' });
      await capture(as, { client_id: f.jwt.id }, body, new Headers());
      expect(body.get('client_assertion')).toMatch(/^ey/);
      const send = () => postForm(tokenUrl, body.toString());
      expect((await send()).status).toBe(200);
      const replay = await send();
      expect(replay.status).toBe(401);
      expect(await replay.json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    });

    it('a wrong secret is answered with 401 and a Basic challenge the library understands', async () => {
      const err = await clientCredentials({ client_id: f.basic.id }, oauth.ClientSecretBasic('wrong')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
      const challenge = err as oauth.WWWAuthenticateChallengeError;
      expect(challenge.status).toBe(401);
      expect(challenge.cause[0]).toMatchObject({ scheme: 'basic', parameters: { realm: t.baseUrl } });
      // The body is still RFC 6749 §5.2 JSON.
      expect(await challenge.response.json()).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
    });
  });

  describe('authorization_code, refresh_token and token exchange', () => {
    it('redeems a code with PKCE and rotates the refresh token; reuse revokes the family', async () => {
      const client = { client_id: f.basic.id };
      const auth = oauth.ClientSecretBasic(f.basic.secret);
      const first = await codeTokens(client, auth, 'read write');
      expect(first.refresh_token).toMatch(/^[\w-]{43}$/);
      expect(first.scope).toBe('read write');
      const second = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, first.refresh_token!, insecure));
      expect(second.refresh_token).toBeDefined();
      expect(second.refresh_token).not.toBe(first.refresh_token);
      // Reuse of the rotated token: refused, and the family (including the newest token) dies.
      const reuse = oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, first.refresh_token!, insecure));
      await expect(reuse).rejects.toMatchObject({ error: 'invalid_grant', status: 400 });
      const newest = oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, second.refresh_token!, insecure));
      await expect(newest).rejects.toMatchObject({ error: 'invalid_grant' });
    });

    it('works for a public client with PKCE and no authentication', async () => {
      const client = { client_id: f.pub, token_endpoint_auth_method: 'none' };
      const res = await codeTokens(client, oauth.None(), 'read');
      expect((await verify(res.access_token)).client_id).toBe(f.pub);
      const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), res.refresh_token!, insecure));
      expect(refreshed.scope).toBe('read');
    });

    it('exchanges a user token for a narrower one for another audience (RFC 8693)', async () => {
      const client = { client_id: f.basic.id };
      const auth = oauth.ClientSecretBasic(f.basic.secret);
      const user = await codeTokens(client, auth, 'read orders.read');
      const res = await oauth.genericTokenEndpointRequest(
        as,
        client,
        auth,
        TOKEN_EXCHANGE_GRANT,
        { subject_token: user.access_token, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', audience: ORDERS, scope: 'orders.read' },
        insecure,
      );
      const exchanged = await oauth.processGenericTokenEndpointResponse(as, client, res);
      expect(exchanged.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
      expect(exchanged.refresh_token).toBeUndefined();
      expect(await verify(exchanged.access_token)).toMatchObject({ sub: f.userId, aud: ORDERS, scope: 'orders.read', act: { sub: f.basic.id } });
    });
  });

  describe('introspection (RFC 7662) and revocation (RFC 7009)', () => {
    const client = () => ({ client_id: f.basic.id });
    const auth = () => oauth.ClientSecretBasic(f.basic.secret);
    const introspect = async (token: string, hint?: string) =>
      oauth.processIntrospectionResponse(
        as,
        client(),
        await oauth.introspectionRequest(as, client(), auth(), token, { ...insecure, ...(hint ? { additionalParameters: { token_type_hint: hint } } : {}) }),
      );

    it('describes an active access token and says only active=false for garbage', async () => {
      const { access_token } = await clientCredentials(client(), auth(), 'read');
      const info = await introspect(access_token);
      expect(info).toMatchObject({ active: true, scope: 'read', client_id: f.basic.id, sub: f.basic.id, token_type: 'Bearer', iss: t.baseUrl, aud: t.baseUrl });
      expect(info.exp! - info.iat!).toBe(600);
      const garbage = await fetch(as.introspection_endpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(f.basic.id, f.basic.secret) },
        body: 'token=garbage',
      });
      expect(garbage.status).toBe(200);
      expect(garbage.headers.get('cache-control')).toBe('no-store');
      expect(await garbage.json()).toEqual({ active: false });
    });

    it('describes a refresh token with its hint', async () => {
      const tokens = await codeTokens(client(), auth(), 'read');
      expect(await introspect(tokens.refresh_token!, 'refresh_token')).toMatchObject({ active: true, token_type: 'refresh_token', sub: f.userId, client_id: f.basic.id });
    });

    it('revokes an access token and a refresh token family', async () => {
      const { access_token } = await clientCredentials(client(), auth(), 'read');
      await expect(oauth.processRevocationResponse(await oauth.revocationRequest(as, client(), auth(), access_token, insecure))).resolves.toBeUndefined();
      expect((await introspect(access_token)).active).toBe(false);
      const tokens = await codeTokens(client(), auth(), 'read');
      const res = await oauth.revocationRequest(as, client(), auth(), tokens.refresh_token!, { ...insecure, additionalParameters: { token_type_hint: 'refresh_token' } });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('');
      expect((await introspect(tokens.refresh_token!, 'refresh_token')).active).toBe(false);
      expect((await introspect(tokens.access_token)).active).toBe(false);
      // RFC 7009 §2.2: an unknown token is not an error.
      await expect(oauth.processRevocationResponse(await oauth.revocationRequest(as, client(), auth(), 'unknown', insecure))).resolves.toBeUndefined();
    });

    it('public clients may revoke but not introspect', async () => {
      const client = { client_id: f.pub, token_endpoint_auth_method: 'none' };
      const tokens = await codeTokens(client, oauth.None(), 'read');
      const res = await oauth.introspectionRequest(as, client, oauth.None(), tokens.access_token, insecure);
      await expect(oauth.processIntrospectionResponse(as, client, res)).rejects.toMatchObject({ error: 'unauthorized_client', status: 400 });
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, oauth.None(), tokens.refresh_token!, insecure));
      expect((await introspect(tokens.refresh_token!, 'refresh_token')).active).toBe(false);
    });
  });

  describe('what libraries refuse to send (raw HTTP)', () => {
    const ccBody = 'grant_type=client_credentials&scope=read';
    const basicHeader = () => ({ authorization: basicAuth(f.basic.id, f.basic.secret) });

    async function expectError(res: Response, status: number, error: string) {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as { error: string; error_description: string };
      expect(body.error).toBe(error);
      expect(typeof body.error_description).toBe('string');
      return body;
    }

    it('success carries Cache-Control: no-store and Pragma: no-cache, and exactly the RFC 6749 §5.1 members', async () => {
      const res = await postForm(tokenUrl, ccBody, basicHeader());
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      const body = (await res.json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'read' });
    });

    it('refuses other methods with 405 and an Allow header', async () => {
      for (const [path, allow] of [
        ['/oauth2/token', 'POST, OPTIONS'],
        ['/oauth2/introspect', 'POST'],
        ['/oauth2/revoke', 'POST'],
      ]) {
        for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
          const res = await fetch(`${t.baseUrl}${path}`, { method });
          expect(res.status, `${method} ${path}`).toBe(405);
          expect(res.headers.get('allow')).toBe(allow);
          expect(((await res.json()) as { error: string }).error).toBe('invalid_request');
        }
      }
      expect((await fetch(`${t.baseUrl}/oauth2/introspect`, { method: 'OPTIONS' })).status).toBe(405);
    });

    it('refuses a JSON body, a missing content type and text/plain with 400 invalid_request', async () => {
      const json = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...basicHeader() }, body: JSON.stringify({ grant_type: 'client_credentials' }) });
      expect(await expectError(json, 400, 'invalid_request')).toEqual({ error: 'invalid_request', error_description: 'the request body must be application/x-www-form-urlencoded' });
      expect(json.headers.get('pragma')).toBe('no-cache');
      await expectError(await fetch(tokenUrl, { method: 'POST', headers: basicHeader() }), 400, 'invalid_request');
      await expectError(await fetch(`${t.baseUrl}/oauth2/introspect`, { method: 'POST', headers: { 'content-type': 'text/plain', ...basicHeader() }, body: 'token=x' }), 400, 'invalid_request');
      await expectError(await fetch(`${t.baseUrl}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/xml', ...basicHeader() }, body: '<x/>' }), 400, 'invalid_request');
      // A charset parameter is allowed.
      expect((await postForm(tokenUrl, ccBody, { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8', ...basicHeader() })).status).toBe(200);
    });

    it('refuses a repeated parameter, but lets resource and audience repeat', async () => {
      const body = await expectError(await postForm(tokenUrl, `${ccBody}&scope=write`, basicHeader()), 400, 'invalid_request');
      expect(body.error_description).toBe('parameter scope is repeated');
      await expectError(await postForm(tokenUrl, 'grant_type=client_credentials&grant_type=client_credentials', basicHeader()), 400, 'invalid_request');
      await expectError(await postForm(`${t.baseUrl}/oauth2/introspect`, 'token=a&token=b', basicHeader()), 400, 'invalid_request');
      // Two resources reach the token service, which judges them (one is unknown: invalid_target).
      const two = `grant_type=client_credentials&resource=${encodeURIComponent(ORDERS)}&resource=${encodeURIComponent('https://unknown.example.com')}`;
      await expectError(await postForm(tokenUrl, two, basicHeader()), 400, 'invalid_target');
      const one = await postForm(tokenUrl, `grant_type=client_credentials&resource=${encodeURIComponent(ORDERS)}`, basicHeader());
      expect(((await one.json()) as { scope: string }).scope).toBe('orders.read');
    });

    it('answers an oversized body with 413 as JSON', async () => {
      const res = await postForm(tokenUrl, `${ccBody}&pad=${'a'.repeat(70_000)}`, basicHeader());
      const body = await expectError(res, 413, 'invalid_request');
      expect(body.error_description).toBe('the request body is too large');
    });

    it('refuses two client authentication methods at once', async () => {
      const both = await postForm(tokenUrl, `${ccBody}&client_id=${f.basic.id}&client_secret=${f.basic.secret}`, basicHeader());
      expect(await expectError(both, 400, 'invalid_request')).toEqual({ error: 'invalid_request', error_description: 'more than one client authentication method was used' });
      const secretAndAssertion = `${ccBody}&client_id=${f.post.id}&client_secret=x&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c`;
      await expectError(await postForm(tokenUrl, secretAndAssertion), 400, 'invalid_request');
      await expectError(await postForm(tokenUrl, `${ccBody}&client_id=someone-else`, basicHeader()), 400, 'invalid_request');
    });

    it('answers a failed Basic authentication with 401 and a Basic challenge', async () => {
      for (const authorization of [basicAuth(f.basic.id, 'wrong'), basicAuth('nobody', 'x'), 'Basic %%%', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Bearer abc']) {
        const res = await postForm(tokenUrl, ccBody, { authorization });
        const body = await expectError(res, 401, 'invalid_client');
        expect(res.headers.get('www-authenticate'), authorization).toBe(`Basic realm="${t.baseUrl}", charset="UTF-8"`);
        expect(body.error).toBe('invalid_client');
      }
      // A failed client_secret_post authentication: 401, with the challenge every 401 carries (RFC 9110 §15.5.2).
      const post = await postForm(tokenUrl, `${ccBody}&client_id=${f.post.id}&client_secret=wrong`);
      await expectError(post, 401, 'invalid_client');
      expect(post.headers.get('www-authenticate')).toBe(`Basic realm="${t.baseUrl}", charset="UTF-8"`);
      // A secret registered for post does not work through Basic (RFC 6749 §2.3).
      await expectError(await postForm(tokenUrl, ccBody, { authorization: basicAuth(f.post.id, f.post.secret) }), 401, 'invalid_client');
    });

    it('answers repeated failed client authentication with 429 slow_down and Retry-After, before checking credentials', async () => {
      // A client id of its own, so the throttle it trips stops nobody else in this file.
      const junk = `junk-${Date.now()}`;
      for (let i = 0; i < t.config.clientAuthMaxFailures; i++) {
        await expectError(await postForm(tokenUrl, ccBody, { authorization: basicAuth(junk, 'wrong') }), 401, 'invalid_client');
      }
      const res = await postForm(tokenUrl, ccBody, { authorization: basicAuth(junk, 'wrong') });
      expect((await expectError(res, 429, 'slow_down')).error).toBe('slow_down');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.headers.get('cache-control')).toBe('no-store');
      // Other clients from the same address are served.
      const ok = await postForm(tokenUrl, ccBody, { authorization: basicAuth(f.basic.id, f.basic.secret) });
      expect(ok.status).toBe(200);
    });

    it('decodes form-encoded Basic credentials (RFC 6749 §2.3.1)', async () => {
      // encodeURIComponent leaves '-' and '_' alone; encode every character to prove decoding happens.
      const id = [...f.basic.id].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('');
      const authorization = `Basic ${Buffer.from(`${id}:${encodeURIComponent(f.basic.secret)}`).toString('base64')}`;
      expect((await postForm(tokenUrl, ccBody, { authorization })).status).toBe(200);
    });

    it('answers unknown and missing grant types per RFC 6749 §5.2', async () => {
      const unknown = await expectError(await postForm(tokenUrl, 'grant_type=urn%3Aexample%3Amagic', basicHeader()), 400, 'unsupported_grant_type');
      expect(unknown.error_description).toBe('grant_type is not supported');
      const missing = await expectError(await postForm(tokenUrl, 'scope=read', basicHeader()), 400, 'invalid_request');
      expect(missing.error_description).toBe('grant_type is required');
      await expectError(await postForm(tokenUrl, 'grant_type=', basicHeader()), 400, 'invalid_request');
    });

    it('sends grant errors from the token service as RFC 6749 §5.2 JSON', async () => {
      await expectError(await postForm(tokenUrl, 'grant_type=refresh_token&refresh_token=nope', basicHeader()), 400, 'invalid_grant');
      await expectError(await postForm(tokenUrl, 'grant_type=client_credentials&scope=admin', basicHeader()), 400, 'invalid_scope');
      await expectError(await postForm(tokenUrl, 'grant_type=client_credentials'), 401, 'invalid_client');
      await expectError(await postForm(`${t.baseUrl}/oauth2/introspect`, '', basicHeader()), 400, 'invalid_request');
      await expectError(await postForm(`${t.baseUrl}/oauth2/revoke`, 'token_type_hint=access_token', basicHeader()), 400, 'invalid_request');
    });

    it('allows CORS for a configured origin on the token endpoint only, not on introspection or revocation', async () => {
      const ok = await postForm(tokenUrl, ccBody, { origin: ALLOWED_ORIGIN, ...basicHeader() });
      expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      expect(ok.headers.get('vary')).toBe('Origin');
      // Errors are readable cross-origin too.
      const err = await postForm(tokenUrl, 'grant_type=x', { origin: ALLOWED_ORIGIN, ...basicHeader() });
      expect(err.status).toBe(400);
      expect(err.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      const refused = await fetch(tokenUrl, { method: 'POST', headers: { origin: ALLOWED_ORIGIN, 'content-type': 'application/json' }, body: '{}' });
      expect(refused.status).toBe(400);
      expect(refused.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      const other = await postForm(tokenUrl, ccBody, { origin: 'https://evil.example.com', ...basicHeader() });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const pre = await fetch(tokenUrl, { method: 'OPTIONS', headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      expect(pre.headers.get('access-control-allow-methods')).toBe('POST');
      expect(pre.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, If-None-Match, DPoP');
      const evilPre = await fetch(tokenUrl, { method: 'OPTIONS', headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' } });
      expect(evilPre.headers.get('access-control-allow-origin')).toBeNull();
      expect(evilPre.headers.get('access-control-allow-methods')).toBeNull();
      for (const path of ['/oauth2/introspect', '/oauth2/revoke']) {
        const res = await postForm(`${t.baseUrl}${path}`, 'token=x', { origin: ALLOWED_ORIGIN, ...basicHeader() });
        expect(res.status).toBe(200);
        expect(res.headers.get('access-control-allow-origin')).toBeNull();
      }
    });
  });
});
