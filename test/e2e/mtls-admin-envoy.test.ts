// Certificate-bound tokens (RFC 8705 §3) at authmesh's own APIs through a real Envoy with mutual
// TLS: a tls_client_auth client gets an admin token bound to its certificate (client_credentials
// over mTLS) and calls an admin RPC over native gRPC and over REST (/v1) with that certificate;
// with another certificate or none the token is refused (401 / UNAUTHENTICATED invalid_token).
// UserInfo likewise, with an openid token bound to the certificate. Envoy forwards the certificate
// (x-forwarded-client-cert) with its edge proof; the services check the binding.
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { request as httpsRequest } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientServiceClient, ClientType, CreateClientRequest, GetClientRequest, GrantType, TokenEndpointAuthMethod, type GetClientResponse } from '../../gen/ts/authmesh/client/v1/client.js';
import { createUser } from '../../gateway/routes/authorize-test-support.js';
import { buildAccessTokenClaims, certificateThumbprint } from '../../services/core/oauth/index.js';
import { certFactory, type CertFactory, type TestCert } from '../support/certs.js';
import { envoySkipReason, startEnvoyStack, type EnvoyStack } from '../support/envoy.js';

const skip = envoySkipReason();
if (skip) console.warn(`skipping the mTLS admin end-to-end suite: ${skip}`);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

describe.skipIf(skip !== undefined)('certificate-bound tokens at the admin APIs and UserInfo through a real Envoy (RFC 8705 §3)', () => {
  let s: EnvoyStack;
  let certs: CertFactory;
  let serverCa: TestCert;
  let svcCert: TestCert;
  let strangerCert: TestCert;
  let clientId: string;
  let adminToken: string;
  const edgeSecret = randomBytes(32).toString('hex');

  /** One HTTPS request on its own connection (no session reuse across certificates). */
  const call = (path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; cert?: TestCert } = {}): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${s.url}${path}`,
        { method: opts.method ?? 'GET', headers: opts.headers, ca: serverCa.certPem, cert: opts.cert?.certPem, key: opts.cert?.keyPem, agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            let body: Record<string, unknown> = {};
            try {
              body = JSON.parse(text) as Record<string, unknown>;
            } catch {
              body = { text };
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          });
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    });

  /** GetClient over native gRPC through Envoy's TLS listener, presenting `cert` (or none). */
  const grpcGetClient = (token: string, cert: TestCert | undefined): Promise<GetClientResponse | ServiceError> => {
    const creds = credentials.createSsl(Buffer.from(serverCa.certPem), cert ? Buffer.from(cert.keyPem) : null, cert ? Buffer.from(cert.certPem) : null);
    const client = new ClientServiceClient(s.url.replace(/^https:\/\//, ''), creds);
    const md = new Metadata();
    md.set('authorization', `Bearer ${token}`);
    return new Promise<GetClientResponse | ServiceError>((resolve) => {
      client.getClient(GetClientRequest.fromPartial({ clientId }), md, { deadline: Date.now() + 20_000 }, (err, res) => resolve(err ?? res));
    }).finally(() => client.close());
  };

  beforeAll(async () => {
    certs = certFactory();
    serverCa = certs.ca('server-ca', '/CN=edge server CA');
    const server = certs.leaf('edge', '/CN=127.0.0.1', { issuer: serverCa, san: 'IP:127.0.0.1', eku: 'serverAuth' });
    const clientCa = certs.ca('client-ca', '/CN=client CA');
    svcCert = certs.leaf('svc', '/O=Example/CN=admin-svc', { issuer: clientCa, san: 'DNS:admin.example.com' });
    strangerCert = certs.leaf('stranger', '/CN=stranger');
    const caBundle = join(certs.dir, 'client-cas.pem');
    writeFileSync(caBundle, clientCa.certPem);
    s = await startEnvoyStack({
      env: { AUTHMESH_MTLS_CA: caBundle, AUTHMESH_MTLS_EDGE_SECRET: edgeSecret },
      tls: { certPath: server.certPath, keyPath: server.keyPath, mtlsCaPath: caBundle, edgeSecret },
    });
    const created = await s.gateway.anon.client.createClient(
      CreateClientRequest.fromPartial({
        client: Client.fromPartial({
          clientName: 'admin automation (tls_client_auth)',
          clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
          grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
          scopes: ['authmesh.admin'],
          tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_TLS_CLIENT_AUTH,
          tlsClientAuthSanDns: 'admin.example.com',
        }),
      }),
      { bearer: await s.gateway.bearer() },
    );
    clientId = created.client!.clientId;
    const res = await call('/oauth2/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: 'authmesh.admin' }).toString(),
      cert: svcCert,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    adminToken = res.body.access_token as string;
    expect(decodeJwt(adminToken)).toMatchObject({ aud: s.gateway.config.issuer, scope: 'authmesh.admin', cnf: { 'x5t#S256': certificateThumbprint(svcCert.der) } });
  }, 240_000);

  afterAll(async () => {
    await s?.close();
    certs?.cleanup();
  });

  describe('native gRPC through Envoy', () => {
    it('allows the bound admin token with its certificate', async () => {
      const res = await grpcGetClient(adminToken, svcCert);
      expect(res).toMatchObject({ client: { clientId } });
    });

    it.each([
      ['without a certificate', () => undefined],
      ['with another certificate', () => strangerCert],
    ])('refuses it %s: UNAUTHENTICATED invalid_token', async (_name, cert) => {
      const res = (await grpcGetClient(adminToken, cert())) as ServiceError;
      expect(res.code).toBe(16);
      expect(res.details).toContain('client certificate');
    });
  });

  describe('REST (/v1) through Envoy', () => {
    const get = (cert: TestCert | undefined) => call(`/v1/clients/${clientId}`, { headers: { authorization: `Bearer ${adminToken}` }, cert });

    it('allows the bound admin token with its certificate', async () => {
      const res = await get(svcCert);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ client: { client_id: clientId } });
    });

    it.each([
      ['without a certificate', () => undefined],
      ['with another certificate', () => strangerCert],
    ])('refuses it %s: 401 invalid_token', async (_name, cert) => {
      const res = await get(cert());
      expect(res.status).toBe(401);
      expect(String(res.headers['www-authenticate'])).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
      expect(res.body).toMatchObject({ code: 16, details: [{ reason: 'INVALID_TOKEN' }] });
    });

    it('a client cannot supply the certificate or the edge proof itself', async () => {
      const res = await call(`/v1/clients/${clientId}`, {
        headers: { authorization: `Bearer ${adminToken}`, 'x-forwarded-client-cert': `Cert="${encodeURIComponent(svcCert.certPem)}"`, 'x-authmesh-edge-proof': edgeSecret },
      });
      expect(res.status).toBe(401);
    });
  });

  describe('UserInfo through Envoy', () => {
    let bound: string;
    let userId: string;
    beforeAll(async () => {
      userId = (await createUser(s.gateway)).userId;
      const claims = buildAccessTokenClaims({
        issuer: s.gateway.config.issuer,
        subject: userId,
        audience: s.gateway.config.issuer,
        clientId,
        scope: ['openid'],
        ttlSeconds: 300,
        now: new Date(),
        certificateThumbprint: certificateThumbprint(svcCert.der),
      });
      bound = (await s.gateway.peers.key.signJwt({ claims: { ...claims }, typ: 'at+jwt' })).jwt;
    });
    const userinfo = (cert: TestCert | undefined) => call('/oauth2/userinfo', { headers: { authorization: `Bearer ${bound}` }, cert });

    it('answers the certificate-bound openid token with its certificate', async () => {
      const res = await userinfo(svcCert);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ sub: userId });
    });

    it.each([
      ['without a certificate', () => undefined],
      ['with another certificate', () => strangerCert],
    ])('refuses it %s: 401 invalid_token', async (_name, cert) => {
      const res = await userinfo(cert());
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'invalid_token' });
    });
  });
});
