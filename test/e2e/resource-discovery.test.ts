// A client that starts from nothing but a 401 from the sample API behind a real Envoy: it reads
// resource_metadata from WWW-Authenticate (RFC 9728 §5.1), fetches the Protected Resource Metadata
// (RFC 9728 §3), then the authorization server's metadata (RFC 8414), registers itself (RFC 7591,
// with the initial access token an operator hands out), signs a user in through the login form with
// the authorization code + PKCE, gets a token for exactly that resource (RFC 8707) and calls the
// API. The authorization request is pushed (RFC 9126) and the tokens are DPoP-bound (RFC 9449): the
// PAR request carries a proof, which binds the code to the client's key, and ext_authz checks the
// proof of every API call. Also through the same Envoy: ext_authz refuses a token addressed to another registered
// service. The sample API's audience is its URL on the edge (`<edge>/sample`), so it has metadata.
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, createUser, runAuthorization } from '../../gateway/routes/authorize-test-support.js';
import { envoySkipReason, registerSampleApi, startEnvoyStack, type EnvoyStack } from '../support/envoy.js';

const skip = envoySkipReason();
if (skip) console.warn(`skipping the resource discovery end-to-end suite: ${skip}`);

const CB = 'http://127.0.0.1/cb';
const OTHER_API = 'https://other-api.authmesh.test';

/** The resource_metadata parameter of the Bearer or DPoP challenge of a 401/403, or undefined. */
function resourceMetadataOf(res: Response): string | undefined {
  const header = res.headers.get('www-authenticate') ?? '';
  if (!/^(?:Bearer|DPoP)\b/i.test(header)) return undefined;
  return /(?:^|[\s,])resource_metadata="([^"]*)"/.exec(header)?.[1];
}

/**
 * draft-mcguinness-oauth-rfc9728bis (updating RFC 9728 §3.3): metadata learnt from a challenge
 * applies when its resource has the requested URL's origin and a path that is a prefix of the
 * requested path on a segment boundary (the strict RFC text wants the very URL requested).
 */
function resourceCovers(resource: string, requested: URL): boolean {
  const r = new URL(resource);
  if (r.origin !== requested.origin) return false;
  const prefix = r.pathname.endsWith('/') ? r.pathname : `${r.pathname}/`;
  return requested.pathname === r.pathname || requested.pathname.startsWith(prefix);
}

describe.skipIf(skip !== undefined)('a client that starts from a 401 (RFC 9728 → RFC 8414 → RFC 7591 → code + PKCE → RFC 8707)', () => {
  let s: EnvoyStack;
  let admin: string;

  beforeAll(async () => {
    s = await startEnvoyStack({ sampleApiAudience: (url) => `${url}/sample` });
    await registerSampleApi(s);
    admin = await s.gateway.bearer();
    // A second registered API, for tokens of another audience.
    const res = await fetch(`${s.url}/v1/services`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ display_name: 'other API', audience: OTHER_API, endpoints: [{ method: 'GET', path: '/**', scope: 'other.read' }] }),
    });
    expect(res.status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await s?.close();
  });

  it('discovers everything from the 401, registers, signs the user in (PAR + DPoP), and calls the API with proofs', async () => {
    const api = new URL(`${s.url}/sample/hello`);

    // 1. Nothing but the API's URL: the 401 names the resource metadata (RFC 9728 §5.1).
    const first = await fetch(api);
    expect(first.status).toBe(401);
    const metadataUrl = resourceMetadataOf(first);
    expect(metadataUrl).toBe(`${s.url}/.well-known/oauth-protected-resource/sample`);

    // 2. The metadata document, through Envoy's /.well-known/ route; it must describe a resource
    // covering the URL called, and be the document RFC 9728 §3.1 derives from that resource.
    const doc = (await (await fetch(metadataUrl!)).json()) as { resource: string };
    expect(resourceCovers(doc.resource, api)).toBe(true);
    const resourceId = new URL(doc.resource);
    const rs = await oauth.processResourceDiscoveryResponse(resourceId, await oauth.resourceDiscoveryRequest(resourceId, { [oauth.allowInsecureRequests]: true }));
    expect(rs).toEqual({
      resource: `${s.url}/sample`,
      authorization_servers: [s.url],
      scopes_supported: ['sample.read', 'sample.write'],
      bearer_methods_supported: ['header'],
      resource_name: 'sample API',
    });

    // 3 + 4. The authorization server's RFC 8414 metadata, then RFC 7591 registration of a public
    // client (PKCE, no secret), authorized by an initial access token from the operator.
    const issuer = new URL(rs.authorization_servers![0]!);
    const config = await client.dynamicClientRegistration(
      issuer,
      { client_name: 'discovering client', redirect_uris: [CB], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none', scope: rs.scopes_supported!.join(' ') },
      client.None(),
      { algorithm: 'oauth2', initialAccessToken: admin, execute: [client.allowInsecureRequests] },
    );
    expect(config.serverMetadata().issuer).toBe(s.url);
    expect(config.clientMetadata().client_id).toBeTruthy();

    // 5. Authorization code + PKCE through the login and consent pages, the request pushed first
    // (RFC 9126) with a DPoP proof (RFC 9449 §10.1). RFC 8707 §2.1: the resource rides on the
    // authorization request too: checked before the login page, shown on the consent page, bound to the code.
    const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const authorizationUrl = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: CB,
      scope: 'sample.read',
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      resource: rs.resource,
    }, { DPoP });
    expect([...authorizationUrl.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const user = await createUser(s.gateway);
    const { location, pages } = await runAuthorization(new Browser(s.url), authorizationUrl.href, { username: user.username });
    expect(pages).toEqual(['login', 'consent']);
    const tokens = await client.authorizationCodeGrant(config, location, { pkceCodeVerifier: verifier, expectedState: state }, { resource: rs.resource }, { DPoP });
    // RFC 8707 / RFC 9068 §3: the token is for exactly the resource asked for, bound to the key.
    expect(tokens.token_type).toBe('dpop');
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: rs.resource, scope: 'sample.read', sub: user.userId, cnf: { jkt: expect.any(String) } });

    // 6. The API answers, each call with a fresh proof checked by ext_authz; the token alone is refused.
    const ok = await client.fetchProtectedResource(config, tokens.access_token, api, 'GET', undefined, undefined, { DPoP });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ path: '/sample/hello', sub: user.userId, client_id: config.clientMetadata().client_id, scope: 'sample.read' });

    // The token without its proof (RFC 9449 §7.1): refused, and the challenge still names the metadata.
    const stolen = await fetch(api, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(stolen.status).toBe(401);
    expect(resourceMetadataOf(stolen)).toBe(metadataUrl);

    // A refresh naming the same resource keeps the audience (RFC 8707 §2.2).
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!, { resource: rs.resource }, { DPoP });
    expect(decodeJwt(refreshed.access_token).aud).toBe(rs.resource);
    expect((await client.fetchProtectedResource(config, refreshed.access_token, api, 'GET', undefined, undefined, { DPoP })).status).toBe(200);

    // RFC 8707 §2.1: the pushed resource binds the code. Redeemed without `resource`, the token is
    // for the authorized resource; naming another registered API is invalid_target, and the code
    // survives that refusal.
    const verifier2 = client.randomPKCECodeVerifier();
    const state2 = client.randomState();
    const second = await client.buildAuthorizationUrlWithPAR(
      config,
      { redirect_uri: CB, scope: 'sample.read', state: state2, code_challenge: await client.calculatePKCECodeChallenge(verifier2), code_challenge_method: 'S256', resource: rs.resource },
      { DPoP },
    );
    const again = await runAuthorization(new Browser(s.url), second.href, { username: user.username });
    await expect(client.authorizationCodeGrant(config, again.location, { pkceCodeVerifier: verifier2, expectedState: state2 }, { resource: OTHER_API }, { DPoP })).rejects.toMatchObject({
      error: 'invalid_target',
    });
    const bound = await client.authorizationCodeGrant(config, again.location, { pkceCodeVerifier: verifier2, expectedState: state2 }, undefined, { DPoP });
    expect(decodeJwt(bound.access_token)).toMatchObject({ aud: rs.resource, scope: 'sample.read' });
    expect((await client.fetchProtectedResource(config, bound.access_token, api, 'GET', undefined, undefined, { DPoP })).status).toBe(200);

    // A scope the endpoint needs and the token lacks: 403 naming the scope and the metadata, in the DPoP challenge.
    const write = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${s.url}/sample/orders`), 'POST', undefined, undefined, { DPoP }).catch((err: unknown) => (err as { response: Response }).response);
    expect(write.status).toBe(403);
    expect(write.headers.get('www-authenticate')).toMatch(/^DPoP /);
    expect(write.headers.get('www-authenticate')).toContain('scope="sample.write"');
    expect(resourceMetadataOf(write)).toBe(metadataUrl);
  });

  it('token_for_other_audience_refused: ext_authz answers 401 invalid_token, with the metadata, to a token for another registered service', async () => {
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${s.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status, path).toBe(200);
      return (await res.json()) as { client: { client_id: string }; client_secret: string };
    };
    const c = await post('/v1/clients', {
      client_name: 'two-API caller',
      client_type: 'CLIENT_TYPE_CONFIDENTIAL',
      token_endpoint_auth_method: 'TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC',
      grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'],
      scopes: ['sample.read', 'other.read'],
    });
    const config = await client.discovery(new URL(s.url), c.client.client_id, undefined, client.ClientSecretBasic(c.client_secret), { algorithm: 'oauth2', execute: [client.allowInsecureRequests] });
    const api = new URL(`${s.url}/sample/hello`);

    const other = await client.clientCredentialsGrant(config, { resource: OTHER_API });
    expect(decodeJwt(other.access_token)).toMatchObject({ aud: OTHER_API, scope: 'other.read' });
    const refused = await fetch(api, { headers: { authorization: `Bearer ${other.access_token}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(resourceMetadataOf(refused)).toBe(`${s.url}/.well-known/oauth-protected-resource/sample`);

    // The same client, asking for the sample API: accepted.
    const sample = await client.clientCredentialsGrant(config, { resource: s.sampleApiAudience });
    expect(decodeJwt(sample.access_token)).toMatchObject({ aud: s.sampleApiAudience, scope: 'sample.read' });
    expect((await fetch(api, { headers: { authorization: `Bearer ${sample.access_token}` } })).status).toBe(200);

    // And a resource nobody registered is invalid_target at the token endpoint (RFC 8707 §2).
    await expect(client.clientCredentialsGrant(config, { resource: 'https://unregistered.authmesh.test' })).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('sets dpop_bound_access_tokens_required over REST (create, PATCH with update_mask), and the document through Envoy says so', async () => {
    const headers = { authorization: `Bearer ${admin}`, 'content-type': 'application/json' };
    const created = await fetch(`${s.url}/v1/services`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ service_id: 'dpop-api', display_name: 'DPoP API', audience: `${s.url}/dpop-api`, dpop_bound_access_tokens_required: true, endpoints: [{ method: 'GET', path: '/**', scope: 'dpop.read' }] }),
    });
    expect(created.status).toBe(200);
    expect(await created.json()).toMatchObject({ service: { service_id: 'dpop-api', dpop_bound_access_tokens_required: true } });
    const doc = await fetch(`${s.url}/.well-known/oauth-protected-resource/dpop-api`);
    expect(doc.status).toBe(200);
    expect(await doc.json()).toMatchObject({ resource: `${s.url}/dpop-api`, dpop_bound_access_tokens_required: true, scopes_supported: ['dpop.read'] });

    const patched = await fetch(`${s.url}/v1/services/dpop-api?update_mask=dpop_bound_access_tokens_required`, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({ dpop_bound_access_tokens_required: false, display_name: 'ignored' }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ service: { dpop_bound_access_tokens_required: false, display_name: 'DPoP API', etag: '2' } });
    // A value of the wrong type is refused and changes nothing.
    const bad = await fetch(`${s.url}/v1/services/dpop-api?update_mask=dpop_bound_access_tokens_required`, { method: 'PATCH', headers, body: JSON.stringify({ dpop_bound_access_tokens_required: 'yes' }) });
    expect(bad.status).toBe(400);
    const read = (await (await fetch(`${s.url}/v1/services/dpop-api`, { headers })).json()) as Record<string, unknown>;
    expect(read).toMatchObject({ service: { dpop_bound_access_tokens_required: false, etag: '2' } });
  });
});
