// DPoP-bound tokens at authmesh's own resources (RFC 9449 §7): UserInfo and the admin APIs (the
// Connect bridge of the gateway, and direct gRPC) accept them with a valid proof and refuse them
// as Bearer; a proof for another request, a replayed proof or one by another key is refused.
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAccessTokenClaims } from '../../services/core/oauth/index.js';
import { DPOP_HTU_METADATA_KEY, DPOP_HTM_METADATA_KEY } from '../../services/core/rpc/index.js';
import { dpopKey, type DpopKey } from '../../test/support/dpop.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { createFixtures, type Fixtures } from './route-test-support.js';

const LIST_CLIENTS = '/authmesh.client.v1.ClientService/ListClients';

describe('DPoP-bound tokens at UserInfo and the admin APIs (RFC 9449 §7)', () => {
  let t: TestGateway;
  let f: Fixtures;
  let key: DpopKey;
  let userinfoUrl: string;

  /** An access token signed by the key service, bound to `jkt` when given (cnf.jkt, RFC 9449 §6.1). */
  const accessToken = async (o: { sub: string; clientId: string; scope: string[]; jkt?: string | undefined }) => {
    const claims = buildAccessTokenClaims({ issuer: t.config.issuer, subject: o.sub, audience: t.config.issuer, clientId: o.clientId, scope: o.scope, ttlSeconds: 300, now: new Date(), dpopJkt: o.jkt });
    return (await t.peers.key.signJwt({ claims: { ...claims }, typ: 'at+jwt' })).jwt;
  };

  beforeAll(async () => {
    t = await startTestGateway();
    f = await createFixtures(t);
    key = await dpopKey('ES256');
    userinfoUrl = `${t.baseUrl}/oauth2/userinfo`;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  describe('UserInfo', () => {
    let bound: string;
    beforeAll(async () => {
      bound = await accessToken({ sub: f.userId, clientId: f.basic.id, scope: ['openid'], jkt: key.jkt });
    });
    const userinfo = (headers: Record<string, string>, method = 'GET') => fetch(userinfoUrl, { method, headers });

    it('answers a DPoP-bound token with a fresh proof for GET and for POST', async () => {
      const get = await userinfo({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu: userinfoUrl, accessToken: bound }) });
      expect(get.status).toBe(200);
      expect(await get.json()).toMatchObject({ sub: f.userId });
      const post = await userinfo({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'POST', htu: userinfoUrl, accessToken: bound }) }, 'POST');
      expect(post.status).toBe(200);
    });

    it('refuses the bound token sent as Bearer (RFC 9449 §7.1)', async () => {
      const res = await userinfo({ authorization: `Bearer ${bound}` });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    });

    it('refuses a replayed proof with 401 and the DPoP challenge (RFC 9449 §11.1)', async () => {
      const proof = await key.proof({ htm: 'GET', htu: userinfoUrl, accessToken: bound });
      expect((await userinfo({ authorization: `DPoP ${bound}`, dpop: proof })).status).toBe(200);
      const replay = await userinfo({ authorization: `DPoP ${bound}`, dpop: proof });
      expect(replay.status).toBe(401);
      expect(await replay.json()).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringContaining('already used') });
      expect(replay.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof", error_description="[^"]*", algs="[^"]+", Bearer realm="/);
    });

    it.each([
      ['a proof for another method', () => ({ htm: 'DELETE' })],
      ['a proof for another URL', () => ({ htu: `${t.baseUrl}/oauth2/token` })],
    ])('refuses %s', async (_name, change) => {
      const res = await userinfo({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'GET', htu: userinfoUrl, accessToken: bound, ...change() }) });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_dpop_proof');
    });

    it('refuses a proof signed by another key, and the DPoP scheme without a proof', async () => {
      const thief = await dpopKey('ES256');
      const stolen = await userinfo({ authorization: `DPoP ${bound}`, dpop: await thief.proof({ htm: 'GET', htu: userinfoUrl, accessToken: bound }) });
      expect(stolen.status).toBe(401);
      expect(((await stolen.json()) as { error: string }).error).toBe('invalid_dpop_proof');
      const without = await userinfo({ authorization: `DPoP ${bound}` });
      expect(without.status).toBe(401);
      expect(((await without.json()) as { error: string }).error).toBe('invalid_dpop_proof');
    });
  });

  describe('admin APIs', () => {
    let bound: string;
    let listUrl: string;
    beforeAll(async () => {
      bound = await accessToken({ sub: 'test-admin', clientId: 'test-admin', scope: ['authmesh.admin'], jkt: key.jkt });
      listUrl = `${t.baseUrl}${LIST_CLIENTS}`;
    });
    const connect = (headers: Record<string, string>) => fetch(listUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"pageSize":1}' });

    it('the Connect bridge accepts a DPoP-bound admin token with a proof for POST to the RPC URL, once', async () => {
      const proof = await key.proof({ htm: 'POST', htu: listUrl, accessToken: bound });
      const ok = await connect({ authorization: `DPoP ${bound}`, dpop: proof });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toHaveProperty('clients');
      const replay = await connect({ authorization: `DPoP ${bound}`, dpop: proof });
      // RFC 9449 §7.1: 401 with the DPoP challenge naming the error, and a bare Bearer one.
      expect(replay.status).toBe(401);
      expect(replay.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof", error_description="[^"]*already used[^"]*", algs="[^"]+", Bearer realm="/);
      expect(JSON.stringify(await replay.json())).toContain('already used');
    });

    it('the Connect bridge refuses the bound token as Bearer and a proof for another RPC', async () => {
      const asBearer = await connect({ authorization: `Bearer ${bound}` });
      expect(asBearer.status).toBe(401);
      // RFC 9449 §7.1: the DPoP scheme and its algorithms are offered beside Bearer (second review N6).
      expect(asBearer.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]+", DPoP algs="[^"]+"$/);
      const other = await connect({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'POST', htu: `${t.baseUrl}/authmesh.client.v1.ClientService/DeleteClient`, accessToken: bound }) });
      expect(other.status).not.toBe(200);
      expect(JSON.stringify(await other.json())).toContain('htu does not match');
    });

    const grpcMetadata = (entries: Record<string, string>) => {
      const md = new Metadata();
      for (const [k, v] of Object.entries(entries)) md.set(k, v);
      return md;
    };

    it('direct gRPC accepts the proof for POST ${issuer}/<service>/<method> and refuses another key', async () => {
      const htu = `${t.config.issuer}${LIST_CLIENTS}`;
      const ok = await t.anon.client.listClients({ pageSize: 1, pageToken: '' }, { metadata: grpcMetadata({ authorization: `DPoP ${bound}`, dpop: await key.proof({ htm: 'POST', htu, accessToken: bound }) }) });
      expect(ok.clients).toBeDefined();
      const thief = await dpopKey('ES256');
      const stolen = await t.anon.client
        .listClients({ pageSize: 1, pageToken: '' }, { metadata: grpcMetadata({ authorization: `DPoP ${bound}`, dpop: await thief.proof({ htm: 'POST', htu, accessToken: bound }) }) })
        .catch((e: unknown) => e);
      expect(stolen).toMatchObject({ code: 'invalid_dpop_proof' });
    });

    it('a caller without the mesh credential cannot name the request its proof was for (x-authmesh-dpop-htu is ignored)', async () => {
      // A proof made for UserInfo, captured by an attacker who also holds the token, presented at
      // an admin RPC while naming the UserInfo URL: the service checks it against the RPC instead.
      const proof = await key.proof({ htm: 'GET', htu: userinfoUrl, accessToken: bound });
      const err = await t.anon.client
        .listClients(
          { pageSize: 1, pageToken: '' },
          { metadata: grpcMetadata({ authorization: `DPoP ${bound}`, dpop: proof, [DPOP_HTM_METADATA_KEY]: 'GET', [DPOP_HTU_METADATA_KEY]: userinfoUrl }) },
        )
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'invalid_dpop_proof' });
    });
  });

  describe('with server nonces (AUTHMESH_DPOP_NONCE=true, RFC 9449 §8, §9)', () => {
    let n: TestGateway;
    beforeAll(async () => {
      n = await startTestGateway({ AUTHMESH_DPOP_NONCE: 'true' });
    }, 60_000);
    afterAll(async () => {
      await n?.close();
    });

    it('the Connect bridge answers a proof without the nonce 401 use_dpop_nonce with DPoP-Nonce, and accepts the retry with it', async () => {
      const claims = buildAccessTokenClaims({ issuer: n.config.issuer, subject: 'test-admin', audience: n.config.issuer, clientId: 'test-admin', scope: ['authmesh.admin'], ttlSeconds: 300, now: new Date(), dpopJkt: key.jkt });
      const token = (await n.peers.key.signJwt({ claims: { ...claims }, typ: 'at+jwt' })).jwt;
      const url = `${n.baseUrl}${LIST_CLIENTS}`;
      const call = async (nonce?: string) =>
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'POST', htu: url, accessToken: token, nonce }) }, body: '{"pageSize":1}' });
      const first = await call();
      expect(first.status).toBe(401);
      expect(first.headers.get('www-authenticate')).toMatch(/^DPoP error="use_dpop_nonce"/);
      const nonce = first.headers.get('dpop-nonce');
      expect(nonce).toMatch(/^[\x21\x23-\x5b\x5d-\x7e]+$/);
      expect((await call(nonce!)).status).toBe(200);
    });
  });
});
