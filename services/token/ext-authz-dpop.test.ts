// DPoP at the edge (RFC 9449 §7): ext_authz Check over real gRPC with DPoP-bound tokens from the
// real token service and proofs signed by jose as a client would; each attack of issue 14 (a
// replayed proof, a proof for another URL or method, a proof by another key, the bound token as
// Bearer, an unbound token with the DPoP scheme) is a test; and the server nonce (§8, §9).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { CreateServiceRequest } from '../../gen/ts/authmesh/service/v1/service.js';
import { TokenRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { AuthorizationService, CheckRequest, type CheckResponse } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { createRpcClient } from '../core/rpc/index.js';
import { dpopKey, type DpopKey } from '../../test/support/dpop.js';
import { startTestMesh } from '../../test/support/mesh.js';

const ORDERS = 'https://orders.example.com';
const API = 'http://orders.example.com/orders/42';

async function setup(env: Record<string, string> = {}) {
  const t = await startTestMesh(env);
  const admin = await t.bearer();
  const created = await t.anon.client.createClient(
    CreateClientRequest.fromPartial({
      client: { clientName: 'dpop-edge', clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['orders.read', 'orders.write'] },
    }),
    { bearer: admin },
  );
  await t.anon.service.createService(
    CreateServiceRequest.fromPartial({
      service: { displayName: 'orders', audience: ORDERS, endpoints: [{ method: 'GET', path: '/orders/{id}', scope: 'orders.read', allowedClientIds: [] }, { method: 'POST', path: '/orders', scope: 'orders.write', allowedClientIds: [] }] },
    }),
    { bearer: admin },
  );
  const authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', `127.0.0.1:${t.mesh.port}`);
  const client = { id: created.client!.clientId, secret: created.clientSecret };
  const tokenUrl = `${t.config.issuer}/oauth2/token`;
  /** An access token for ORDERS, bound to `key` when given (RFC 9449 §5), via the real token service. */
  const accessToken = async (key: DpopKey | undefined, scope = 'orders.read', nonce?: string) =>
    (
      await t.anon.token.token(
        TokenRequest.fromPartial({
          client: { credential: { $case: 'clientSecret', value: { clientId: client.id, clientSecret: client.secret, method: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC } } },
          grant: { $case: 'clientCredentials', value: { scope, resource: [ORDERS] } },
          dpop: key === undefined ? undefined : { proof: await key.proof({ htu: tokenUrl, nonce }), htm: 'POST', htu: tokenUrl },
        }),
      )
    ).accessToken;
  const check = (headers: Record<string, string>, opts: { method?: string; path?: string; host?: string; scheme?: string; ext?: Record<string, string> } = {}) =>
    authz.check(
      CheckRequest.fromPartial({
        attributes: {
          request: { http: { method: opts.method ?? 'GET', path: opts.path ?? '/orders/42?x=1', host: opts.host ?? 'orders.example.com', scheme: opts.scheme ?? 'http', headers } },
          contextExtensions: { audience: ORDERS, ...opts.ext },
        },
      }),
    );
  return { t, authz, accessToken, check };
}

const statusOf = (r: CheckResponse) => (r.httpResponse?.$case === 'deniedResponse' ? r.httpResponse.value.status?.code : 200);
const headersOf = (r: CheckResponse) => Object.fromEntries((r.httpResponse?.value.headers ?? []).map((h) => [h.header!.key, h.header!.value]));
const bodyOf = (r: CheckResponse) => (r.httpResponse?.$case === 'deniedResponse' ? (JSON.parse(r.httpResponse.value.body) as Record<string, string>) : {});

describe('ext_authz Check with DPoP-bound tokens (RFC 9449 §7)', () => {
  let s: Awaited<ReturnType<typeof setup>>;
  let key: DpopKey;
  let bound: string;

  beforeAll(async () => {
    s = await setup();
    key = await dpopKey('ES256');
    bound = await s.accessToken(key);
  }, 60_000);

  afterAll(async () => {
    s?.authz.close();
    await s?.t.close();
  });

  const dpopCheck = async (proof: string, token = bound, opts: Parameters<typeof s.check>[1] = {}) => s.check({ authorization: `DPoP ${token}`, dpop: proof }, opts);

  it('allows a bound token with a fresh proof for this method and URI (query ignored), and strips the token and the proof', async () => {
    const r = await dpopCheck(await key.proof({ htm: 'GET', htu: API, accessToken: bound }));
    expect(r.httpResponse?.$case).toBe('okResponse');
    expect(r.httpResponse?.$case === 'okResponse' && r.httpResponse.value.headersToRemove).toEqual(['authorization', 'dpop']);
    expect(headersOf(r)['x-authmesh-scope']).toBe('orders.read');
  });

  it('refuses a replayed proof (RFC 9449 §11.1)', async () => {
    const proof = await key.proof({ htm: 'GET', htu: API, accessToken: bound });
    expect((await dpopCheck(proof)).httpResponse?.$case).toBe('okResponse');
    const replay = await dpopCheck(proof);
    expect(statusOf(replay)).toBe(401);
    expect(bodyOf(replay)).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringContaining('already used') });
    expect(headersOf(replay)['www-authenticate']).toMatch(/^DPoP error="invalid_dpop_proof", error_description="[^"]*", algs="ES256 [^"]*", Bearer realm="/);
  });

  it.each([
    ['a proof for another URL (htu)', { htm: 'GET', htu: 'http://orders.example.com/orders/43' }, 'htu does not match'],
    ['a proof for another host (htu)', { htm: 'GET', htu: 'http://evil.example.com/orders/42' }, 'htu does not match'],
    ['a proof for another method (htm)', { htm: 'DELETE', htu: API }, 'htm does not match'],
    ['a stale proof (iat)', { htm: 'GET', htu: API, iat: Math.floor(Date.now() / 1000) - 600 }, 'iat is too old'],
  ])('refuses %s with 401 invalid_dpop_proof', async (_name, change, why) => {
    const r = await dpopCheck(await key.proof({ accessToken: bound, ...change }));
    expect(statusOf(r)).toBe(401);
    expect(bodyOf(r)).toEqual({ error: 'invalid_dpop_proof', error_description: expect.stringContaining(why) });
  });

  it('takes the htu host only from the hosts this edge answers for, never from whatever Host the client sent (RFC 9449 §4.3 step 9, §11.1)', async () => {
    // A token and proof made for another resource server on the same path, replayed here with its Host.
    const elsewhere = await dpopCheck(await key.proof({ htm: 'GET', htu: 'http://rs1.example/orders/42', accessToken: bound }), bound, { host: 'rs1.example' });
    expect(statusOf(elsewhere)).toBe(401);
    expect(bodyOf(elsewhere)).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringContaining('host') });
    // The route's resource host and the issuer's host are this edge's.
    expect((await dpopCheck(await key.proof({ htm: 'GET', htu: API, accessToken: bound }), bound, { host: 'orders.example.com' })).httpResponse?.$case).toBe('okResponse');
    const issuerHost = new URL(s.t.config.issuer).host;
    expect((await dpopCheck(await key.proof({ htm: 'GET', htu: `http://${issuerHost}/orders/42`, accessToken: bound }), bound, { host: issuerHost })).httpResponse?.$case).toBe('okResponse');
  });

  it('refuses a proof without ath, or with the ath of another token (RFC 9449 §4.3 step 12)', async () => {
    expect(bodyOf(await dpopCheck(await key.proof({ htm: 'GET', htu: API }))).error_description).toContain('ath');
    const other = await s.accessToken(key);
    expect(bodyOf(await dpopCheck(await key.proof({ htm: 'GET', htu: API, accessToken: other })))).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringContaining('ath') });
  });

  it('refuses a proof signed by another key than the token is bound to (RFC 9449 §6.1 cnf.jkt)', async () => {
    const thief = await dpopKey('ES256');
    const r = await dpopCheck(await thief.proof({ htm: 'GET', htu: API, accessToken: bound }));
    expect(statusOf(r)).toBe(401);
    expect(bodyOf(r)).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringContaining('not signed by the key') });
  });

  it('refuses the DPoP scheme without a proof, and two proofs joined by Envoy', async () => {
    expect(bodyOf(await s.check({ authorization: `DPoP ${bound}` })).error).toBe('invalid_dpop_proof');
    const a = await key.proof({ htm: 'GET', htu: API, accessToken: bound });
    const b = await key.proof({ htm: 'GET', htu: API, accessToken: bound });
    expect(bodyOf(await dpopCheck(`${a},${b}`)).error).toBe('invalid_dpop_proof');
  });

  it('refuses the bound token sent as Bearer, with a Bearer error challenge and a DPoP challenge (RFC 9449 §7.1)', async () => {
    const r = await s.check({ authorization: `Bearer ${bound}` });
    expect(statusOf(r)).toBe(401);
    expect(bodyOf(r).error).toBe('invalid_token');
    expect(headersOf(r)['www-authenticate']).toMatch(/^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]*DPoP-bound[^"]*", DPoP algs="[^"]*ES256[^"]*"$/);
  });

  it('refuses an unbound token sent with the DPoP scheme, even with a valid proof (RFC 9449 §7.1)', async () => {
    const unbound = await s.accessToken(undefined);
    expect((await s.check({ authorization: `Bearer ${unbound}` })).httpResponse?.$case).toBe('okResponse');
    const r = await dpopCheck(await key.proof({ htm: 'GET', htu: API, accessToken: unbound }), unbound);
    expect(statusOf(r)).toBe(401);
    expect(bodyOf(r)).toMatchObject({ error: 'invalid_token', error_description: expect.stringContaining('not DPoP-bound') });
    expect(headersOf(r)['www-authenticate']).toMatch(/^DPoP error="invalid_token"/);
  });

  it('rebuilds htu with the scheme Envoy forwards in x-forwarded-proto, else the request scheme', async () => {
    const https = 'https://orders.example.com/orders/42';
    const viaXfp = await s.check({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu: https, accessToken: bound }), 'x-forwarded-proto': 'https' });
    expect(viaXfp.httpResponse?.$case).toBe('okResponse');
    const viaScheme = await dpopCheck(await key.proof({ htm: 'GET', htu: https, accessToken: bound }), bound, { scheme: 'https' });
    expect(viaScheme.httpResponse?.$case).toBe('okResponse');
    const wrong = await s.check({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu: API, accessToken: bound }), 'x-forwarded-proto': 'https' });
    expect(bodyOf(wrong).error_description).toContain('htu does not match');
  });

  it('a route with context_extensions dpop=required refuses every Bearer token and challenges with DPoP only', async () => {
    const required = { ext: { dpop: 'required' } };
    const unbound = await s.accessToken(undefined);
    const bearer = await s.check({ authorization: `Bearer ${unbound}` }, required);
    expect(statusOf(bearer)).toBe(401);
    expect(bodyOf(bearer).error).toBe('invalid_token');
    expect(headersOf(bearer)['www-authenticate']).toMatch(/^DPoP error="invalid_token", error_description="[^"]*requires a DPoP-bound[^"]*", algs="[^"]+"$/);
    const none = await s.check({}, required);
    expect(statusOf(none)).toBe(401);
    expect(headersOf(none)['www-authenticate']).toMatch(/^DPoP algs="[^"]+"$/);
    const ok = await s.check({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu: API, accessToken: bound }) }, required);
    expect(ok.httpResponse?.$case).toBe('okResponse');
  });

  it('answers a missing scope of a DPoP request with 403 and the DPoP challenge', async () => {
    const r = await dpopCheck(await key.proof({ htm: 'POST', htu: 'http://orders.example.com/orders', accessToken: bound }), bound, { method: 'POST', path: '/orders' });
    expect(statusOf(r)).toBe(403);
    expect(headersOf(r)['www-authenticate']).toMatch(/^DPoP error="insufficient_scope", error_description="[^"]*", scope="orders.write", algs="/);
  });
});

describe('ext_authz Check with DPoP server nonces (RFC 9449 §8, §9)', () => {
  let s: Awaited<ReturnType<typeof setup>>;

  beforeAll(async () => {
    s = await setup({ AUTHMESH_DPOP_NONCE: 'true' });
  }, 60_000);

  afterAll(async () => {
    s?.authz.close();
    await s?.t.close();
  });

  it('answers a proof without the nonce with 401 use_dpop_nonce and DPoP-Nonce, then accepts the same grid nonce the token endpoint uses', async () => {
    const key = await dpopKey('EdDSA');
    const first = await s.accessToken(key).catch((e: unknown) => e as { code: string; metadata: Record<string, string> });
    expect(first).toMatchObject({ code: 'use_dpop_nonce' });
    const nonce = (first as { metadata: Record<string, string> }).metadata.dpop_nonce!;
    const bound = await s.accessToken(key, 'orders.read', nonce);
    const without = await s.check({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu: API, accessToken: bound }) });
    expect(statusOf(without)).toBe(401);
    expect(bodyOf(without).error).toBe('use_dpop_nonce');
    expect(headersOf(without)['www-authenticate']).toMatch(/^DPoP error="use_dpop_nonce"/);
    expect(headersOf(without)['dpop-nonce']).toBe(nonce);
    const ok = await s.check({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu: API, accessToken: bound, nonce }) });
    expect(ok.httpResponse?.$case).toBe('okResponse');
  });
});
