// Mutual TLS (RFC 8705) end to end through a real Envoy (envoy/envoy.yaml with its TLS listener
// asking for client certificates), with certificates made by openssl in the test: clients
// authenticate with their certificate (tls_client_auth, self_signed_tls_client_auth), get
// certificate-bound tokens and call the sample API; the same token without the certificate, or
// with another one, is refused; a route configured for mTLS refuses requests without a
// certificate; x-forwarded-client-cert forged by a client is dropped by Envoy, and sent straight to
// the gateway is refused.
import { createPublicKey, randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { CreateServiceRequest } from '../../gen/ts/authmesh/service/v1/service.js';
import { certificateThumbprint } from '../../services/core/oauth/index.js';
import { certFactory, type CertFactory, type TestCert } from '../support/certs.js';
import { envoySkipReason, SAMPLE_API_AUDIENCE, startEnvoyStack, type EnvoyStack } from '../support/envoy.js';

const skip = envoySkipReason();
if (skip) console.warn(`skipping the mTLS end-to-end suite: ${skip}`);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

describe.skipIf(skip !== undefined)('mutual TLS through a real Envoy (RFC 8705)', () => {
  let s: EnvoyStack;
  let certs: CertFactory;
  let serverCa: TestCert;
  let svcCert: TestCert;
  let selfCert: TestCert;
  let strangerCert: TestCert;
  const edgeSecret = randomBytes(32).toString('hex');
  const ids = { tls: '', self: '', secret: '', secretValue: '' };

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

  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const token = (clientId: string, cert: TestCert | undefined, extra: Record<string, string> = {}) =>
    call('/oauth2/token', { method: 'POST', headers: { ...form, ...extra }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: 'sample.read' }).toString(), cert });
  const api = (path: string, accessToken: string, cert?: TestCert) => call(path, { headers: { authorization: `Bearer ${accessToken}` }, cert });

  beforeAll(async () => {
    certs = certFactory();
    serverCa = certs.ca('server-ca', '/CN=edge server CA');
    const server = certs.leaf('edge', '/CN=127.0.0.1', { issuer: serverCa, san: 'IP:127.0.0.1', eku: 'serverAuth' });
    const clientCa = certs.ca('client-ca', '/CN=client CA');
    svcCert = certs.leaf('svc', '/O=Example/CN=orders-svc', { issuer: clientCa, san: 'DNS:svc.example.com' });
    selfCert = certs.leaf('self', '/CN=self-signed client');
    strangerCert = certs.leaf('stranger', '/CN=self-signed client');
    const caBundle = join(certs.dir, 'client-cas.pem');
    writeFileSync(caBundle, clientCa.certPem);

    s = await startEnvoyStack({
      env: { AUTHMESH_MTLS_CA: caBundle, AUTHMESH_MTLS_EDGE_SECRET: edgeSecret },
      tls: { certPath: server.certPath, keyPath: server.keyPath, mtlsCaPath: caBundle, edgeSecret },
    });
    const bearer = await s.gateway.bearer();
    await s.gateway.anon.service.createService(
      CreateServiceRequest.fromPartial({
        service: {
          displayName: 'sample API',
          audience: SAMPLE_API_AUDIENCE,
          endpoints: [
            { method: 'GET', path: '/sample/hello', scope: 'sample.read' },
            { method: 'GET', path: '/sample/mtls/**', scope: 'sample.read' },
          ],
        },
      }),
      { bearer },
    );
    const create = (client: Partial<Client>) =>
      s.gateway.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: Client.fromPartial({
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
            scopes: ['sample.read'],
            audience: [SAMPLE_API_AUDIENCE],
            ...client,
          }),
        }),
        { bearer },
      );
    ids.tls = (await create({ clientName: 'orders (tls_client_auth)', tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_TLS_CLIENT_AUTH, tlsClientAuthSanDns: 'svc.example.com' })).client!.clientId;
    const jwk = createPublicKey(selfCert.keyPem).export({ format: 'jwk' });
    ids.self = (await create({ clientName: 'self-signed', tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH, jwks: { keys: [jwk] } })).client!.clientId;
    const secret = await create({ clientName: 'secret client' });
    ids.secret = secret.client!.clientId;
    ids.secretValue = secret.clientSecret;
  }, 240_000);

  afterAll(async () => {
    await s?.close();
    certs?.cleanup();
  });

  describe('tls_client_auth (RFC 8705 §2.1)', () => {
    let accessToken: string;

    it('authenticates with the CA-issued certificate and gets a token bound to it (cnf.x5t#S256)', async () => {
      const res = await token(ids.tls, svcCert);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      accessToken = res.body.access_token as string;
      expect(decodeJwt(accessToken)).toMatchObject({ client_id: ids.tls, cnf: { 'x5t#S256': certificateThumbprint(svcCert.der) } });
    });

    it('calls the sample API with the token over the same certificate', async () => {
      const res = await api('/sample/hello', accessToken, svcCert);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ client_id: ids.tls, path: '/sample/hello' });
    });

    it('refuses the same token without the certificate (401 invalid_token)', async () => {
      const res = await api('/sample/hello', accessToken);
      expect(res.status).toBe(401);
      expect(String(res.headers['www-authenticate'])).toContain('invalid_token');
    });

    it('refuses the same token with another certificate (401 invalid_token)', async () => {
      const res = await api('/sample/hello', accessToken, strangerCert);
      expect(res.status).toBe(401);
      expect(String(res.headers['www-authenticate'])).toContain('invalid_token');
    });

    it('refuses the client_id without a certificate, and a self-signed one claiming the name', async () => {
      expect((await token(ids.tls, undefined)).status).toBe(401);
      expect((await token(ids.tls, strangerCert)).status).toBe(401);
    });
  });

  describe('self_signed_tls_client_auth (RFC 8705 §2.2)', () => {
    it('authenticates with the registered self-signed certificate; the bound token works only with it', async () => {
      const res = await token(ids.self, selfCert);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const accessToken = res.body.access_token as string;
      expect(decodeJwt(accessToken).cnf).toEqual({ 'x5t#S256': certificateThumbprint(selfCert.der) });
      expect((await api('/sample/mtls/hello', accessToken, selfCert)).status).toBe(200);
      expect((await api('/sample/mtls/hello', accessToken)).status).toBe(401);
      expect((await api('/sample/hello', accessToken, strangerCert)).status).toBe(401);
    });

    it('refuses another self-signed certificate with the same subject', async () => {
      expect((await token(ids.self, strangerCert)).status).toBe(401);
    });
  });

  describe('a route that requires mutual TLS (/sample/mtls/)', () => {
    it('refuses a request without a client certificate even with a valid unbound token, and admits one with a certificate', async () => {
      const res = await call('/oauth2/token', {
        method: 'POST',
        headers: { ...form, authorization: `Basic ${Buffer.from(`${ids.secret}:${ids.secretValue}`).toString('base64')}` },
        body: 'grant_type=client_credentials&scope=sample.read',
      });
      expect(res.status).toBe(200);
      const unbound = res.body.access_token as string;
      expect(decodeJwt(unbound).cnf).toBeUndefined();
      expect((await api('/sample/mtls/hello', unbound)).status).toBe(403);
      expect((await api('/sample/hello', unbound)).status).toBe(200);
    });
  });

  describe('x-forwarded-client-cert comes from Envoy only', () => {
    const forged = () => `Cert="${encodeURIComponent(svcCert.certPem)}";Subject="CN=orders-svc"`;

    it('drops a client’s forged XFCC and edge proof: no certificate, no authentication (SANITIZE_SET)', async () => {
      const res = await token(ids.tls, undefined, { 'x-forwarded-client-cert': forged(), 'x-authmesh-edge-proof': 'guessed' });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'invalid_client' });
    });

    it('refuses XFCC sent straight to the gateway port (400 invalid_request)', async () => {
      const res = await fetch(`${s.gateway.baseUrl}/oauth2/token`, {
        method: 'POST',
        headers: { ...form, 'x-forwarded-client-cert': forged() },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: ids.tls, scope: 'sample.read' }).toString(),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    });
  });

  it('advertises the mTLS methods and certificate-bound tokens through Envoy (RFC 8705 §2, §3.3)', async () => {
    const res = await call('/.well-known/oauth-authorization-server', { cert: svcCert });
    expect(res.status).toBe(200);
    expect(res.body.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth']));
    expect(res.body.tls_client_certificate_bound_access_tokens).toBe(true);
  });
});
