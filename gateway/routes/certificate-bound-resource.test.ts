// Certificate-bound tokens at authmesh's own resources (RFC 8705 §3): UserInfo, the Connect
// bridge and direct gRPC refuse a token carrying cnf.x5t#S256 unless the request came over mutual
// TLS with that certificate, as the edge forwards it (x-forwarded-client-cert together with the edge
// proof). A stolen bound token is useless without the certificate's key; unbound tokens are not
// affected. The real-Envoy path is test/e2e/mtls-admin-envoy.test.ts.
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAccessTokenClaims, certificateThumbprint } from '../../services/core/oauth/index.js';
import { EDGE_PROOF_METADATA_KEY, FORWARDED_CLIENT_CERT_METADATA_KEY } from '../../services/core/rpc/index.js';
import { certFactory, type CertFactory, type TestCert } from '../../test/support/certs.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { createFixtures, type Fixtures } from './route-test-support.js';

const EDGE_SECRET = 'edge-secret-'.padEnd(48, 'y');
const LIST_CLIENTS = '/authmesh.client.v1.ClientService/ListClients';

/** x-forwarded-client-cert as Envoy writes it (SANITIZE_SET). */
const xfcc = (cert: TestCert) => `Hash=${certificateThumbprint(cert.der)};Cert="${encodeURIComponent(cert.certPem)}";Subject="CN=x"`;
const fromEdge = (cert: TestCert, proof = EDGE_SECRET) => ({ [FORWARDED_CLIENT_CERT_METADATA_KEY]: xfcc(cert), [EDGE_PROOF_METADATA_KEY]: proof });

describe('certificate-bound tokens at UserInfo and the admin APIs (RFC 8705 §3)', () => {
  let t: TestGateway;
  let f: Fixtures;
  let certs: CertFactory;
  let own: TestCert;
  let other: TestCert;

  const accessToken = async (o: { sub: string; clientId: string; scope: string[]; x5t?: string | undefined }) => {
    const claims = buildAccessTokenClaims({ issuer: t.config.issuer, subject: o.sub, audience: t.config.issuer, clientId: o.clientId, scope: o.scope, ttlSeconds: 300, now: new Date(), certificateThumbprint: o.x5t });
    return (await t.peers.key.signJwt({ claims: { ...claims }, typ: 'at+jwt' })).jwt;
  };

  beforeAll(async () => {
    certs = certFactory();
    own = certs.leaf('own', '/CN=bound client');
    other = certs.leaf('other', '/CN=bound client');
    t = await startTestGateway({ AUTHMESH_MTLS_EDGE_SECRET: EDGE_SECRET });
    f = await createFixtures(t);
  }, 90_000);

  afterAll(async () => {
    await t?.close();
    certs?.cleanup();
  });

  describe('UserInfo', () => {
    let bound: string;
    beforeAll(async () => {
      bound = await accessToken({ sub: f.userId, clientId: f.basic.id, scope: ['openid'], x5t: certificateThumbprint(own.der) });
    });
    const userinfo = (headers: Record<string, string>) => fetch(`${t.baseUrl}/oauth2/userinfo`, { headers: { authorization: `Bearer ${bound}`, ...headers } });

    it('answers the bound token over mutual TLS with its certificate', async () => {
      const res = await userinfo(fromEdge(own));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ sub: f.userId });
    });

    it.each([
      ['without a certificate', () => ({})],
      ['with another certificate', () => fromEdge(other)],
    ])('refuses it %s: 401 invalid_token', async (_name, headers) => {
      const res = await userinfo(headers());
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
      expect(await res.json()).toMatchObject({ error: 'invalid_token', error_description: expect.stringContaining('client certificate') });
    });
  });

  describe('admin APIs', () => {
    let bound: string;
    let unbound: string;
    beforeAll(async () => {
      bound = await accessToken({ sub: 'test-admin', clientId: 'test-admin', scope: ['authmesh.admin'], x5t: certificateThumbprint(own.der) });
      unbound = await accessToken({ sub: 'test-admin', clientId: 'test-admin', scope: ['authmesh.admin'] });
    });
    const connect = (token: string, headers: Record<string, string>) =>
      fetch(`${t.baseUrl}${LIST_CLIENTS}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers }, body: '{"pageSize":1}' });

    it('the Connect bridge passes the certificate on: allowed with it, 401 without it or with another', async () => {
      const ok = await connect(bound, fromEdge(own));
      expect(ok.status).toBe(200);
      expect(await ok.json()).toHaveProperty('clients');
      for (const headers of [{}, fromEdge(other)]) {
        const res = await connect(bound, headers);
        expect(res.status).toBe(401);
        expect(JSON.stringify(await res.json())).toContain('client certificate');
      }
      // Unbound tokens behave as before, with or without a certificate.
      expect((await connect(unbound, {})).status).toBe(200);
      expect((await connect(unbound, fromEdge(other))).status).toBe(200);
    });

    const grpc = (token: string, entries: Record<string, string>) => {
      const md = new Metadata();
      md.set('authorization', `Bearer ${token}`);
      for (const [k, v] of Object.entries(entries)) md.set(k, v);
      return t.anon.client.listClients({ pageSize: 1, pageToken: '' }, { metadata: md }).then(
        () => 'ok',
        (e: unknown) => (e as { code?: string }).code,
      );
    };

    it('direct gRPC believes a forwarded certificate only with the edge proof (as Envoy sends it on the gRPC and /v1 routes)', async () => {
      expect(await grpc(bound, fromEdge(own))).toBe('ok');
      // RFC 8705 §3: a direct caller without the certificate, fail closed.
      expect(await grpc(bound, {})).toBe('invalid_token');
      // A certificate claimed by anyone but the edge: without the proof, or with a wrong one.
      expect(await grpc(bound, { [FORWARDED_CLIENT_CERT_METADATA_KEY]: xfcc(own) })).toBe('invalid_token');
      expect(await grpc(bound, fromEdge(own, EDGE_SECRET.replace(/y$/, 'z')))).toBe('invalid_token');
      expect(await grpc(bound, fromEdge(other))).toBe('invalid_token');
      expect(await grpc(unbound, {})).toBe('ok');
    });
  });
});
