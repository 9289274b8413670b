// DPoP on the REST admin surface through a real Envoy (RFC 9449 §7.1, issue 14): a DPoP-bound
// admin token calls `POST /v1/clients` and `GET /v1/clients/{id}` with proofs made for the REST
// request (htm the HTTP method, htu the /v1 URL), with server nonces on (AUTHMESH_DPOP_NONCE). The
// REST check attests the REST request (services/core/rpc/rest-dpop-request.ts) and the service
// verifies the proof against it; every attack below is refused with 401 and the DPoP challenge.
import { Metadata } from '@grpc/grpc-js';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAccessTokenClaims } from '../../services/core/oauth/index.js';
import { attestRestDpopRequest, REST_DPOP_REQUEST_METADATA_KEY } from '../../services/core/rpc/index.js';
import { dpopKey, type DpopKey } from '../support/dpop.js';
import { envoySkipReason, startEnvoyStack, type EnvoyStack } from '../support/envoy.js';

const skip = envoySkipReason();
if (skip) console.warn(`skipping the REST DPoP Envoy end-to-end suite: ${skip}`);

const CREATE_CLIENT = '/authmesh.client.v1.ClientService/CreateClient';
const GET_CLIENT = '/authmesh.client.v1.ClientService/GetClient';

describe.skipIf(skip !== undefined)('DPoP on REST-transcoded admin calls through a real Envoy (RFC 9449 §7.1)', () => {
  let s: EnvoyStack;
  let key: DpopKey;
  let token: string;
  let nonce = '';
  let clientsUrl: string;
  let clientId: string;

  /** An admin access token signed by the key service, DPoP-bound to `jkt` (cnf.jkt, RFC 9449 §6.1). */
  const adminToken = async (jkt: string | undefined, scope = ['authmesh.admin']) => {
    const claims = buildAccessTokenClaims({ issuer: s.gateway.config.issuer, subject: 'rest-dpop-admin', audience: s.gateway.config.issuer, clientId: 'rest-dpop-admin', scope, ttlSeconds: 300, now: new Date(), dpopJkt: jkt });
    return (await s.gateway.peers.key.signJwt({ claims: { ...claims }, typ: 'at+jwt' })).jwt;
  };

  const create = (headers: Record<string, string>) =>
    fetch(clientsUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ client_name: 'made over REST with DPoP', client_type: 'CLIENT_TYPE_CONFIDENTIAL', grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'], scopes: ['read'] }),
    });
  const get = (headers: Record<string, string>, id = clientId) => fetch(`${clientsUrl}/${id}`, { headers });
  const getUrl = () => `${clientsUrl}/${clientId}`;

  /** 401 with the DPoP challenge carrying `error` (RFC 9449 §7.1), as the transcoder passes it on. */
  const expectDpopRefusal = async (res: Response, error: string, description?: string) => {
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(new RegExp(`^DPoP error="${error}", error_description="[^"]*", algs="[^"]+", Bearer realm="`));
    const body = (await res.json()) as { code: number; message: string; details: { reason: string }[] };
    expect(body.code).toBe(16);
    if (description !== undefined) expect(body.message).toContain(description);
  };

  beforeAll(async () => {
    s = await startEnvoyStack({ env: { AUTHMESH_DPOP_NONCE: 'true' } });
    clientsUrl = `${s.url}/v1/clients`;
    key = await dpopKey('ES256');
    token = await adminToken(key.jkt);
    // RFC 9449 §8, §9: the first proof without a nonce is refused with the nonce to use.
    const first = await create({ authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'POST', htu: clientsUrl, accessToken: token }) });
    expect(first.status).toBe(401);
    expect(first.headers.get('www-authenticate')).toMatch(/^DPoP error="use_dpop_nonce"/);
    nonce = first.headers.get('dpop-nonce') ?? '';
    expect(nonce).not.toBe('');
    const created = await create({ authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'POST', htu: clientsUrl, accessToken: token, nonce }) });
    expect(created.status).toBe(200);
    clientId = ((await created.json()) as { client: { client_id: string } }).client.client_id;
  }, 180_000);

  afterAll(async () => {
    await s?.close();
  });

  it('POST /v1/clients and GET /v1/clients/{id} accept the DPoP-bound admin token with fresh proofs for the REST requests', async () => {
    expect(clientId).toMatch(/./);
    const got = await get({ authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'GET', htu: getUrl(), accessToken: token, nonce }) });
    expect(got.status).toBe(200);
    expect(((await got.json()) as { client: { client_id: string; client_name: string } }).client).toMatchObject({ client_id: clientId, client_name: 'made over REST with DPoP' });
    // A query string is not part of htu (RFC 9449 §4.3 step 9).
    const listed = await fetch(`${clientsUrl}?page_size=1`, { headers: { authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'GET', htu: clientsUrl, accessToken: token, nonce }) } });
    expect(listed.status).toBe(200);
  });

  it('without the nonce: 401 use_dpop_nonce with DPoP-Nonce (RFC 9449 §9)', async () => {
    const res = await get({ authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'GET', htu: getUrl(), accessToken: token }) });
    await expectDpopRefusal(res, 'use_dpop_nonce');
    expect(res.headers.get('dpop-nonce')).toBe(nonce);
  });

  it('a replayed proof is refused (RFC 9449 §11.1)', async () => {
    const proof = await key.proof({ htm: 'GET', htu: getUrl(), accessToken: token, nonce });
    expect((await get({ authorization: `DPoP ${token}`, dpop: proof })).status).toBe(200);
    await expectDpopRefusal(await get({ authorization: `DPoP ${token}`, dpop: proof }), 'invalid_dpop_proof', 'already used');
  });

  it('a proof for another REST URL is refused', async () => {
    await expectDpopRefusal(await get({ authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'GET', htu: clientsUrl, accessToken: token, nonce }) }), 'invalid_dpop_proof', 'htu does not match');
  });

  it('a proof for the same path on another server, sent with that server’s Host, is refused', async () => {
    const elsewhere = `http://api.other.example/v1/clients/${clientId}`;
    const proof = await key.proof({ htm: 'GET', htu: elsewhere, accessToken: token, nonce });
    // node:http, since fetch does not let a caller choose Host; Envoy routes any Host (domains "*").
    const res = await new Promise<{ status: number; challenge: string | undefined; body: string }>((resolve, reject) => {
      const req = httpRequest(`${s.url}/v1/clients/${clientId}`, { headers: { host: 'api.other.example', authorization: `DPoP ${token}`, dpop: proof }, agent: false }, (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, challenge: r.headers['www-authenticate'], body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(401);
    expect(res.challenge).toMatch(/^DPoP error="invalid_dpop_proof"/);
    expect(res.body).toMatch(/htm does not match|htu does not match/);
  });

  it('a proof for another method is refused', async () => {
    await expectDpopRefusal(await get({ authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'POST', htu: getUrl(), accessToken: token, nonce }) }), 'invalid_dpop_proof', 'htm does not match');
  });

  it('a proof for the gRPC path of the same RPC is refused on REST', async () => {
    const res = await get({ authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'POST', htu: `${s.url}${GET_CLIENT}`, accessToken: token, nonce }) });
    await expectDpopRefusal(res, 'invalid_dpop_proof');
  });

  it('a proof by another key is refused', async () => {
    const thief = await dpopKey('ES256');
    await expectDpopRefusal(await get({ authorization: `DPoP ${token}`, dpop: await thief.proof({ htm: 'GET', htu: getUrl(), accessToken: token, nonce }) }), 'invalid_dpop_proof');
  });

  it('the DPoP scheme without a proof is refused', async () => {
    await expectDpopRefusal(await get({ authorization: `DPoP ${token}` }), 'invalid_dpop_proof', 'proof is required');
  });

  it('the bound token sent as Bearer is refused; an unbound Bearer admin token still works', async () => {
    const asBearer = await get({ authorization: `Bearer ${token}` });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]*DPoP-bound[^"]*", DPoP algs="[^"]+"$/);
    const bearer = await s.gateway.bearer();
    expect((await get({ authorization: `Bearer ${bearer}` })).status).toBe(200);
  });

  it('a DPoP-bound token without the admin scope: 403 with the DPoP insufficient_scope challenge (RFC 9449 §7.1, RFC 6750 §3.1)', async () => {
    const weak = await adminToken(key.jkt, ['openid']);
    const res = await get({ authorization: `DPoP ${weak}`, dpop: await key.proof({ htm: 'GET', htu: getUrl(), accessToken: weak, nonce }) });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP error="insufficient_scope", error_description="[^"]*", scope="authmesh.admin[^"]*", algs="[^"]+", Bearer realm="/);
  });

  it('an attestation sent by the client is dropped by Envoy: valid (minted with the mesh secret) or replayed, it names nothing', async () => {
    const meshSecret = s.gateway.config.meshSecret!;
    const forged = attestRestDpopRequest(meshSecret, { rpc: GET_CLIENT, htm: 'GET', htu: getUrl() }, token, new Date());
    // A valid attestation without a proof: it names a request, it is no proof; the service demands one.
    await expectDpopRefusal(await get({ authorization: `DPoP ${token}`, [REST_DPOP_REQUEST_METADATA_KEY]: forged }), 'invalid_dpop_proof', 'proof is required');
    // A proof made for another REST URL, with an attestation naming that URL: Envoy drops the
    // client's copy and the REST check attests the request actually made, which the proof does not name.
    const elsewhere = attestRestDpopRequest(meshSecret, { rpc: GET_CLIENT, htm: 'GET', htu: clientsUrl }, token, new Date());
    const res = await get({ authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'GET', htu: clientsUrl, accessToken: token, nonce }), [REST_DPOP_REQUEST_METADATA_KEY]: elsewhere });
    await expectDpopRefusal(res, 'invalid_dpop_proof', 'htu does not match');
    // Over the native gRPC route, a proof made for the REST URL with the attestation the client
    // brought: Envoy strips it, so the service checks the proof against the RPC's URL.
    const grpc = await fetch(`${s.url}${GET_CLIENT}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `DPoP ${token}`, dpop: await key.proof({ htm: 'GET', htu: getUrl(), accessToken: token, nonce }), [REST_DPOP_REQUEST_METADATA_KEY]: forged },
      body: JSON.stringify({ client_id: clientId }),
    });
    expect(grpc.status).toBe(401);
    expect(JSON.stringify(await grpc.json())).toContain('htm does not match');
  });

  it('an attestation for another token, or another RPC, is refused by the service itself (a direct gRPC caller)', async () => {
    const meshSecret = s.gateway.config.meshSecret!;
    const other = await adminToken(key.jkt);
    const call = async (attestation: string) => {
      const md = new Metadata();
      md.set('authorization', `DPoP ${token}`);
      md.set('dpop', await key.proof({ htm: 'GET', htu: getUrl(), accessToken: token, nonce }));
      md.set(REST_DPOP_REQUEST_METADATA_KEY, attestation);
      return s.gateway.anon.client.getClient({ clientId }, { metadata: md }).catch((e: unknown) => e);
    };
    expect(await call(attestRestDpopRequest(meshSecret, { rpc: GET_CLIENT, htm: 'GET', htu: getUrl() }, other, new Date()))).toMatchObject({ code: 'invalid_dpop_proof' });
    expect(await call(attestRestDpopRequest(meshSecret, { rpc: CREATE_CLIENT, htm: 'GET', htu: getUrl() }, token, new Date()))).toMatchObject({ code: 'invalid_dpop_proof' });
    expect(await call(attestRestDpopRequest('x'.repeat(43), { rpc: GET_CLIENT, htm: 'GET', htu: getUrl() }, token, new Date()))).toMatchObject({ code: 'invalid_dpop_proof' });
    // The control: the same call with an attestation the mesh made for it succeeds.
    const ok = await call(attestRestDpopRequest(meshSecret, { rpc: GET_CLIENT, htm: 'GET', htu: getUrl() }, token, new Date()));
    expect(ok).toMatchObject({ client: { clientId } });
  });
});
