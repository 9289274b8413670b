// Dynamic client registration (RFC 7591) and management (RFC 7592) through the real gateway:
// openid-client registers a client with an initial access token and then uses it for every grant,
// introspection and revocation; raw fetch covers the refusals.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpopKey } from '../../test/support/dpop.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { ALLOWED_ORIGIN, authorizationRedirect, basicAuth, postForm, REDIRECT } from './route-test-support.js';
import { ClientService } from '../../gen/es/authmesh/client/v1/client_pb.js';
import { ErrorInfoSchema } from '../../gen/es/google/rpc/error_details_pb.js';
import { CreateUserRequest } from '../../gen/ts/authmesh/user/v1/user.js';
import { hashToken } from '../../services/core/oauth/index.js';

describe('client registration (RFC 7591 / RFC 7592)', () => {
  let t: TestGateway;
  let admin: string;
  let registerUrl: string;
  let userId: string;
  const options = () => ({ algorithm: 'oauth2' as const, execute: [client.allowInsecureRequests] });

  beforeAll(async () => {
    t = await startTestGateway({ AUTHMESH_CORS_ORIGINS: ALLOWED_ORIGIN });
    admin = await t.bearer();
    registerUrl = `${t.baseUrl}/oauth2/register`;
    const user = await t.anon.user.createUser(CreateUserRequest.fromPartial({ user: { username: 'reg-user' }, password: 'correct horse battery staple' }), { bearer: admin });
    userId = user.user!.userId;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const register = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${admin}` }) =>
    fetch(registerUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  describe('with openid-client', () => {
    let config: client.Configuration;

    beforeAll(async () => {
      config = await client.dynamicClientRegistration(
        new URL(t.baseUrl),
        {
          client_name: 'registered app',
          redirect_uris: [REDIRECT],
          grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
          response_types: ['code'],
          scope: 'read write',
          token_endpoint_auth_method: 'client_secret_basic',
        },
        // openid-client would default to client_secret_post; the server holds it to the registered method.
        client.ClientSecretBasic(),
        { ...options(), initialAccessToken: admin },
      );
    });

    it('registers a confidential client and receives its credentials', () => {
      const m = config.clientMetadata();
      expect(m.client_id).toMatch(/^c/);
      expect(m.client_secret).toMatch(/^[\w-]{43}$/);
      expect(m).toMatchObject({
        client_secret_expires_at: 0,
        client_name: 'registered app',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        scope: 'read write',
        token_endpoint_auth_method: 'client_secret_basic',
        registration_client_uri: `${t.baseUrl}/oauth2/register/${m.client_id}`,
      });
      expect(Math.abs((m.client_id_issued_at as number) - Date.now() / 1000)).toBeLessThan(60);
    });

    it('uses the registered client: client_credentials, code + PKCE, refresh, introspection, revocation', async () => {
      const cc = await client.clientCredentialsGrant(config, { scope: 'read' });
      expect(cc).toMatchObject({ token_type: 'bearer', scope: 'read', expires_in: 600 });

      const verifier = client.randomPKCECodeVerifier();
      const redirect = await authorizationRedirect(t, config.clientMetadata().client_id, userId, 'read write', verifier);
      const tokens = await client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier, expectedState: 'st-1' });
      expect(tokens.refresh_token).toBeDefined();

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'read' });
      expect(refreshed.scope).toBe('read');
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
      // Reuse of the rotated refresh token is refused and kills the family.
      await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

      const info = await client.tokenIntrospection(config, cc.access_token);
      expect(info).toMatchObject({ active: true, client_id: config.clientMetadata().client_id, scope: 'read' });
      await client.tokenRevocation(config, cc.access_token);
      expect(await client.tokenIntrospection(config, cc.access_token)).toEqual({ active: false });
    });

    it('reads, replaces and deletes the registration (RFC 7592)', async () => {
      const id = config.clientMetadata().client_id;
      const url = `${registerUrl}/${id}`;
      const read = await fetch(url, { headers: { authorization: `Bearer ${admin}` } });
      expect(read.status).toBe(200);
      expect(read.headers.get('cache-control')).toBe('no-store');
      const current = (await read.json()) as Record<string, unknown>;
      expect(current).toMatchObject({ client_id: id, client_name: 'registered app', scope: 'read write' });
      expect(current.client_secret).toBeUndefined();

      const put = await fetch(url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ client_id: id, client_name: 'renamed', redirect_uris: [REDIRECT], grant_types: ['client_credentials'], scope: 'read' }),
      });
      expect(put.status).toBe(200);
      const replaced = (await put.json()) as Record<string, unknown>;
      expect(replaced).toMatchObject({ client_id: id, client_name: 'renamed', grant_types: ['client_credentials'], response_types: [], scope: 'read', token_endpoint_auth_method: 'client_secret_basic' });
      // The secret is kept (not reissued) when the method still uses it.
      expect(replaced.client_secret).toBeUndefined();
      expect((await client.clientCredentialsGrant(config, { scope: 'read' })).scope).toBe('read');
      await expect(client.clientCredentialsGrant(config, { scope: 'write' })).rejects.toMatchObject({ error: 'invalid_scope' });

      const del = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } });
      expect(del.status).toBe(204);
      expect(await del.text()).toBe('');
      expect((await fetch(url, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(404);
      await expect(client.clientCredentialsGrant(config)).rejects.toMatchObject({ status: 401 });
    });

    it('refuses dynamic registration without an initial access token', async () => {
      await expect(client.dynamicClientRegistration(new URL(t.baseUrl), { redirect_uris: [REDIRECT] }, undefined, options())).rejects.toMatchObject({ status: 401 });
    });
  });

  describe('raw HTTP', () => {
    it('registers a public client (none) and a private_key_jwt client without a secret', async () => {
      const pub = await register({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
      expect(pub.status).toBe(201);
      expect(pub.headers.get('cache-control')).toBe('no-store');
      expect(pub.headers.get('pragma')).toBe('no-cache');
      const body = (await pub.json()) as Record<string, unknown>;
      expect(body.client_secret).toBeUndefined();
      expect(body.client_secret_expires_at).toBeUndefined();
      expect(body).toMatchObject({ token_endpoint_auth_method: 'none', response_types: ['code'] });
      const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'k1' }] };
      const pkj = await register({ token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], jwks, contacts: ['ops@example.com'], client_uri: 'https://app.example.com' });
      expect(pkj.status).toBe(201);
      const pkjBody = (await pkj.json()) as Record<string, unknown>;
      expect(pkjBody).toMatchObject({ token_endpoint_auth_method: 'private_key_jwt', jwks, contacts: ['ops@example.com'], client_uri: 'https://app.example.com', response_types: [] });
      expect(pkjBody.client_secret).toBeUndefined();
    });

    it('registers a device client (RFC 8628 grant, no redirect URI) that can start the device flow', async () => {
      const grant = 'urn:ietf:params:oauth:grant-type:device_code';
      const res = await register({ token_endpoint_auth_method: 'none', grant_types: [grant, 'refresh_token'], scope: 'read' });
      expect(res.status).toBe(201);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ grant_types: [grant, 'refresh_token'], response_types: [], token_endpoint_auth_method: 'none' });
      const started = await postForm(`${t.baseUrl}/oauth2/device_authorization`, `client_id=${encodeURIComponent(body.client_id as string)}&scope=read`);
      expect(started.status).toBe(200);
    });

    it('accepts and returns dpop_bound_access_tokens, and the token endpoint then requires a proof (RFC 9449 §5.2)', async () => {
      const res = await register({ grant_types: ['client_credentials'], scope: 'read', dpop_bound_access_tokens: true });
      expect(res.status).toBe(201);
      const body = (await res.json()) as Record<string, string | boolean>;
      expect(body.dpop_bound_access_tokens).toBe(true);
      const tokenUrl = `${t.baseUrl}/oauth2/token`;
      const auth = { authorization: basicAuth(body.client_id as string, body.client_secret as string) };
      const without = await postForm(tokenUrl, 'grant_type=client_credentials', auth);
      expect(((await without.json()) as Record<string, string>).error).toBe('invalid_dpop_proof');
      const key = await dpopKey('ES256');
      const withProof = await postForm(tokenUrl, 'grant_type=client_credentials', { ...auth, dpop: await key.proof({ htu: tokenUrl }) });
      expect(((await withProof.json()) as Record<string, string>).token_type).toBe('DPoP');
      // RFC 7592: reading it back shows the registered value; a replacement without it turns it off (false by default).
      const url = `${registerUrl}/${body.client_id as string}`;
      expect(await (await fetch(url, { headers: { authorization: `Bearer ${admin}` } })).json()).toMatchObject({ dpop_bound_access_tokens: true });
      const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify({ client_id: body.client_id, grant_types: ['client_credentials'], scope: 'read' }) });
      expect(await put.json()).toMatchObject({ dpop_bound_access_tokens: false });
      expect((await postForm(tokenUrl, 'grant_type=client_credentials', auth)).status).toBe(200);
    });

    it('refuses a dpop_bound_access_tokens that is not a boolean (RFC 7591 §3.2.2)', async () => {
      const res = await register({ grant_types: ['client_credentials'], dpop_bound_access_tokens: 'yes' });
      expect(res.status).toBe(400);
      expect(((await res.json()) as Record<string, string>).error).toBe('invalid_client_metadata');
    });

    it('defaults to the authorization_code grant and client_secret_basic (RFC 7591 §2)', async () => {
      const res = await register({ redirect_uris: [REDIRECT] });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' });
    });

    it('answers bad metadata with RFC 7591 §3.2.2 errors and creates nothing', async () => {
      const before = (await t.anon.client.listClients({ pageSize: 1000, pageToken: '' }, { bearer: admin })).clients.length;
      const cases: [unknown, string][] = [
        [{ redirect_uris: ['https://evil.example.com/cb#frag'] }, 'invalid_redirect_uri'],
        [{ redirect_uris: ['http://app.example.com/cb'] }, 'invalid_redirect_uri'],
        [{ redirect_uris: 'https://app.example.com/cb' }, 'invalid_redirect_uri'],
        [{ grant_types: ['authorization_code'] }, 'invalid_client_metadata'],
        [{ redirect_uris: [REDIRECT], response_types: ['token'] }, 'invalid_client_metadata'],
        [{ redirect_uris: [REDIRECT], grant_types: ['implicit'] }, 'invalid_client_metadata'],
        [{ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_jwt' }, 'invalid_client_metadata'],
        [{ grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
        [{ grant_types: ['client_credentials'], jwks_uri: 'https://app.example.com/jwks' }, 'invalid_client_metadata'],
        [{ redirect_uris: [REDIRECT], client_name: 42 }, 'invalid_client_metadata'],
        [{ redirect_uris: [REDIRECT], logo_uri: 'javascript:alert(1)' }, 'invalid_client_metadata'],
        [['not', 'an', 'object'], 'invalid_client_metadata'],
      ];
      for (const [body, error] of cases) {
        const res = await register(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(((await res.json()) as { error: string }).error, JSON.stringify(body)).toBe(error);
      }
      const after = (await t.anon.client.listClients({ pageSize: 1000, pageToken: '' }, { bearer: admin })).clients.length;
      expect(after).toBe(before);
    });

    it('requires a Bearer token with the admin scope', async () => {
      const none = await register({ redirect_uris: [REDIRECT] }, {});
      expect(none.status).toBe(401);
      // RFC 6750 §3.1: no credentials sent, so the challenge carries no error code.
      expect(none.headers.get('www-authenticate')).toBe(`Bearer realm="${t.baseUrl}"`);
      const forged = await register({ redirect_uris: [REDIRECT] }, { authorization: `Bearer ${admin.slice(0, -4)}AAAA` });
      expect(forged.status).toBe(401);
      expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer realm=".*", error="invalid_token"/);
      const basic = await register({ redirect_uris: [REDIRECT] }, { authorization: basicAuth('a', 'b') });
      expect(basic.status).toBe(401);
      const weak = await register({ redirect_uris: [REDIRECT] }, { authorization: `Bearer ${await t.bearer({ scope: ['authmesh.read'] })}` });
      expect(weak.status).toBe(403);
      expect(await weak.json()).toMatchObject({ error: 'insufficient_scope' });
      expect(weak.headers.get('www-authenticate')).toContain('scope="authmesh.admin"');
    });

    it('requires application/json and refuses other methods', async () => {
      const form = await postForm(registerUrl, 'redirect_uris=https://app.example.com/cb', { authorization: `Bearer ${admin}` });
      expect(form.status).toBe(400);
      expect(await form.json()).toEqual({ error: 'invalid_request', error_description: 'the request body must be application/json' });
      const get = await fetch(registerUrl, { headers: { authorization: `Bearer ${admin}` } });
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST, OPTIONS');
      const post = await fetch(`${registerUrl}/some-client`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, PUT, DELETE, HEAD, OPTIONS');
    });

    it('management refuses a client_id mismatch, unknown clients and missing tokens', async () => {
      const created = (await (await register({ redirect_uris: [REDIRECT] })).json()) as { client_id: string };
      const url = `${registerUrl}/${created.client_id}`;
      const put = (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${admin}` }) =>
        fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      const mismatch = await put({ client_id: 'other', redirect_uris: [REDIRECT] });
      expect(mismatch.status).toBe(400);
      expect(((await mismatch.json()) as { error: string }).error).toBe('invalid_request');
      expect((await put({ client_id: created.client_id, redirect_uris: [REDIRECT] }, {})).status).toBe(401);
      expect((await fetch(url, { method: 'DELETE' })).status).toBe(401);
      expect((await fetch(`${registerUrl}/no-such-client`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(404);
      // Switching a public client to a secret method issues its first secret.
      const pubRes = (await (await register({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' })).json()) as { client_id: string };
      const switched = await fetch(`${registerUrl}/${pubRes.client_id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ client_id: pubRes.client_id, grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post' }),
      });
      expect(switched.status).toBe(200);
      const sw = (await switched.json()) as { client_secret: string };
      expect(sw.client_secret).toMatch(/^[\w-]{43}$/);
      const tok = await postForm(`${t.baseUrl}/oauth2/token`, `grant_type=client_credentials&client_id=${pubRes.client_id}&client_secret=${sw.client_secret}`);
      expect(tok.status).toBe(200);
    });

    it('allows CORS for a configured origin, including the preflight of a JSON POST', async () => {
      const res = await register({ redirect_uris: [REDIRECT] }, { authorization: `Bearer ${admin}`, origin: ALLOWED_ORIGIN });
      expect(res.status).toBe(201);
      expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      const pre = await fetch(registerUrl, { method: 'OPTIONS', headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-methods')).toBe('POST');
      const evil = await register({ redirect_uris: [REDIRECT] }, { authorization: `Bearer ${admin}`, origin: 'https://evil.example.com' });
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
  describe('management with the registration access token (RFC 7592)', () => {
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const put = (url: string, token: string, body: unknown) =>
      fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json', ...bearer(token) }, body: JSON.stringify(body) });
    /** RFC 7592 §2.1: every refusal is the same 401, whether or not the client exists. */
    async function expectRefused(res: Response) {
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm=".*", error="invalid_token"/);
      const body = (await res.json()) as { error: string; error_description: string };
      expect(body.error).toBe('invalid_token');
      return { header: res.headers.get('www-authenticate'), body };
    }

    it('openid-client receives a registration access token; GET, PUT (rotating it) and DELETE work with it', async () => {
      const config = await client.dynamicClientRegistration(
        new URL(t.baseUrl),
        { client_name: 'self-managed', grant_types: ['client_credentials'], scope: 'read write', token_endpoint_auth_method: 'client_secret_basic' },
        client.ClientSecretBasic(),
        { ...options(), initialAccessToken: admin },
      );
      const m = config.clientMetadata();
      const token = m.registration_access_token as string;
      expect(token).toMatch(/^[\w-]{43}$/);
      expect(token).not.toBe(m.client_secret);
      expect(m.registration_client_uri).toBe(`${registerUrl}/${m.client_id}`);
      // Stored only as its hash.
      expect((await t.store.clients.get(m.client_id)).registrationAccessTokenHash).toBe(hashToken(token));
      const url = m.registration_client_uri as string;

      const read = await fetch(url, { headers: bearer(token) });
      expect(read.status).toBe(200);
      expect(read.headers.get('cache-control')).toBe('no-store');
      const current = (await read.json()) as Record<string, unknown>;
      expect(current).toMatchObject({ client_id: m.client_id, client_name: 'self-managed', scope: 'read write', registration_client_uri: url });
      expect(current.client_secret).toBeUndefined();
      expect(current.registration_access_token).toBeUndefined();

      const replaced = await put(url, token, { client_id: m.client_id, client_name: 'renamed', grant_types: ['client_credentials'], scope: 'read' });
      expect(replaced.status).toBe(200);
      expect(replaced.headers.get('cache-control')).toBe('no-store');
      const body = (await replaced.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ client_id: m.client_id, client_name: 'renamed', scope: 'read', registration_client_uri: url });
      expect(body.client_secret).toBeUndefined();
      const next = body.registration_access_token as string;
      expect(next).toMatch(/^[\w-]{43}$/);
      expect(next).not.toBe(token);
      // RFC 7592 §2.2: the previous token is discarded.
      await expectRefused(await fetch(url, { headers: bearer(token) }));
      expect((await fetch(url, { headers: bearer(next) })).status).toBe(200);
      expect((await client.clientCredentialsGrant(config, { scope: 'read' })).scope).toBe('read');

      // The token cannot widen what the admin approved, nor change an admin setting.
      const widen = await put(url, next, { client_id: m.client_id, grant_types: ['client_credentials'], scope: 'read write authmesh.admin' });
      expect(widen.status).toBe(400);
      expect(((await widen.json()) as { error: string }).error).toBe('invalid_client_metadata');
      expect((await t.store.clients.get(m.client_id)).scopes).toEqual(['read']);

      await expectRefused(await fetch(url, { method: 'DELETE', headers: bearer(token) }));
      const del = await fetch(url, { method: 'DELETE', headers: bearer(next) });
      expect(del.status).toBe(204);
      await expect(t.store.clients.get(m.client_id)).rejects.toMatchObject({ code: 'not_found' });
      await expectRefused(await fetch(url, { headers: bearer(next) }));
      await expect(client.clientCredentialsGrant(config)).rejects.toMatchObject({ status: 401 });
    });

    it("refuses another client's token and answers an unknown client exactly the same", async () => {
      const a = (await (await register({ grant_types: ['client_credentials'] })).json()) as Record<string, string>;
      const b = (await (await register({ grant_types: ['client_credentials'] })).json()) as Record<string, string>;
      const urlA = a.registration_client_uri!;
      const other = await expectRefused(await fetch(urlA, { headers: bearer(b.registration_access_token!) }));
      await expectRefused(await put(urlA, b.registration_access_token!, { client_id: a.client_id, grant_types: ['client_credentials'] }));
      await expectRefused(await fetch(urlA, { method: 'DELETE', headers: bearer(b.registration_access_token!) }));
      const unknown = await expectRefused(await fetch(`${registerUrl}/no-such-client`, { headers: bearer(a.registration_access_token!) }));
      const random = await expectRefused(await fetch(`${registerUrl}/no-such-client`, { headers: bearer('A'.repeat(43)) }));
      expect(unknown).toEqual(other);
      expect(random).toEqual(other);
      await expectRefused(await fetch(`${registerUrl}/no-such-client`, { method: 'DELETE', headers: bearer(a.registration_access_token!) }));
      // Nothing changed: A still answers to its own token.
      expect((await fetch(urlA, { headers: bearer(a.registration_access_token!) })).status).toBe(200);
      expect((await t.store.clients.get(a.client_id!)).version).toBe(1);
    });

    it('still accepts an admin token, and an admin PUT issues a new registration access token', async () => {
      const a = (await (await register({ grant_types: ['client_credentials'], scope: 'read' })).json()) as Record<string, string>;
      const url = a.registration_client_uri!;
      expect((await fetch(url, { headers: bearer(admin) })).status).toBe(200);
      // An admin may widen what a token may not.
      const res = await put(url, admin, { client_id: a.client_id, grant_types: ['client_credentials'], scope: 'read write' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, string>;
      expect(body.scope).toBe('read write');
      expect(body.registration_access_token).toMatch(/^[\w-]{43}$/);
      await expectRefused(await fetch(url, { headers: bearer(a.registration_access_token!) }));
      expect((await fetch(url, { headers: bearer(body.registration_access_token!) })).status).toBe(200);
      expect((await fetch(url, { method: 'DELETE', headers: bearer(admin) })).status).toBe(204);
    });

    it('the registration access token is not an access token anywhere else', async () => {
      const a = (await (await register({ grant_types: ['client_credentials'] })).json()) as Record<string, string>;
      const token = a.registration_access_token!;
      // Not for registering clients.
      await expectRefused(await register({ grant_types: ['client_credentials'] }, bearer(token)));
      // Not for the admin API over Connect.
      const rpc = createClient(ClientService, createConnectTransport({ baseUrl: t.baseUrl, httpVersion: '1.1' }));
      const err = (await rpc.listClients({}, { headers: bearer(token) }).catch((e: unknown) => e)) as ConnectError;
      expect(err).toBeInstanceOf(ConnectError);
      expect(err.code).toBe(Code.Unauthenticated);
      expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe('INVALID_TOKEN');
      const get = (await rpc.getClient({ clientId: a.client_id! }, { headers: bearer(token) }).catch((e: unknown) => e)) as ConnectError;
      expect(get.findDetails(ErrorInfoSchema)[0]?.reason).toBe('INVALID_TOKEN');
      // Not as a grant either: introspection says it is no token of this server.
      const intro = await postForm(`${t.baseUrl}/oauth2/introspect`, `token=${token}`, { authorization: basicAuth(a.client_id!, a.client_secret!) });
      expect(intro.status).toBe(200);
      expect(await intro.json()).toEqual({ active: false });
    });
  });
});
