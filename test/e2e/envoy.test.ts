// Every path through the real Envoy edge (envoy/envoy.yaml, rendered as scripts/envoy.sh does):
// OAuth with real client libraries, the REST admin surface through grpc_json_transcoder, native
// gRPC and Connect, and the protected sample API behind jwt_authn + ext_authz. The issuer is the
// Envoy URL: clients never see the gateway or the services directly.
import { generateKeyPair, SignJWT, decodeProtectedHeader, decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod, ClientServiceService } from '../../gen/ts/authmesh/client/v1/client.js';
import { TokenRequest, TokenServiceService } from '../../gen/ts/authmesh/token/v1/token.js';
import { buildAccessTokenClaims } from '../../services/core/oauth/index.js';
import { createRpcClient } from '../../services/core/rpc/index.js';
import { SERVICE_FQN } from '../../services/mesh-deps.js';
import { Browser, createUser, runAuthorization } from '../../gateway/routes/authorize-test-support.js';
import { CONSOLE_CLIENT_ID } from '../../services/client/index.js';
import { repoRoot } from '../../services/core/rpc/paths.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { envoySkipReason, registerSampleApi, SAMPLE_API_AUDIENCE, startEnvoyStack, type EnvoyStack, type SampleApiClient } from '../support/envoy.js';

const skip = envoySkipReason();
if (skip) console.warn(`skipping the Envoy end-to-end suite: ${skip}`);

const CB = 'https://app.example.com/cb';

describe.skipIf(skip !== undefined)('authmesh behind a real Envoy', () => {
  let s: EnvoyStack;
  let sample: SampleApiClient;
  let as: oauth.AuthorizationServer;
  const seenTokens: string[] = [];

  const sampleToken = async (scope: string) => {
    const res = await fetch(`${s.url}/oauth2/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${sample.clientId}:${sample.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
    expect(res.status).toBe(200);
    const token = ((await res.json()) as { access_token: string }).access_token;
    seenTokens.push(token);
    return token;
  };
  const callSample = (path: string, token?: string, init: RequestInit = {}) =>
    fetch(`${s.url}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string> | undefined) } });

  beforeAll(async () => {
    s = await startEnvoyStack();
    sample = await registerSampleApi(s);
    const issuer = new URL(s.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
  }, 180_000);

  afterAll(async () => {
    await s?.close();
  });

  describe('OAuth endpoints → gateway', () => {
    it('serves RFC 8414 metadata naming the Envoy URL, and client_credentials to openid-client', async () => {
      expect(as.issuer).toBe(s.url);
      expect(as.token_endpoint).toBe(`${s.url}/oauth2/token`);
      const config = await client.discovery(new URL(s.url), sample.clientId, undefined, client.ClientSecretBasic(sample.clientSecret), {
        algorithm: 'oauth2',
        execute: [client.allowInsecureRequests],
      });
      const tokens = await client.clientCredentialsGrant(config, { scope: 'sample.read' });
      seenTokens.push(tokens.access_token);
      expect(tokens.token_type.toLowerCase()).toBe('bearer');
      expect(decodeJwt(tokens.access_token)).toMatchObject({ iss: s.url, aud: SAMPLE_API_AUDIENCE, scope: 'sample.read', client_id: sample.clientId });
    });

    it('runs authorization code + PKCE with oauth4webapi: login form, consent, code, token, refresh, introspection, revocation', async () => {
      const created = await s.gateway.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: Client.fromPartial({
            clientName: 'Envoy e2e web app',
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
            redirectUris: [CB],
            grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_REFRESH_TOKEN],
            scopes: ['read', 'write'],
          }),
        }),
        { bearer: await s.gateway.bearer() },
      );
      const c: oauth.Client = { client_id: created.client!.clientId };
      const auth = oauth.ClientSecretBasic(created.clientSecret);
      const user = await createUser(s.gateway);
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: c.client_id,
        redirect_uri: CB,
        scope: 'read',
        state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString();
      expect(url.origin).toBe(s.url);

      const { location, pages } = await runAuthorization(new Browser(s.url), url.href, { username: user.username });
      expect(pages).toEqual(['login', 'consent']);
      const params = oauth.validateAuthResponse(as, c, location, state);
      const opts = { [oauth.allowInsecureRequests]: true };
      const tokens = await oauth.processAuthorizationCodeResponse(as, c, await oauth.authorizationCodeGrantRequest(as, c, auth, params, CB, verifier, opts));
      expect(tokens.scope).toBe('read');
      expect(tokens.refresh_token).toBeTruthy();
      seenTokens.push(tokens.access_token, tokens.refresh_token!);

      const refreshed = await oauth.processRefreshTokenResponse(as, c, await oauth.refreshTokenGrantRequest(as, c, auth, tokens.refresh_token!, opts));
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
      seenTokens.push(refreshed.access_token, refreshed.refresh_token!);

      const active = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth, refreshed.access_token, opts));
      expect(active).toMatchObject({ active: true, sub: user.userId, client_id: c.client_id, scope: 'read' });
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, auth, refreshed.access_token, opts));
      const revoked = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth, refreshed.access_token, opts));
      expect(revoked.active).toBe(false);
    });

    it('answers token endpoint errors exactly as RFC 6749 §5.2 through Envoy', async () => {
      const res = await fetch(`${s.url}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${sample.clientId}:wrong`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    });

    it('pushes an authorization request through Envoy with openid-client (RFC 9126) and completes it; the request_uri is single use', async () => {
      const created = await s.gateway.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: Client.fromPartial({
            clientName: 'Envoy e2e PAR app',
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
            redirectUris: [CB],
            grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
            scopes: ['read'],
            requirePushedAuthorizationRequests: true,
          }),
        }),
        { bearer: await s.gateway.bearer() },
      );
      const config = await client.discovery(new URL(s.url), created.client!.clientId, undefined, client.ClientSecretBasic(created.clientSecret), {
        algorithm: 'oauth2',
        execute: [client.allowInsecureRequests],
      });
      expect(config.serverMetadata().pushed_authorization_request_endpoint).toBe(`${s.url}/oauth2/par`);
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = await client.buildAuthorizationUrlWithPAR(config, { redirect_uri: CB, scope: 'read', state, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      expect(url.origin).toBe(s.url);
      const user = await createUser(s.gateway);
      const { location } = await runAuthorization(new Browser(s.url), url.href, { username: user.username });
      const tokens = await client.authorizationCodeGrant(config, location, { pkceCodeVerifier: verifier, expectedState: state });
      seenTokens.push(tokens.access_token);
      expect(tokens.scope).toBe('read');
      const again = await new Browser(s.url).get(url.href);
      expect(again.status).toBe(400);
      expect(again.headers.get('location')).toBeNull();
    });
  });

  describe('REST admin surface → grpc_json_transcoder → services', () => {
    it('POST /v1/clients with JSON creates a client (proto field names), GET reads it back', async () => {
      const admin = await s.gateway.bearer();
      const res = await fetch(`${s.url}/v1/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'made over REST', client_type: 'CLIENT_TYPE_CONFIDENTIAL', grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'], scopes: ['read'] }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const body = (await res.json()) as { client: Record<string, unknown>; client_secret: string };
      expect(body.client).toMatchObject({ client_name: 'made over REST', client_type: 'CLIENT_TYPE_CONFIDENTIAL', grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'], scopes: ['read'] });
      expect(body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const id = body.client.client_id as string;
      const got = await fetch(`${s.url}/v1/clients/${id}`, { headers: { authorization: `Bearer ${admin}` } });
      expect(got.status).toBe(200);
      expect(((await got.json()) as { client: { client_id: string } }).client.client_id).toBe(id);
      // The service stored it: the same client over gRPC, straight from the mesh.
      const direct = await s.gateway.anon.client.getClient({ clientId: id }, { bearer: admin });
      expect(direct.client?.clientName).toBe('made over REST');
    });

    it('GET /v1/auditEvents lists the audit trail with query filters (authmesh.read), newest first', async () => {
      const admin = await s.gateway.bearer();
      const created = await fetch(`${s.url}/v1/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'audited over REST', client_type: 'CLIENT_TYPE_CONFIDENTIAL', grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'] }),
      });
      const { client, client_secret } = (await created.json()) as { client: { client_id: string }; client_secret: string };
      await s.gateway.mesh.flushAudit();
      const reader = await s.gateway.bearer({ scope: ['authmesh.read'] });
      const res = await fetch(`${s.url}/v1/auditEvents?client_id=${client.client_id}&type=client.&page_size=10`, { headers: { authorization: `Bearer ${reader}` } });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect((JSON.parse(text) as { events: unknown[] }).events).toMatchObject([{ type: 'client.created', client_id: client.client_id }]);
      expect(text).not.toContain(client_secret);
      const bad = await fetch(`${s.url}/v1/auditEvents?page_size=501`, { headers: { authorization: `Bearer ${reader}` } });
      expect(bad.status).toBe(400);
      expect((await fetch(`${s.url}/v1/auditEvents`)).status).toBe(401);
    });

    it('GET /v1/activityRates answers through Envoy (authmesh.read); no Prometheus configured here: that state, and a caller-chosen query is refused', async () => {
      const reader = await s.gateway.bearer({ scope: ['authmesh.read'] });
      const res = await fetch(`${s.url}/v1/activityRates`, { headers: { authorization: `Bearer ${reader}` } });
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect(JSON.parse(text)).toMatchObject({ state: 'ACTIVITY_RATES_STATE_NOT_CONFIGURED', window_seconds: 300 });
      // rates_ssrf_no_caller_url_or_query, over REST: the request has no fields to carry one.
      const evil = await fetch(`${s.url}/v1/activityRates?query=up&url=http://169.254.169.254/`, { headers: { authorization: `Bearer ${reader}` } });
      expect(evil.status).toBe(400);
      expect((await fetch(`${s.url}/v1/activityRates`)).status).toBe(401);
    });

    it('rejects unknown methods and query parameters, and leaves authorization to the services', async () => {
      const admin = await s.gateway.bearer();
      const unknownParam = await fetch(`${s.url}/v1/clients?not_a_field=1`, { headers: { authorization: `Bearer ${admin}` } });
      expect(unknownParam.status).toBe(400);
      const unknownMethod = await fetch(`${s.url}/v1/nothing-here`, { headers: { authorization: `Bearer ${admin}` } });
      expect(unknownMethod.status).toBe(404);
      const anonymous = await fetch(`${s.url}/v1/clients`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ code: 16, details: [{ reason: 'INVALID_TOKEN', domain: 'authmesh' }] });
      // RFC 6750 §3 / RFC 9110 §15.5.2: the transcoded 401 carries the service's challenge, without error code when no token was sent.
      expect(anonymous.headers.get('www-authenticate')).toBe(`Bearer realm="${s.gateway.config.issuer}"`);
      const forged = await fetch(`${s.url}/v1/clients`, { headers: { authorization: `Bearer ${admin.slice(0, -4)}AAAA` } });
      expect(forged.status).toBe(401);
      expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
      const reader = await s.gateway.bearer({ scope: ['authmesh.read'] });
      const forbidden = await fetch(`${s.url}/v1/clients`, { method: 'POST', headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' }, body: '{"client_name":"x"}' });
      expect(forbidden.status).toBe(403);
      expect(await forbidden.json()).toMatchObject({ code: 7, details: [{ reason: 'INSUFFICIENT_SCOPE' }] });
      expect(forbidden.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="insufficient_scope", error_description="[^"]*", scope="authmesh.admin"$/);
    });
    it('refuses unknown JSON fields and enum values over REST, naming them, and creates nothing', async () => {
      const admin = await s.gateway.bearer();
      const name = `rest-unknown-${Date.now().toString(36)}`;
      const base = { client_name: name, client_type: 'CLIENT_TYPE_CONFIDENTIAL', grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'], scopes: ['read'] };
      const cases: [unknown, string][] = [
        [{ ...base, frontchannel_logout_uri: 'https://app.example/fcl' }, 'frontchannel_logout_uri'],
        [{ ...base, grant_types: ['GRANT_TYPE_IMPLICIT'] }, 'GRANT_TYPE_IMPLICIT'],
        [{ ...base, grant_types: [2, 1000] }, 'grant_types[1]'], // an enum number: the transcoder passes it, the service refuses it
      ];
      for (const [body, named] of cases) {
        const res = await fetch(`${s.url}/v1/clients`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const text = await res.text();
        expect(res.status, text).toBe(400);
        expect(text).toContain(named);
      }
      // body "*": the whole request message. An unknown field must not let the call through
      // (the client does not exist: through, it would be a 404).
      const rotate = await fetch(`${s.url}/v1/clients/no-such-client:rotateSecret`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ previous_secret_grace_seconds: 0, revoke_everything: true }) });
      expect(rotate.status).toBe(400);
      expect(await rotate.text()).toContain('revoke_everything');
      const list = await fetch(`${s.url}/v1/clients?page_size=1000`, { headers: { authorization: `Bearer ${admin}` } });
      const names = ((await list.json()) as { clients: { client_name: string }[] }).clients.map((c) => c.client_name);
      expect(names).not.toContain(name);
    });
  });

  describe('native gRPC and Connect', () => {
    it('routes native gRPC (h2c) to the service by package; admin and internal RPCs keep their own checks', async () => {
      const viaEnvoy = `127.0.0.1:${s.envoyPort}`;
      const clients = createRpcClient(ClientServiceService, SERVICE_FQN.client, viaEnvoy);
      const tokens = createRpcClient(TokenServiceService, SERVICE_FQN.token, viaEnvoy);
      try {
        const admin = await s.gateway.bearer();
        const got = await clients.getClient({ clientId: sample.clientId }, { bearer: admin });
        expect(got.client?.audience).toEqual([SAMPLE_API_AUDIENCE]);
        await expect(clients.getClient({ clientId: sample.clientId })).rejects.toMatchObject({ code: 'invalid_token' });
        await expect(
          clients.authenticateClient({ credentials: { credential: { $case: 'clientId', value: sample.clientId } } } as never, { bearer: await s.gateway.bearer({ scope: ['sample.read'] }) }),
        ).rejects.toMatchObject({ code: 'access_denied' });
        const issued = await tokens.token(
          TokenRequest.fromPartial({
            client: { credential: { $case: 'clientSecret', value: { clientId: sample.clientId, clientSecret: sample.clientSecret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } },
            grant: { $case: 'clientCredentials', value: { scope: 'sample.read', resource: [] } },
          }),
        );
        seenTokens.push(issued.accessToken);
        expect(decodeJwt(issued.accessToken)).toMatchObject({ iss: s.url, aud: SAMPLE_API_AUDIENCE });
      } finally {
        clients.close();
        tokens.close();
      }
    });

    it('sends Connect (JSON) calls on the same paths to the gateway bridge', async () => {
      const res = await fetch(`${s.url}/authmesh.client.v1.ClientService/GetClient`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await s.gateway.bearer()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ clientId: sample.clientId }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { client: { clientId: string } }).client.clientId).toBe(sample.clientId);
    });

    it('does not expose ext_authz Check or anything unrouted, and unrouted paths fail closed', async () => {
      const check = await fetch(`${s.url}/envoy.service.auth.v3.Authorization/Check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      // Unrouted paths stay behind ext_authz (fail closed): no token, no answer about what exists.
      expect(check.status).toBe(401);
      expect((await fetch(`${s.url}/admin`)).status).toBe(401);
      const routeless = await fetch(`${s.url}/envoy.service.auth.v3.Authorization/Check`, { method: 'POST', headers: { authorization: `Bearer ${await s.gateway.bearer()}`, 'content-type': 'application/json' }, body: '{}' });
      expect(routeless.status).toBe(404);
    });
  });

  describe('admin console → gateway', () => {
    it('serves the console page and its bundle through Envoy (GET only) under its CSP; its client redirects to the Envoy URL', async () => {
      execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build-console.mjs'), '--quiet'], { cwd: repoRoot, stdio: 'inherit' });
      const page = await fetch(`${s.url}/console/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      const script = /src="(\/console\/[^"]+\.js)"/.exec(await page.text())![1]!;
      const bundle = await fetch(`${s.url}${script}`);
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get('cache-control')).toContain('immutable');
      // The icon browsers ask of every page: routed to the gateway, not the edge's default.
      const icon = await fetch(`${s.url}/favicon.ico`);
      expect(icon.status).toBe(200);
      expect(icon.headers.get('content-type')).toBe('image/svg+xml');
      // GET and HEAD reach the gateway (a HEAD was a 401 Bearer challenge: review 9 F5); anything
      // else is the edge's fail-closed default.
      for (const path of ['/favicon.ico', '/console/']) expect((await fetch(`${s.url}${path}`, { method: 'HEAD' })).status, `HEAD ${path}`).toBe(200);
      expect((await fetch(`${s.url}/console/`, { method: 'POST', body: 'x' })).status).toBe(401);
      const { client } = await s.gateway.anon.client.getClient({ clientId: CONSOLE_CLIENT_ID }, { bearer: await s.gateway.bearer() });
      expect(client?.redirectUris).toEqual([`${s.url}/console/callback`]);
    });
  });

  describe('protected upstream: jwt_authn + ext_authz → sample API', () => {
    it('answers 200 with the identity headers for a valid token with the right scope, without the token', async () => {
      const token = await sampleToken('sample.read');
      // Identity headers a caller sends are dropped at the edge, not trusted.
      const res = await callSample('/sample/hello', token, { headers: { 'x-authmesh-sub': 'mallory', 'x-authmesh-scope': 'sample.admin' } });
      expect(res.status).toBe(200);
      // The sample API refuses any request that still carries Authorization: a 200 proves Envoy removed it.
      expect(await res.json()).toEqual({ method: 'GET', path: '/sample/hello', sub: sample.clientId, client_id: sample.clientId, scope: 'sample.read', act: null });
      const any = await callSample('/sample/whoami', token);
      expect(any.status).toBe(200);
    });

    it('answers 401 with WWW-Authenticate for a missing, expired, forged or foreign token', async () => {
      const missing = await callSample('/sample/hello');
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer realm="/);

      const now = Math.floor(Date.now() / 1000);
      const claims = buildAccessTokenClaims({ issuer: s.url, subject: sample.clientId, audience: SAMPLE_API_AUDIENCE, clientId: sample.clientId, scope: ['sample.read'], ttlSeconds: 300, now: new Date((now - 900) * 1000) });
      const expired = (await s.gateway.peers.key.signJwt({ claims: { ...claims }, typ: 'at+jwt' })).jwt;
      expect(decodeJwt(expired).exp).toBeLessThan(now);
      const exp = await callSample('/sample/hello', expired);
      expect(exp.status).toBe(401);
      expect(exp.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);

      // Same header (kid, alg, typ) and claims as a real token, signed by a key that is not ours.
      const real = await sampleToken('sample.read');
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT(decodeJwt(real)).setProtectedHeader(decodeProtectedHeader(real) as never).sign(privateKey);
      const f = await callSample('/sample/hello', forged);
      expect(f.status).toBe(401);
      expect(f.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);

      // A real token for another audience (the admin API's) is not accepted by this API.
      const foreign = await callSample('/sample/hello', await s.gateway.bearer({ scope: ['sample.read'] }));
      expect(foreign.status).toBe(401);
      expect(foreign.headers.get('www-authenticate')).toMatch(/^Bearer /);

      // A token only in the query string is ignored (jwt_authn reads the Authorization header only).
      const query = await fetch(`${s.url}/sample/hello?access_token=${real}`);
      expect(query.status).toBe(401);
    });

    it('answers 403 insufficient_scope for a missing scope, from the registry and from the route', async () => {
      const token = await sampleToken('sample.read');
      const write = await callSample('/sample/orders', token, { method: 'POST' });
      expect(write.status).toBe(403);
      expect(write.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="sample\.write"/);
      expect(await write.json()).toMatchObject({ error: 'insufficient_scope' });
      // /sample/admin/ needs sample.admin by Envoy's per-route context_extensions, on top of the registry.
      const adminRoute = await callSample('/sample/admin/settings', token);
      expect(adminRoute.status).toBe(403);
      expect(adminRoute.headers.get('www-authenticate')).toMatch(/scope="sample\.admin"/);
      const both = await sampleToken('sample.read sample.admin');
      expect((await callSample('/sample/admin/settings', both)).status).toBe(200);
      const writer = await sampleToken('sample.write');
      expect((await callSample('/sample/orders', writer, { method: 'POST' })).status).toBe(200);
      // No endpoint in the registry: closed.
      expect((await callSample('/sample/unlisted', token)).status).toBe(403);
    });

    it('denies a revoked token within a second of revocation', async () => {
      const token = await sampleToken('sample.read');
      expect((await callSample('/sample/hello', token)).status).toBe(200);
      const c: oauth.Client = { client_id: sample.clientId };
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, oauth.ClientSecretBasic(sample.clientSecret), token, { [oauth.allowInsecureRequests]: true }));
      // Stronger than "within a second", and independent of how loaded the machine is: the
      // revocation is in the grid before it is acknowledged and ext_authz reads the grid on every
      // Check (nothing caches a decision), so the very first call after the acknowledgement fails.
      const res = await callSample('/sample/hello', token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    });
  });

  describe('operations', () => {
    it('keeps the admin interface on loopback and writes access logs without credentials or tokens', async () => {
      expect(s.renderedConfig).toMatch(/^admin:\n(?:\s+#.*\n)*\s+address:\n\s+socket_address: \{ address: 127\.0\.0\.1,/m);
      // The access logger flushes on a timer (--file-flush-interval-msec 250 in the harness): wait
      // (bounded) until the lines of the calls above are there.
      const { readFileSync } = await import('node:fs');
      const read = () => {
        const text = readFileSync(s.accessLogPath, 'utf8');
        // The last line may be half-written between two flushes.
        const complete = text.slice(0, text.lastIndexOf('\n') + 1);
        return { log: complete, lines: complete.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
      };
      let { log, lines } = read();
      for (let i = 0; i < 50 && !(lines.length > 20 && lines.some((l) => l.path === '/sample/hello' && l.status === 200)); i++) {
        await new Promise((r) => setTimeout(r, 100));
        ({ log, lines } = read());
      }
      expect(lines.length, log).toBeGreaterThan(20);
      expect(lines.some((l) => l.path === '/sample/hello' && l.status === 200 && l.subject === sample.clientId)).toBe(true);
      expect(lines.some((l) => l.path === '/oauth2/token')).toBe(true);
      expect(log).not.toMatch(/bearer |basic |cookie|access_token=|eyJ/i);
      expect(log).not.toContain('?');
      for (const t of seenTokens) expect(log).not.toContain(t);
      expect(log).not.toContain(sample.clientSecret);
    });
  });
});
