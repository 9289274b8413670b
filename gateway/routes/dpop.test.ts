// DPoP at the token endpoint (RFC 9449 §5) through the real gateway: proofs signed by jose in the
// test (valid, replayed, wrong htu, wrong htm, stale), oauth4webapi's DPoP support for the code
// flow, the per-client policy (§5.2), the server-nonce flow (§8) and introspection's cnf (§6.2).
import { createRemoteJWKSet, decodeJwt, generateKeyPair, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { TokenRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { AuthorizationService, CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { buildAccessTokenClaims } from '../../services/core/oauth/index.js';
import { createRpcClient } from '../../services/core/rpc/index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { dpopKey, type DpopKey } from '../../test/support/dpop.js';
import { authorizationRedirect, basicAuth, createFixtures, ORDERS, postForm, REDIRECT, type Fixtures } from './route-test-support.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const now = () => Math.floor(Date.now() / 1000);

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe('DPoP at the token endpoint (RFC 9449 §5)', () => {
  let t: TestGateway;
  let f: Fixtures;
  let tokenUrl: string;
  let key: DpopKey;
  let required: { id: string; secret: string };

  beforeAll(async () => {
    t = await startTestGateway();
    f = await createFixtures(t);
    tokenUrl = `${t.baseUrl}/oauth2/token`;
    key = await dpopKey('ES256');
    const res = await t.anon.client.createClient(
      CreateClientRequest.fromPartial({
        client: Client.fromPartial({
          clientName: 'dpop-only',
          clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
          grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
          scopes: ['read'],
          dpopBoundAccessTokens: true,
        }),
      }),
      { bearer: await t.bearer() },
    );
    required = { id: res.client!.clientId, secret: res.clientSecret };
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const clientCredentials = (proof: string | undefined, client = f.basic) =>
    postForm(tokenUrl, 'grant_type=client_credentials&scope=read', { authorization: basicAuth(client.id, client.secret), ...(proof === undefined ? {} : { dpop: proof }) });

  async function verify(jwt: string) {
    const jwks = createRemoteJWKSet(new URL(`${t.baseUrl}/.well-known/jwks.json`));
    return (await jwtVerify(jwt, jwks, { issuer: t.baseUrl, typ: 'at+jwt' })).payload;
  }

  it('binds the access token to the proof key: token_type DPoP and cnf.jkt (RFC 9449 §5, §6.1)', async () => {
    const res = await clientCredentials(await key.proof({ htu: tokenUrl }));
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.token_type).toBe('DPoP');
    expect(await verify(body.access_token as string)).toMatchObject({ cnf: { jkt: key.jkt } });
  });

  it('introspection reports cnf.jkt and token_type DPoP (RFC 9449 §6.2)', async () => {
    const token = (await json(await clientCredentials(await key.proof({ htu: tokenUrl })))).access_token as string;
    const res = await postForm(`${t.baseUrl}/oauth2/introspect`, new URLSearchParams({ token }).toString(), { authorization: basicAuth(f.basic.id, f.basic.secret) });
    expect(await json(res)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.jkt } });
  });

  it('keeps issuing Bearer tokens without cnf when no proof is sent and the client does not require DPoP', async () => {
    const body = await json(await clientCredentials(undefined));
    expect(body.token_type).toBe('Bearer');
    expect(decodeJwt(body.access_token as string).cnf).toBeUndefined();
  });

  it('refuses a replayed proof (RFC 9449 §11.1)', async () => {
    const proof = await key.proof({ htu: tokenUrl });
    expect((await clientCredentials(proof)).status).toBe(200);
    const replay = await clientCredentials(proof);
    expect(replay.status).toBe(400);
    expect(await json(replay)).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringContaining('already used') });
  });

  it.each([
    ['a proof for another URI (htu)', { htu: 'https://elsewhere.example.com/oauth2/token' }, 'htu does not match'],
    ['a proof for another method (htm)', { htm: 'GET' }, 'htm does not match'],
    ['a stale proof (iat)', { iat: now() - 600 }, 'iat is too old'],
    ['a proof from the future (iat)', { iat: now() + 600 }, 'iat is in the future'],
  ])('refuses %s with 400 invalid_dpop_proof and issues nothing', async (_name, change, why) => {
    const res = await clientCredentials(await key.proof({ htu: tokenUrl, ...change }));
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error: 'invalid_dpop_proof', error_description: expect.stringContaining(why) });
  });

  it('refuses, over gRPC, a proof made for a resource request even when the caller names its htm/htu (RFC 9449 §4.3 steps 8-9)', async () => {
    const api = 'https://api.example.com/orders';
    const proof = await key.proof({ htu: api, htm: 'GET' });
    const err = await t.peers.token
      .token(TokenRequest.fromPartial({ client: { credential: { $case: 'clientSecret', value: { clientId: f.basic.id, clientSecret: f.basic.secret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } }, grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } }, dpop: { proof, htm: 'GET', htu: api } }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'invalid_dpop_proof' });
    // The same call naming the token endpoint, as the gateway does, is accepted.
    const ok = await t.peers.token.token(
      TokenRequest.fromPartial({ client: { credential: { $case: 'clientSecret', value: { clientId: f.basic.id, clientSecret: f.basic.secret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } }, grant: { $case: 'clientCredentials', value: { scope: 'read', resource: [] } }, dpop: { proof: await key.proof({ htu: tokenUrl }), htm: 'POST', htu: tokenUrl } }),
    );
    expect(ok.tokenType).toBe('DPoP');
  });

  it('exchanges its own DPoP-bound token only with a proof by the bound key (RFC 9449 §7, RFC 8693 §5)', async () => {
    const subjectToken = (await json(await clientCredentials(await key.proof({ htu: tokenUrl })))).access_token as string;
    const exchange = (proof: string | undefined) =>
      postForm(tokenUrl, new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subjectToken, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', audience: ORDERS }).toString(), {
        authorization: basicAuth(f.basic.id, f.basic.secret),
        ...(proof === undefined ? {} : { dpop: proof }),
      });
    const unproven = await exchange(undefined);
    expect(unproven.status).toBe(400);
    expect(await json(unproven)).toMatchObject({ error: 'invalid_dpop_proof' });
    const otherKey = await dpopKey('ES256');
    const wrongKey = await exchange(await otherKey.proof({ htu: tokenUrl }));
    expect(wrongKey.status).toBe(400);
    expect(await json(wrongKey)).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('bound to another DPoP key') });
    const proven = await exchange(await key.proof({ htu: tokenUrl }));
    expect(await json(proven)).toMatchObject({ token_type: 'DPoP', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  });

  it('refuses two DPoP headers (RFC 9449 §4.3 step 1)', async () => {
    const a = await key.proof({ htu: tokenUrl });
    const b = await key.proof({ htu: tokenUrl });
    const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(f.basic.id, f.basic.secret) });
    headers.append('dpop', a);
    headers.append('dpop', b);
    const res = await fetch(tokenUrl, { method: 'POST', headers, body: 'grant_type=client_credentials' });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe('invalid_dpop_proof');
  });

  it('refuses a token request without proof from a client registered with dpop_bound_access_tokens (RFC 9449 §5.2)', async () => {
    const res = await clientCredentials(undefined, required);
    expect(res.status).toBe(400);
    expect((await json(res)).error).toBe('invalid_dpop_proof');
    const ok = await clientCredentials(await key.proof({ htu: tokenUrl }), required);
    expect((await json(ok)).token_type).toBe('DPoP');
  });

  describe('a DPoP-bound token presented as Bearer is refused (RFC 9449 §7.1)', () => {
    const adminToken = async (dpopJkt: string | undefined) => {
      const claims = buildAccessTokenClaims({ issuer: t.config.issuer, subject: 'test-admin', audience: t.config.issuer, clientId: 'test-admin', scope: ['authmesh.admin'], ttlSeconds: 300, now: new Date(), dpopJkt });
      return (await t.peers.key.signJwt({ claims: { ...claims }, typ: 'at+jwt' })).jwt;
    };

    it('by the admin API', async () => {
      await expect(t.anon.client.listClients({ pageSize: 1, pageToken: '' }, { bearer: await adminToken(undefined) })).resolves.toBeDefined();
      const err = await t.anon.client.listClients({ pageSize: 1, pageToken: '' }, { bearer: await adminToken(key.jkt) }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'invalid_token' });
    });

    it('by ext_authz Check', async () => {
      const authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', `127.0.0.1:${t.mesh.port}`);
      try {
        const check = (token: string) =>
          authz.check(CheckRequest.fromPartial({ attributes: { request: { http: { method: 'GET', path: '/x', host: 'api.example', headers: { authorization: `Bearer ${token}` } } } } }));
        const body = await json(await clientCredentials(await key.proof({ htu: tokenUrl })));
        const denied = await check(body.access_token as string);
        expect(denied.httpResponse?.$case).toBe('deniedResponse');
        const bearer = await json(await clientCredentials(undefined));
        expect((await check(bearer.access_token as string)).httpResponse?.$case).toBe('okResponse');
      } finally {
        authz.close();
      }
    });
  });

  it('advertises dpop_signing_alg_values_supported (RFC 9449 §5.1)', async () => {
    const meta = await json(await fetch(`${t.baseUrl}/.well-known/oauth-authorization-server`));
    expect(meta.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256', 'EdDSA', 'RS256']));
    expect(meta.dpop_signing_alg_values_supported).not.toContain('none');
  });

  describe("a public client's refresh token is bound to its DPoP key (RFC 9449 §5)", () => {
    async function publicTokens(k: DpopKey) {
      const verifier = 'v'.repeat(43);
      const redirect = await authorizationRedirect(t, f.pub, f.userId, 'read', verifier);
      const body = new URLSearchParams({ grant_type: 'authorization_code', client_id: f.pub, code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier });
      const res = await postForm(tokenUrl, body.toString(), { dpop: await k.proof({ htu: tokenUrl }) });
      expect(res.status).toBe(200);
      return json(res);
    }
    const refresh = async (refreshToken: string, proof: string | undefined) =>
      postForm(tokenUrl, new URLSearchParams({ grant_type: 'refresh_token', client_id: f.pub, refresh_token: refreshToken }).toString(), proof === undefined ? {} : { dpop: proof });

    it('refuses a refresh without proof or with another key, consuming nothing; the bound key refreshes', async () => {
      const tokens = await publicTokens(key);
      expect(tokens.token_type).toBe('DPoP');
      const rt = tokens.refresh_token as string;
      const without = await refresh(rt, undefined);
      expect(without.status).toBe(400);
      expect((await json(without)).error).toBe('invalid_dpop_proof');
      const other = await dpopKey('ES256');
      const stolen = await refresh(rt, await other.proof({ htu: tokenUrl }));
      expect(stolen.status).toBe(400);
      expect(await json(stolen)).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('another DPoP key') });
      // Neither refusal consumed the token or revoked the family: the key holder refreshes.
      const ok = await refresh(rt, await key.proof({ htu: tokenUrl }));
      expect(ok.status).toBe(200);
      const next = await json(ok);
      expect(next.token_type).toBe('DPoP');
      expect(decodeJwt(next.access_token as string).cnf).toEqual({ jkt: key.jkt });
      // The successor stays bound to the same key.
      const successorStolen = await refresh(next.refresh_token as string, await other.proof({ htu: tokenUrl }));
      expect((await json(successorStolen)).error).toBe('invalid_grant');
    });
  });

  it('binds the code flow with oauth4webapi DPoP: access token cnf.jkt is the library key', async () => {
    const as = await oauth.processDiscoveryResponse(new URL(t.baseUrl), await oauth.discoveryRequest(new URL(t.baseUrl), { algorithm: 'oauth2', ...insecure }));
    const keyPair = await generateKeyPair('ES256', { extractable: true });
    const client: oauth.Client = { client_id: f.basic.id };
    const DPoP = oauth.DPoP(client, keyPair);
    const verifier = oauth.generateRandomCodeVerifier();
    const redirect = await authorizationRedirect(t, f.basic.id, f.userId, 'read', verifier);
    const params = oauth.validateAuthResponse(as, client, redirect, 'st-1');
    const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(f.basic.secret), params, REDIRECT, verifier, { DPoP, ...insecure });
    const tokens = await oauth.processAuthorizationCodeResponse(as, client, res);
    expect(tokens.token_type).toBe('dpop');
    const { calculateJwkThumbprint, exportJWK } = await import('jose');
    expect((await verify(tokens.access_token)).cnf).toEqual({ jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey), 'sha256') });
  });
});

describe('DPoP server nonces (RFC 9449 §8)', () => {
  let t: TestGateway;
  let f: Fixtures;
  let tokenUrl: string;

  beforeAll(async () => {
    t = await startTestGateway({ AUTHMESH_DPOP_NONCE: 'true' });
    f = await createFixtures(t);
    tokenUrl = `${t.baseUrl}/oauth2/token`;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('answers a proof without nonce with use_dpop_nonce and a DPoP-Nonce header, then accepts the nonce', async () => {
    const key = await dpopKey('EdDSA');
    const send = async (nonce?: string) =>
      postForm(tokenUrl, 'grant_type=client_credentials&scope=read', { authorization: basicAuth(f.basic.id, f.basic.secret), dpop: await key.proof({ htu: tokenUrl, nonce }) });
    const first = await send();
    expect(first.status).toBe(400);
    expect(await json(first)).toMatchObject({ error: 'use_dpop_nonce' });
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    const wrong = await send('not-the-nonce');
    expect((await json(wrong)).error).toBe('use_dpop_nonce');
    const second = await send(nonce!);
    expect(second.status).toBe(200);
    expect((await json(second)).token_type).toBe('DPoP');
    expect(second.headers.get('dpop-nonce')).toBe(nonce);
  });

  it('works with oauth4webapi, which retries with the nonce it was given', async () => {
    const as = await oauth.processDiscoveryResponse(new URL(t.baseUrl), await oauth.discoveryRequest(new URL(t.baseUrl), { algorithm: 'oauth2', ...insecure }));
    const client: oauth.Client = { client_id: f.basic.id };
    const DPoP = oauth.DPoP(client, await generateKeyPair('ES256', { extractable: true }));
    const request = () => oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(f.basic.secret), { scope: 'read' }, { DPoP, ...insecure });
    const err = await oauth.processClientCredentialsResponse(as, client, await request()).catch((e: unknown) => e);
    expect(oauth.isDPoPNonceError(err)).toBe(true);
    const tokens = await oauth.processClientCredentialsResponse(as, client, await request());
    expect(tokens.token_type).toBe('dpop');
  });
});
