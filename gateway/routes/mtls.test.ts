// Mutual TLS (RFC 8705) through the real gateway and mesh, with certificates made by openssl in the
// test. The certificate arrives as Envoy forwards it (x-forwarded-client-cert plus the edge
// secret); the real-Envoy path is test/e2e/mtls.test.ts. Covered: tls_client_auth by SAN and by
// subject DN (§2.1), self_signed_tls_client_auth (§2.2), certificate-bound tokens and their
// introspection (§3), the per-client requirement (§3.4), XFCC refused without the edge secret,
// ext_authz enforcing the binding, metadata (§3.3, §5) and RFC 7591 registration.
import { createPublicKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, CreateClientRequest, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { DeviceAuthorizationRequest, IntrospectTokenRequest, RevokeTokenRequest, TokenRequest } from '../../gen/ts/authmesh/token/v1/token.js';
import { AuthorizationService, CheckRequest } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { rejection } from '../../services/code/code-test-support.js';
import { certificateThumbprint } from '../../services/core/oauth/index.js';
import { createRpcClient } from '../../services/core/rpc/index.js';
import { certFactory, type CertFactory, type TestCert } from '../../test/support/certs.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { authorizationRedirect, basicAuth, createFixtures, ORDERS, postForm, REDIRECT, type Fixtures } from './route-test-support.js';

const EDGE_SECRET = 'edge-secret-'.padEnd(48, 'x');
const MTLS_BASE = 'https://mtls.auth.example.com';

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

/** x-forwarded-client-cert as Envoy writes it (SANITIZE_SET, cert + chain + subject + URI/DNS). */
function xfcc(cert: TestCert): string {
  const pem = encodeURIComponent(cert.certPem);
  return `Hash=${certificateThumbprint(cert.der)};Cert="${pem}";Chain="${pem}";Subject="CN=x";URI=;DNS=svc.example.com`;
}

const fromEdge = (cert: TestCert) => ({ 'x-forwarded-client-cert': xfcc(cert), 'x-authmesh-edge-proof': EDGE_SECRET });

describe('Mutual TLS at the gateway (RFC 8705)', () => {
  let t: TestGateway;
  let f: Fixtures;
  let certs: CertFactory;
  let tokenUrl: string;
  let ca: TestCert;
  let svcCert: TestCert;
  let otherCaCert: TestCert;
  let wrongSanCert: TestCert;
  let selfCert: TestCert;
  let otherSelfCert: TestCert;
  const ids = { san: '', dn: '', self: '', required: '', requiredSecret: '', secretClient: '', secret: '' };

  beforeAll(async () => {
    certs = certFactory();
    ca = certs.ca('ca', '/CN=authmesh test CA');
    const otherCa = certs.ca('other-ca', '/CN=other CA');
    svcCert = certs.leaf('svc', '/O=Example/CN=orders-svc', { issuer: ca, san: 'DNS:svc.example.com' });
    otherCaCert = certs.leaf('svc-other-ca', '/O=Example/CN=orders-svc', { issuer: otherCa, san: 'DNS:svc.example.com' });
    wrongSanCert = certs.leaf('svc-wrong-san', '/O=Example/CN=billing', { issuer: ca, san: 'DNS:billing.example.com' });
    selfCert = certs.leaf('self', '/CN=self-signed client');
    otherSelfCert = certs.leaf('self2', '/CN=self-signed client');
    const bundle = join(certs.dir, 'bundle.pem');
    writeFileSync(bundle, ca.certPem);
    t = await startTestGateway({ AUTHMESH_MTLS_CA: bundle, AUTHMESH_MTLS_EDGE_SECRET: EDGE_SECRET, AUTHMESH_MTLS_BASE_URL: MTLS_BASE });
    f = await createFixtures(t);
    tokenUrl = `${t.baseUrl}/oauth2/token`;
    const bearer = await t.bearer();
    const create = async (client: Partial<Client>) =>
      t.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: Client.fromPartial({ clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL, grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS], scopes: ['read'], ...client }),
        }),
        { bearer },
      );
    ids.san = (await create({ clientName: 'mtls san', tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_TLS_CLIENT_AUTH, tlsClientAuthSanDns: 'svc.example.com' })).client!.clientId;
    ids.dn = (await create({ clientName: 'mtls dn', tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_TLS_CLIENT_AUTH, tlsClientAuthSubjectDn: 'CN=orders-svc,O=Example' })).client!.clientId;
    const jwk = createPublicKey(selfCert.keyPem).export({ format: 'jwk' });
    ids.self = (await create({ clientName: 'mtls self', tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH, jwks: { keys: [jwk] } })).client!.clientId;
    const required = await create({ clientName: 'bound required', tlsClientCertificateBoundAccessTokens: true });
    ids.required = required.client!.clientId;
    ids.requiredSecret = required.clientSecret;
  }, 90_000);

  afterAll(async () => {
    await t?.close();
    certs?.cleanup();
  });

  const mtlsToken = (clientId: string, cert: TestCert | undefined, headers: Record<string, string> = {}) =>
    postForm(tokenUrl, new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: 'read' }).toString(), { ...(cert ? fromEdge(cert) : {}), ...headers });

  async function verify(jwt: string) {
    const jwks = createRemoteJWKSet(new URL(`${t.baseUrl}/.well-known/jwks.json`));
    return (await jwtVerify(jwt, jwks, { issuer: t.baseUrl, typ: 'at+jwt' })).payload;
  }

  describe('tls_client_auth (RFC 8705 §2.1)', () => {
    it('authenticates by a subjectAltName dNSName and binds the token to the certificate (cnf.x5t#S256, §3.1)', async () => {
      const res = await mtlsToken(ids.san, svcCert);
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body.token_type).toBe('Bearer');
      expect(await verify(body.access_token as string)).toMatchObject({ client_id: ids.san, cnf: { 'x5t#S256': certificateThumbprint(svcCert.der) } });
    });

    it('authenticates by subject DN (RFC 4514 string)', async () => {
      expect((await mtlsToken(ids.dn, svcCert)).status).toBe(200);
    });

    it('refuses a certificate with the right name from a CA that is not trusted', async () => {
      const res = await mtlsToken(ids.san, otherCaCert);
      expect(res.status).toBe(401);
      expect(await json(res)).toMatchObject({ error: 'invalid_client' });
    });

    it('refuses a trusted certificate that carries another name', async () => {
      expect((await mtlsToken(ids.san, wrongSanCert)).status).toBe(401);
      expect((await mtlsToken(ids.dn, wrongSanCert)).status).toBe(401);
    });

    it('refuses the client_id alone, without a certificate', async () => {
      expect((await mtlsToken(ids.san, undefined)).status).toBe(401);
    });

    it('authenticates at the PAR (RFC 9126 §2) and device authorization (RFC 8628 §3.1) endpoints too, ', async () => {
      const bearer = await t.bearer();
      const client = await t.anon.client.createClient(
        CreateClientRequest.fromPartial({
          client: Client.fromPartial({
            clientName: 'mtls browser and device app',
            clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
            grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE, GrantType.GRANT_TYPE_DEVICE_CODE],
            redirectUris: [REDIRECT],
            scopes: ['read'],
            tokenEndpointAuthMethod: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_TLS_CLIENT_AUTH,
            tlsClientAuthSanDns: 'svc.example.com',
          }),
        }),
        { bearer },
      );
      const id = client.client!.clientId;
      const push = (cert: TestCert | undefined) =>
        postForm(
          `${t.baseUrl}/oauth2/par`,
          new URLSearchParams({ client_id: id, response_type: 'code', redirect_uri: REDIRECT, scope: 'read', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }).toString(),
          cert ? fromEdge(cert) : {},
        );
      expect((await push(svcCert)).status).toBe(201);
      expect((await push(undefined)).status).toBe(401);
      expect((await push(wrongSanCert)).status).toBe(401);
      const device = (cert: TestCert | undefined) => postForm(`${t.baseUrl}/oauth2/device_authorization`, new URLSearchParams({ client_id: id, scope: 'read' }).toString(), cert ? fromEdge(cert) : {});
      expect((await device(undefined)).status).toBe(401);
      const started = await device(svcCert);
      expect(started.status).toBe(200);
      expect(await json(started)).toMatchObject({ device_code: expect.any(String), user_code: expect.any(String) });
    });

    it('refuses a certificate named over gRPC by anyone but the edge: copying a certificate proves no key (RFC 8705 §2)', async () => {
      const cert = { certificate: svcCert.der, chain: [] };
      const grant = { $case: 'clientCredentials' as const, value: { scope: 'read', resource: [] } };
      const mutualTls = { credential: { $case: 'mutualTls' as const, value: { clientId: ids.san, certificate: cert } } };
      const calls: [string, () => Promise<unknown>][] = [
        ['Token, mutual_tls credential', () => t.anon.token.token(TokenRequest.fromPartial({ client: mutualTls, grant }))],
        ['Token, client_certificate', () => t.anon.token.token(TokenRequest.fromPartial({ client: { credential: { $case: 'clientId', value: ids.san } }, clientCertificate: cert, grant }))],
        ['IntrospectToken', () => t.anon.token.introspectToken(IntrospectTokenRequest.fromPartial({ client: mutualTls, token: 'x' }))],
        ['RevokeToken', () => t.anon.token.revokeToken(RevokeTokenRequest.fromPartial({ client: mutualTls, token: 'x' }))],
        ['DeviceAuthorization', () => t.anon.token.deviceAuthorization(DeviceAuthorizationRequest.fromPartial({ client: mutualTls, scope: 'read' }))],
      ];
      for (const [name, call] of calls) expect((await rejection(call())).code, name).toBe('invalid_request');
      // The same certificate through the edge (the gateway, a mesh member) still authenticates.
      expect((await mtlsToken(ids.san, svcCert)).status).toBe(200);
    });

    it('does not let a certificate stand in for a secret client’s secret', async () => {
      expect((await mtlsToken(f.basic.id, svcCert)).status).toBe(401);
    });
  });

  describe('self_signed_tls_client_auth (RFC 8705 §2.2)', () => {
    it('authenticates the certificate whose key is in the client’s jwks', async () => {
      const res = await mtlsToken(ids.self, selfCert);
      expect(res.status).toBe(200);
      expect(decodeJwt((await json(res)).access_token as string).cnf).toEqual({ 'x5t#S256': certificateThumbprint(selfCert.der) });
    });

    it('refuses another self-signed certificate with the same subject', async () => {
      expect((await mtlsToken(ids.self, otherSelfCert)).status).toBe(401);
    });
  });

  describe('certificate-bound tokens for any client (RFC 8705 §3)', () => {
    it('binds a secret client’s token to the certificate it presents, and introspection reports cnf (§3.2)', async () => {
      const res = await postForm(tokenUrl, 'grant_type=client_credentials&scope=read', { authorization: basicAuth(f.basic.id, f.basic.secret), ...fromEdge(selfCert) });
      expect(res.status).toBe(200);
      const token = (await json(res)).access_token as string;
      const x5t = certificateThumbprint(selfCert.der);
      expect(decodeJwt(token).cnf).toEqual({ 'x5t#S256': x5t });
      const intro = await postForm(`${t.baseUrl}/oauth2/introspect`, new URLSearchParams({ token }).toString(), { authorization: basicAuth(f.basic.id, f.basic.secret) });
      expect(await json(intro)).toMatchObject({ active: true, token_type: 'Bearer', cnf: { 'x5t#S256': x5t } });
    });

    it('exchanges its own certificate-bound token only over mutual TLS with that certificate (RFC 8693 §5)', async () => {
      const subjectToken = (await json(await postForm(tokenUrl, 'grant_type=client_credentials&scope=read', { authorization: basicAuth(f.basic.id, f.basic.secret), ...fromEdge(selfCert) }))).access_token as string;
      const exchange = (cert: TestCert | undefined) =>
        postForm(tokenUrl, new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: subjectToken, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token', audience: ORDERS }).toString(), {
          authorization: basicAuth(f.basic.id, f.basic.secret),
          ...(cert ? fromEdge(cert) : {}),
        });
      for (const cert of [undefined, otherSelfCert]) {
        const stolen = await exchange(cert);
        expect(stolen.status).toBe(400);
        expect(await json(stolen)).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('bound to a client certificate') });
      }
      const ok = await exchange(selfCert);
      expect(ok.status).toBe(200);
      expect(decodeJwt((await json(ok)).access_token as string).cnf).toEqual({ 'x5t#S256': certificateThumbprint(selfCert.der) });
    });

    it('refuses a client that registered tls_client_certificate_bound_access_tokens when it comes without a certificate (§3.4)', async () => {
      const without = await postForm(tokenUrl, 'grant_type=client_credentials&scope=read', { authorization: basicAuth(ids.required, ids.requiredSecret) });
      expect(without.status).toBe(400);
      expect(await json(without)).toMatchObject({ error: 'invalid_request' });
      const withCert = await postForm(tokenUrl, 'grant_type=client_credentials&scope=read', { authorization: basicAuth(ids.required, ids.requiredSecret), ...fromEdge(svcCert) });
      expect(withCert.status).toBe(200);
      expect(decodeJwt((await json(withCert)).access_token as string).cnf).toEqual({ 'x5t#S256': certificateThumbprint(svcCert.der) });
    });
  });

  describe("a public client's refresh token is bound to its certificate (RFC 8705 §4)", () => {
    const refresh = (refreshToken: string, cert: TestCert | undefined) =>
      postForm(tokenUrl, new URLSearchParams({ grant_type: 'refresh_token', client_id: f.pub, refresh_token: refreshToken }).toString(), cert ? fromEdge(cert) : {});

    it('refuses a refresh without the certificate or with another one, consuming nothing; the certificate holder refreshes', async () => {
      const verifier = 'v'.repeat(43);
      const redirect = await authorizationRedirect(t, f.pub, f.userId, 'read', verifier);
      const body = new URLSearchParams({ grant_type: 'authorization_code', client_id: f.pub, code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier });
      const res = await postForm(tokenUrl, body.toString(), fromEdge(selfCert));
      expect(res.status).toBe(200);
      const tokens = await json(res);
      const x5t = certificateThumbprint(selfCert.der);
      expect(decodeJwt(tokens.access_token as string).cnf).toEqual({ 'x5t#S256': x5t });
      const rt = tokens.refresh_token as string;
      for (const cert of [undefined, otherSelfCert]) {
        const stolen = await refresh(rt, cert);
        expect(stolen.status).toBe(400);
        expect(await json(stolen)).toMatchObject({ error: 'invalid_grant' });
      }
      // Neither refusal consumed the token: the holder of the certificate refreshes, and the
      // successor stays bound.
      const ok = await refresh(rt, selfCert);
      expect(ok.status).toBe(200);
      const next = await json(ok);
      expect(decodeJwt(next.access_token as string).cnf).toEqual({ 'x5t#S256': x5t });
      expect((await refresh(next.refresh_token as string, otherSelfCert)).status).toBe(400);
    });

    it('leaves a public client without a certificate unbound', async () => {
      const verifier = 'w'.repeat(43);
      const redirect = await authorizationRedirect(t, f.pub, f.userId, 'read', verifier);
      const body = new URLSearchParams({ grant_type: 'authorization_code', client_id: f.pub, code: redirect.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier });
      const tokens = await json(await postForm(tokenUrl, body.toString()));
      expect(decodeJwt(tokens.access_token as string).cnf).toBeUndefined();
      expect((await refresh(tokens.refresh_token as string, undefined)).status).toBe(200);
    });
  });

  describe('x-forwarded-client-cert is believed only from Envoy', () => {
    it.each([
      ['without the edge proof', (c: TestCert) => ({ 'x-forwarded-client-cert': xfcc(c) })],
      ['with a wrong edge proof', (c: TestCert) => ({ 'x-forwarded-client-cert': xfcc(c), 'x-authmesh-edge-proof': `${EDGE_SECRET}y` })],
      ['with the proof sent twice', (c: TestCert) => ({ 'x-forwarded-client-cert': xfcc(c), 'x-authmesh-edge-proof': `${EDGE_SECRET}, ${EDGE_SECRET}` })],
    ])('refuses XFCC sent straight to the gateway %s (400 invalid_request), issuing nothing', async (_, headers) => {
      const res = await postForm(tokenUrl, new URLSearchParams({ grant_type: 'client_credentials', client_id: ids.san, scope: 'read' }).toString(), headers(svcCert));
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'invalid_request' });
    });

    it('refuses it on every gateway route, not only the token endpoint', async () => {
      const res = await fetch(`${t.baseUrl}/.well-known/openid-configuration`, { headers: { 'x-forwarded-client-cert': xfcc(svcCert) } });
      expect(res.status).toBe(400);
    });

    it('refuses two XFCC elements even with the proof (someone appended a certificate)', async () => {
      const res = await mtlsToken(ids.san, undefined, { 'x-forwarded-client-cert': `${xfcc(svcCert)},${xfcc(selfCert)}`, 'x-authmesh-edge-proof': EDGE_SECRET });
      expect(res.status).toBe(400);
    });
  });

  describe('ext_authz enforces the binding (RFC 8705 §3)', () => {
    let bound: string;
    let unbound: string;
    beforeAll(async () => {
      bound = (await json(await mtlsToken(ids.san, svcCert))).access_token as string;
      unbound = (await json(await postForm(tokenUrl, 'grant_type=client_credentials&scope=read', { authorization: basicAuth(f.basic.id, f.basic.secret) }))).access_token as string;
    });
    const check = async (token: string, cert: TestCert | undefined, ext: Record<string, string> = {}) => {
      const authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', `127.0.0.1:${t.mesh.port}`);
      try {
        return await authz.check(
          CheckRequest.fromPartial({
            attributes: {
              source: { certificate: cert ? encodeURIComponent(cert.certPem) : '' },
              contextExtensions: ext,
              request: { http: { method: 'GET', path: '/x', host: 'api.example', headers: { authorization: `Bearer ${token}` } } },
            },
          }),
        );
      } finally {
        authz.close();
      }
    };
    const status = (r: Awaited<ReturnType<typeof check>>) => (r.httpResponse?.$case === 'deniedResponse' ? r.httpResponse.value.status?.code : 200);

    it('allows a bound token with its certificate', async () => {
      expect(status(await check(bound, svcCert))).toBe(200);
    });

    it('refuses a bound token without a certificate, or with another one (401 invalid_token)', async () => {
      for (const cert of [undefined, wrongSanCert]) {
        const r = await check(bound, cert);
        expect(status(r)).toBe(401);
        expect(r.httpResponse?.$case === 'deniedResponse' && r.httpResponse.value.body).toContain('invalid_token');
      }
    });

    it('a route requiring a client certificate refuses a request without one, even with an unbound token', async () => {
      expect(status(await check(unbound, undefined, { client_certificate: 'required' }))).toBe(403);
      expect(status(await check(unbound, selfCert, { client_certificate: 'required' }))).toBe(200);
      expect(status(await check(unbound, undefined))).toBe(200);
    });
  });

  it('publishes the methods, bound tokens and the mTLS endpoint aliases (RFC 8705 §2, §3.3, §5)', async () => {
    const meta = await json(await fetch(`${t.baseUrl}/.well-known/oauth-authorization-server`));
    expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth']));
    expect(meta.tls_client_certificate_bound_access_tokens).toBe(true);
    expect(meta.mtls_endpoint_aliases).toEqual({
      token_endpoint: `${MTLS_BASE}/oauth2/token`,
      introspection_endpoint: `${MTLS_BASE}/oauth2/introspect`,
      revocation_endpoint: `${MTLS_BASE}/oauth2/revoke`,
      userinfo_endpoint: `${MTLS_BASE}/oauth2/userinfo`,
      pushed_authorization_request_endpoint: `${MTLS_BASE}/oauth2/par`,
      device_authorization_endpoint: `${MTLS_BASE}/oauth2/device_authorization`,
    });
  });

  describe('RFC 7591 registration of mTLS clients', () => {
    const register = async (body: unknown) =>
      fetch(`${t.baseUrl}/oauth2/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${await t.bearer()}` }, body: JSON.stringify(body) });

    it('registers a tls_client_auth client that then authenticates with its certificate', async () => {
      const res = await register({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'svc.example.com', grant_types: ['client_credentials'], scope: 'read', tls_client_certificate_bound_access_tokens: true });
      expect(res.status).toBe(201);
      const info = await json(res);
      expect(info).toMatchObject({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'svc.example.com', tls_client_certificate_bound_access_tokens: true });
      expect(info.client_secret).toBeUndefined();
      expect((await mtlsToken(info.client_id as string, svcCert)).status).toBe(200);
    });

    it.each([
      ['two expected names (RFC 8705 §2.1.2: exactly one)', { tls_client_auth_san_dns: 'svc.example.com', tls_client_auth_subject_dn: 'CN=orders-svc' }],
      ['no expected name', {}],
      ['an unreadable subject DN', { tls_client_auth_subject_dn: 'not a dn' }],
    ])('refuses tls_client_auth with %s', async (_, extra) => {
      const res = await register({ token_endpoint_auth_method: 'tls_client_auth', grant_types: ['client_credentials'], ...extra });
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'invalid_client_metadata' });
    });

    it('refuses self_signed_tls_client_auth without jwks', async () => {
      const res = await register({ token_endpoint_auth_method: 'self_signed_tls_client_auth', grant_types: ['client_credentials'] });
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({ error: 'invalid_client_metadata' });
    });
  });
});
