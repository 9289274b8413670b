// DPoP end to end through a real Envoy (RFC 9449), with server nonces on (AUTHMESH_DPOP_NONCE): a
// client built on oauth4webapi's DPoP support gets bound tokens (client_credentials, and the code
// flow with dpop_jkt) and calls the sample API behind jwt_authn + ext_authz, following the nonce
// challenges itself; each attack of issue 14 (a replayed proof, a proof for another URL, another
// method, another key, the bound token as Bearer, a spoofed scheme) is refused at the edge. A
// Python client (joserfc + requests, pinned in examples/oidc/python/requirements.txt) does
// client_credentials and a sample API call with DPoP.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { Browser, createUser, runAuthorization } from '../../gateway/routes/authorize-test-support.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { envoySkipReason, registerSampleApi, SAMPLE_API_AUDIENCE, startEnvoyStack, type EnvoyStack, type SampleApiClient } from '../support/envoy.js';

const skip = envoySkipReason();
if (skip) console.warn(`skipping the DPoP Envoy end-to-end suite: ${skip}`);

const CB = 'https://app.example.com/cb';
const repoRoot = join(import.meta.dirname, '..', '..');
const python = join(repoRoot, '.tools', 'venv', 'bin', 'python');
const pythonMissing = !existsSync(join(repoRoot, '.tools', 'venv', '.oidc-rp-requirements.sha256'));
const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe.skipIf(skip !== undefined)('DPoP through a real Envoy (RFC 9449)', () => {
  let s: EnvoyStack;
  let sample: SampleApiClient;
  let as: oauth.AuthorizationServer;
  let hello: string;

  beforeAll(async () => {
    s = await startEnvoyStack({ env: { AUTHMESH_DPOP_NONCE: 'true' } });
    sample = await registerSampleApi(s);
    const issuer = new URL(s.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
    hello = `${s.url}/sample/hello`;
  }, 180_000);

  afterAll(async () => {
    await s?.close();
  });

  /** One call, retried once when the server answers with a DPoP nonce challenge (RFC 9449 §8, §9). */
  async function withNonceRetry<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!oauth.isDPoPNonceError(err)) throw err;
      return call();
    }
  }

  /** The sample API through oauth4webapi: a fresh proof per call, nonce challenges followed. */
  const libraryCall = (token: string, DPoP: oauth.DPoPHandle, method = 'GET', url = hello) =>
    withNonceRetry(async () => {
      const res = await oauth.protectedResourceRequest(token, method, new URL(url), new Headers(), null, { DPoP, ...insecure });
      return res;
    });

  describe('a client built on oauth4webapi', () => {
    it('client_credentials: gets a DPoP token bound to its key and calls the sample API with fresh proofs', async () => {
      const c: oauth.Client = { client_id: sample.clientId };
      const keyPair = await generateKeyPair('ES256', { extractable: true });
      const DPoP = oauth.DPoP(c, keyPair);
      const tokens = await withNonceRetry(async () =>
        oauth.processClientCredentialsResponse(as, c, await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretBasic(sample.clientSecret), { scope: 'sample.read' }, { DPoP, ...insecure })),
      );
      expect(tokens.token_type).toBe('dpop');
      const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256');
      expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: SAMPLE_API_AUDIENCE, cnf: { jkt } });
      for (let i = 0; i < 3; i++) {
        const res = await libraryCall(tokens.access_token, DPoP);
        expect(res.status).toBe(200);
        // The sample API refuses requests still carrying Authorization or DPoP: Envoy removed both.
        expect(await res.json()).toMatchObject({ path: '/sample/hello', client_id: sample.clientId, scope: 'sample.read' });
      }
    });

    it('code flow with dpop_jkt: the code is bound to the key, the token calls the sample API', async () => {
      const created = await s.gateway.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: Client.fromPartial({
            clientName: 'DPoP e2e web app',
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
            redirectUris: [CB],
            grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
            scopes: ['sample.read'],
            audience: [SAMPLE_API_AUDIENCE],
            skipConsent: true,
            dpopBoundAccessTokens: true,
          }),
        }),
        { bearer: await s.gateway.bearer() },
      );
      const c: oauth.Client = { client_id: created.client!.clientId };
      const keyPair = await generateKeyPair('ES256', { extractable: true });
      const DPoP = oauth.DPoP(c, keyPair);
      const user = await createUser(s.gateway);
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: c.client_id,
        redirect_uri: CB,
        scope: 'sample.read',
        state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        // RFC 9449 §10: the code is bound to this key before the token request.
        dpop_jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256'),
      }).toString();
      const { location } = await runAuthorization(new Browser(s.url), url.href, { username: user.username });
      const params = oauth.validateAuthResponse(as, c, location, state);
      const tokens = await withNonceRetry(async () =>
        oauth.processAuthorizationCodeResponse(as, c, await oauth.authorizationCodeGrantRequest(as, c, oauth.ClientSecretBasic(created.clientSecret), params, CB, verifier, { DPoP, ...insecure })),
      );
      expect(tokens.token_type).toBe('dpop');
      const res = await libraryCall(tokens.access_token, DPoP);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ sub: user.userId, scope: 'sample.read' });
    });
  });

  describe('attacks refused at the edge', () => {
    let key: DpopKey;
    let token: string;
    let nonce: string;

    /** A DPoP-bound sample token for `key`, with hand-made proofs (following the nonce challenge). */
    async function boundToken(k: DpopKey): Promise<string> {
      const tokenUrl = `${s.url}/oauth2/token`;
      const send = async (n?: string) =>
        fetch(tokenUrl, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`${sample.clientId}:${sample.clientSecret}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
            dpop: await k.proof({ htu: tokenUrl, nonce: n }),
          },
          body: 'grant_type=client_credentials&scope=sample.read',
        });
      let res = await send();
      if (res.status === 400) res = await send(res.headers.get('dpop-nonce') ?? undefined);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { access_token: string };
      nonce = res.headers.get('dpop-nonce') ?? '';
      return body.access_token;
    }

    const call = (authorization: string, proof: string | undefined, init: { method?: string; url?: string; headers?: Record<string, string> } = {}) =>
      fetch(init.url ?? hello, { method: init.method ?? 'GET', headers: { authorization, ...(proof === undefined ? {} : { dpop: proof }), ...init.headers } });

    beforeAll(async () => {
      key = await dpopKey('ES256');
      token = await boundToken(key);
    });

    it('without the nonce: 401 use_dpop_nonce with DPoP-Nonce; with it: 200', async () => {
      const without = await call(`DPoP ${token}`, await key.proof({ htm: 'GET', htu: hello, accessToken: token }));
      expect(without.status).toBe(401);
      expect(without.headers.get('www-authenticate')).toMatch(/^DPoP error="use_dpop_nonce"/);
      expect(without.headers.get('dpop-nonce')).toBe(nonce);
      const ok = await call(`DPoP ${token}`, await key.proof({ htm: 'GET', htu: hello, accessToken: token, nonce }));
      expect(ok.status).toBe(200);
    });

    it('a replayed proof is refused (RFC 9449 §11.1)', async () => {
      const proof = await key.proof({ htm: 'GET', htu: hello, accessToken: token, nonce });
      expect((await call(`DPoP ${token}`, proof)).status).toBe(200);
      const replay = await call(`DPoP ${token}`, proof);
      expect(replay.status).toBe(401);
      expect(replay.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof", error_description="[^"]*already used[^"]*", algs="/);
    });

    it('a proof for another URL is refused', async () => {
      const res = await call(`DPoP ${token}`, await key.proof({ htm: 'GET', htu: `${s.url}/sample/whoami`, accessToken: token, nonce }));
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error_description: string }).error_description).toContain('htu does not match');
    });

    it('a proof for another method is refused', async () => {
      const res = await call(`DPoP ${token}`, await key.proof({ htm: 'POST', htu: hello, accessToken: token, nonce }));
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error_description: string }).error_description).toContain('htm does not match');
    });

    it('a proof by another key is refused', async () => {
      const thief = await dpopKey('ES256');
      const res = await call(`DPoP ${token}`, await thief.proof({ htm: 'GET', htu: hello, accessToken: token, nonce }));
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_dpop_proof');
    });

    it('the bound token sent as Bearer is refused, with both challenges', async () => {
      const res = await call(`Bearer ${token}`, undefined);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="invalid_token".*, DPoP algs="/);
    });

    it('a route requiring DPoP (/sample/dpop/, context_extensions dpop: required) refuses an unbound Bearer token and accepts the bound token with a proof', async () => {
      const url = `${s.url}/sample/dpop/hello`;
      const unbound = await fetch(`${s.url}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${sample.clientId}:${sample.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=sample.read',
      });
      const bearerToken = ((await unbound.json()) as { access_token: string }).access_token;
      expect((await call(`Bearer ${bearerToken}`, undefined)).status).toBe(200);
      const refused = await call(`Bearer ${bearerToken}`, undefined, { url });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token", error_description="[^"]*", algs="[^"]+"$/);
      const ok = await call(`DPoP ${token}`, await key.proof({ htm: 'GET', htu: url, accessToken: token, nonce }), { url });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ path: '/sample/dpop/hello' });
    });

    it('a client cannot choose the scheme the proof is checked against (x-forwarded-proto is the edge’s)', async () => {
      const https = hello.replace(/^http:/, 'https:');
      const res = await call(`DPoP ${token}`, await key.proof({ htm: 'GET', htu: https, accessToken: token, nonce }), { headers: { 'x-forwarded-proto': 'https' } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error_description: string }).error_description).toContain('htu does not match');
    });
  });

  it.skipIf(pythonMissing)('a Python client (joserfc + requests) does client_credentials and a sample API call with DPoP', async () => {
    // Asynchronously: the gateway answering the client runs in this process.
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        python,
        [join(repoRoot, 'examples', 'dpop', 'python', 'dpop_client.py')],
        { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', AUTHMESH_ISSUER: s.url, CLIENT_ID: sample.clientId, CLIENT_SECRET: sample.clientSecret, API_URL: hello, SCOPE: 'sample.read' }, encoding: 'utf8', timeout: 60_000 },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      );
    });
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(out).toMatchObject({ token_type: 'DPoP', api_status: 200, api: { path: '/sample/hello', client_id: sample.clientId }, replay_status: 401 });
  }, 90_000);
});
