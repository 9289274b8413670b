// RFC 8414 metadata and the RFC 7517 JWK Set through the real gateway: what oauth4webapi and
// openid-client read from them, their caching headers, and where CORS is (and is not) allowed.
import { readFileSync } from 'node:fs';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_ALGS, SUPPORTED_USER_CLAIMS, TOKEN_EXCHANGE_GRANT } from '../../services/core/oauth/index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { authorizationServerMetadata } from './discovery.js';
import { ALLOWED_ORIGIN } from './route-test-support.js';

describe('discovery and JWKS', () => {
  let t: TestGateway;
  let metadataUrl: string;
  let jwksUrl: string;

  beforeAll(async () => {
    t = await startTestGateway({ AUTHMESH_CORS_ORIGINS: `${ALLOWED_ORIGIN},https://other.example.com` });
    metadataUrl = `${t.baseUrl}/.well-known/oauth-authorization-server`;
    jwksUrl = `${t.baseUrl}/.well-known/jwks.json`;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('oauth4webapi discovers every endpoint; the issuer is the URL it was fetched from (RFC 8414 §3.3)', async () => {
    const res = await oauth.discoveryRequest(new URL(t.baseUrl), { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true });
    const as = await oauth.processDiscoveryResponse(new URL(t.baseUrl), res);
    const b = t.baseUrl;
    expect(as).toEqual({
      issuer: b,
      authorization_endpoint: `${b}/oauth2/authorize`,
      token_endpoint: `${b}/oauth2/token`,
      jwks_uri: `${b}/.well-known/jwks.json`,
      registration_endpoint: `${b}/oauth2/register`,
      device_authorization_endpoint: `${b}/oauth2/device_authorization`,
      scopes_supported: ['openid', 'offline_access', 'profile', 'email', 'phone', 'address', 'authmesh.admin', 'authmesh.read'],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token', TOKEN_EXCHANGE_GRANT, 'urn:ietf:params:oauth:grant-type:device_code'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      token_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      introspection_endpoint: `${b}/oauth2/introspect`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      introspection_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      revocation_endpoint: `${b}/oauth2/revoke`,
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
      revocation_endpoint_auth_signing_alg_values_supported: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      code_challenge_methods_supported: ['S256'],
      dpop_signing_alg_values_supported: ['ES256', 'ES384', 'ES512', 'EdDSA', 'PS256', 'PS384', 'PS512', 'RS256', 'RS384', 'RS512'],
      authorization_response_iss_parameter_supported: true,
      subject_types_supported: ['public', 'pairwise'],
      id_token_signing_alg_values_supported: ['ES256'],
      userinfo_signing_alg_values_supported: ['ES256'],
      claims_supported: [...new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'azp', 'at_hash', 'amr', 'sid', ...SUPPORTED_USER_CLAIMS])],
      prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
      pushed_authorization_request_endpoint: `${b}/oauth2/par`,
      require_pushed_authorization_requests: false,
      request_parameter_supported: true,
      request_uri_parameter_supported: false,
      require_signed_request_object: false,
      request_object_signing_alg_values_supported: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      claims_parameter_supported: true,
      userinfo_endpoint: `${b}/oauth2/userinfo`,
      end_session_endpoint: `${t.baseUrl}/oauth2/end_session`,
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    });
  });

  it('lists exactly the ID Token and UserInfo signing algorithms registration accepts (OIDC Discovery §3, review L5)', async () => {
    const m = (await (await fetch(metadataUrl)).json()) as Record<string, string[]>;
    const admin = await t.bearer();
    for (const [metadataName, registrationName] of [
      ['id_token_signing_alg_values_supported', 'id_token_signed_response_alg'],
      ['userinfo_signing_alg_values_supported', 'userinfo_signed_response_alg'],
    ] as const) {
      for (const alg of ALLOWED_ALGS) {
        const res = await fetch(`${t.baseUrl}/oauth2/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
          body: JSON.stringify({ redirect_uris: ['https://rp.example.com/cb'], [registrationName]: alg }),
        });
        expect({ alg, metadataName, accepted: res.status === 201 }).toEqual({ alg, metadataName, accepted: m[metadataName]!.includes(alg) });
      }
    }
    // Another server signing alg is listed alone.
    const base = { issuer: 'https://as.example.com', signingAlg: 'RS256' } as Parameters<typeof authorizationServerMetadata>[0];
    expect(authorizationServerMetadata(base)).toMatchObject({ id_token_signing_alg_values_supported: ['RS256'], userinfo_signing_alg_values_supported: ['RS256'] });
  });

  it('openid-client discovers the server as a plain OAuth 2.0 authorization server', async () => {
    const config = await client.discovery(new URL(t.baseUrl), 'some-client', undefined, undefined, { algorithm: 'oauth2', execute: [client.allowInsecureRequests] });
    expect(config.serverMetadata().issuer).toBe(t.baseUrl);
    expect(config.serverMetadata().supportsPKCE()).toBe(true);
  });

  it('advertises the password grant only when the operator enabled it', () => {
    const base = { issuer: 'https://as.example.com', passwordGrantEnabled: false } as Parameters<typeof authorizationServerMetadata>[0];
    expect(authorizationServerMetadata(base).grant_types_supported).not.toContain('password');
    expect(authorizationServerMetadata({ ...base, passwordGrantEnabled: true }).grant_types_supported).toContain('password');
  });

  it('serves OpenID Provider metadata identical to the RFC 8414 document (RFC 8414 §5), which openid-client discovers', async () => {
    const [oidcRes, oauthRes] = await Promise.all([fetch(`${t.baseUrl}/.well-known/openid-configuration`), fetch(metadataUrl)]);
    expect(oidcRes.status).toBe(200);
    expect(oidcRes.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await oidcRes.text()).toBe(await oauthRes.text());
    const config = await client.discovery(new URL(t.baseUrl), 'some-client', undefined, undefined, { execute: [client.allowInsecureRequests] });
    const m = config.serverMetadata();
    expect(m.issuer).toBe(t.baseUrl);
    expect(m.scopes_supported).toContain('openid');
    expect(m.response_types_supported).toEqual(['code']);
    expect(m.id_token_signing_alg_values_supported).toContain('ES256');
  });

  it('serves metadata with public caching, an ETag, and 304 on If-None-Match', async () => {
    const res = await fetch(metadataUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(metadataUrl, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('serves the JWK Set without empty members; its keys verify tokens the token endpoint issues', async () => {
    const res = await fetch(jwksUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    const { keys } = (await res.json()) as { keys: Record<string, string>[] };
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const k of keys) {
      expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256' });
      expect(Object.keys(k).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(Object.values(k)).not.toContain('');
    }
    const jwt = await t.bearer({ scope: ['read'] });
    const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(jwksUrl)), { issuer: t.baseUrl });
    expect(payload.scope).toBe('read');
  });

  it('answers If-None-Match on the JWK Set with 304, and 200 for a stale tag', async () => {
    const first = await fetch(jwksUrl);
    const etag = first.headers.get('etag')!;
    const notModified = await fetch(jwksUrl, { headers: { 'if-none-match': `"other", W/${etag}` } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('etag')).toBe(etag);
    expect(notModified.headers.get('cache-control')).toBe('public, max-age=300');
    const stale = await fetch(jwksUrl, { headers: { 'if-none-match': '"stale"' } });
    expect(stale.status).toBe(200);
  });

  it('answers HEAD, refuses other methods with 405 and an Allow header', async () => {
    for (const url of [metadataUrl, jwksUrl]) {
      expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const res = await fetch(url, { method });
        expect(res.status, `${method} ${url}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD, OPTIONS');
      }
    }
  });

  it('allows CORS for configured origins only, on metadata and JWKS', async () => {
    for (const url of [metadataUrl, jwksUrl]) {
      const ok = await fetch(url, { headers: { origin: ALLOWED_ORIGIN } });
      expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      expect(ok.headers.get('access-control-expose-headers')).toContain('ETag');
      expect(ok.headers.get('vary')).toBe('Origin');
      expect((await fetch(url, { headers: { origin: 'https://other.example.com' } })).headers.get('access-control-allow-origin')).toBe('https://other.example.com');
      const evil = await fetch(url, { headers: { origin: 'https://evil.example.com' } });
      expect(evil.status).toBe(200);
      expect(evil.headers.get('access-control-allow-origin')).toBeNull();
      const pre = await fetch(url, { method: 'OPTIONS', headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'GET' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    }
  });

  it("matches README's metadata excerpt, member for member (with this gateway's issuer)", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /An excerpt of the metadata[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const excerpt = JSON.parse(block!.replaceAll('http://127.0.0.1:8080', t.baseUrl)) as Record<string, unknown>;
    const served = (await (await fetch(metadataUrl)).json()) as Record<string, unknown>;
    for (const [k, v] of Object.entries(excerpt)) expect(served[k], k).toEqual(v);
  });

  it('never sends CORS headers from the authorization endpoint', async () => {
    const get = await fetch(`${t.baseUrl}/oauth2/authorize?response_type=code&client_id=nobody`, { headers: { origin: ALLOWED_ORIGIN }, redirect: 'manual' });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await fetch(`${t.baseUrl}/oauth2/authorize`, { method: 'OPTIONS', headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST' } });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.headers.get('access-control-allow-methods')).toBeNull();
  });
});

describe('CORS with no configured origins', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('allows no origin at all', async () => {
    const res = await fetch(`${t.baseUrl}/.well-known/jwks.json`, { headers: { origin: ALLOWED_ORIGIN } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('vary')).toBeNull();
  });
});
