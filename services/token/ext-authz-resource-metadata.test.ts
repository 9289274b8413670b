// ext_authz denials point the client at the route's Protected Resource Metadata (RFC 9728 §5.1),
// so a client that only has a 401 learns where to get a token. Over real gRPC against a real mesh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationService, CheckRequest, type CheckResponse } from '../../gen/ts/envoy/service/auth/v3/external_auth.js';
import { CreateServiceRequest } from '../../gen/ts/authmesh/service/v1/service.js';
import { createRpcClient } from '../core/rpc/index.js';
import { checkServiceBinding } from './ext-authz.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';

describe('ext_authz challenges carry resource_metadata (RFC 9728 §5.1)', () => {
  let t: TestMesh;
  let authz: ReturnType<typeof createRpcClient<typeof AuthorizationService>>;
  let orders: string;
  let ordersMetadata: string;
  const ELSEWHERE = 'https://elsewhere.example/api';
  let DPOP_ONLY: string;

  const check = (authorization: string | undefined, ext: Record<string, string>, path = '/orders/42', method = 'GET') =>
    authz.check(
      CheckRequest.fromPartial({
        attributes: { request: { http: { method, path, host: 'edge', headers: authorization ? { authorization } : {} } }, contextExtensions: ext },
      }),
    );
  const denial = (r: CheckResponse) => {
    if (r.httpResponse?.$case !== 'deniedResponse') throw new Error(`expected a denial, got ${r.httpResponse?.$case}`);
    const headers = Object.fromEntries(r.httpResponse.value.headers.map((h) => [h.header!.key, h.header!.value]));
    return { status: r.httpResponse.value.status?.code, challenge: headers['www-authenticate'] ?? '' };
  };

  beforeAll(async () => {
    t = await startTestMesh();
    orders = `${t.config.issuer}/orders`;
    DPOP_ONLY = `${t.config.issuer}/dpop-only`;
    ordersMetadata = `${t.config.issuer}/.well-known/oauth-protected-resource/orders`;
    const bearer = await t.bearer();
    for (const [serviceId, audience] of [
      ['orders', orders],
      ['elsewhere', ELSEWHERE],
    ]) {
      await t.anon.service.createService(
        CreateServiceRequest.fromPartial({
          service: {
            serviceId,
            audience,
            endpoints: [
              { method: 'GET', path: '/orders/{id}', scope: 'orders.read', allowedClientIds: [] },
              { method: 'POST', path: '/orders', scope: 'orders.write', allowedClientIds: [] },
              { method: 'DELETE', path: '/orders/{id}', scope: '', allowedClientIds: ['someone-else'] },
            ],
          },
        }),
        { bearer },
      );
    }
    await t.anon.service.createService(
      CreateServiceRequest.fromPartial({
        service: { serviceId: 'dpop-only', audience: DPOP_ONLY, dpopBoundAccessTokensRequired: true, endpoints: [{ method: 'GET', path: '/**', scope: '', allowedClientIds: [] }] },
      }),
      { bearer },
    );
    authz = createRpcClient(AuthorizationService, 'envoy.service.auth.v3.Authorization', `127.0.0.1:${t.mesh.port}`);
  }, 60_000);

  afterAll(async () => {
    authz?.close();
    await t?.close();
  });

  it('a request without a token gets 401 naming the metadata, whether the route names the service by audience or by id', async () => {
    for (const ext of [{ audience: orders }, { service_id: 'orders' }] as Record<string, string>[]) {
      const d = denial(await check(undefined, ext));
      expect(d.status, JSON.stringify(ext)).toBe(401);
      expect(d.challenge).toBe(`Bearer realm="${t.config.issuer}", resource_metadata="${ordersMetadata}"`);
    }
  });

  it('a malformed, invalid or foreign-audience token gets 401 with the error and the metadata', async () => {
    const foreign = await t.bearer({ scope: ['orders.read'], audience: ELSEWHERE });
    for (const authorization of ['Basic abc', 'Bearer not.a.jwt', `Bearer ${foreign}`]) {
      const d = denial(await check(authorization, { audience: orders }));
      expect(d.status, authorization.slice(0, 12)).toBe(401);
      expect(d.challenge).toMatch(/error="invalid_(token|request)"/);
      expect(d.challenge).toContain(`resource_metadata="${ordersMetadata}"`);
    }
  });

  it('403 insufficient_scope and 403 for a client the endpoint does not allow name the metadata too', async () => {
    const token = await t.bearer({ scope: ['orders.read'], audience: orders });
    const scope = denial(await check(`Bearer ${token}`, { service_id: 'orders' }, '/orders', 'POST'));
    expect(scope.status).toBe(403);
    expect(scope.challenge).toContain('scope="orders.write"');
    expect(scope.challenge).toContain(`resource_metadata="${ordersMetadata}"`);
    const routeScope = denial(await check(`Bearer ${token}`, { audience: orders, scope: 'orders.admin' }));
    expect(routeScope.challenge).toContain(`resource_metadata="${ordersMetadata}"`);
    const client = denial(await check(`Bearer ${token}`, { audience: orders }, '/orders/42', 'DELETE'));
    expect(client.status).toBe(403);
    expect(client.challenge).toBe(`Bearer realm="${t.config.issuer}", resource_metadata="${ordersMetadata}"`);
  });

  it('leaves the parameter out where this edge serves no document: another origin, or a route naming no registered service', async () => {
    expect(denial(await check(undefined, { audience: ELSEWHERE })).challenge).toBe(`Bearer realm="${t.config.issuer}"`);
    expect(denial(await check(undefined, { service_id: 'elsewhere' })).challenge).toBe(`Bearer realm="${t.config.issuer}"`);
    expect(denial(await check(undefined, { service_id: 'no-such-service' })).challenge).toBe(`Bearer realm="${t.config.issuer}"`);
    // On the edge's origin, but not registered: no pointer to a document that would be a 404.
    expect(denial(await check(undefined, { audience: `${t.config.issuer}/unregistered` })).challenge).toBe(`Bearer realm="${t.config.issuer}"`);
    expect(denial(await check(undefined, {})).challenge).toBe(`Bearer realm="${t.config.issuer}"`);
  });

  it('bearer_token_refused_by_dpop_only_service: a service requiring DPoP-bound tokens refuses a token without cnf.jkt (RFC 9449 §7.1)', async () => {
    const token = await t.bearer({ scope: [], audience: DPOP_ONLY });
    const d = denial(await check(`Bearer ${token}`, { service_id: 'dpop-only' }, '/anything'));
    expect(d.status).toBe(401);
    expect(d.challenge).toContain('error="invalid_token"');
    expect(d.challenge).toContain(`resource_metadata="${t.config.issuer}/.well-known/oauth-protected-resource/dpop-only"`);
    // The same kind of token passes where DPoP is not required.
    const ok = await check(`Bearer ${await t.bearer({ scope: ['orders.read'], audience: orders })}`, { audience: orders });
    expect(ok.httpResponse?.$case).toBe('okResponse');
  });
});

describe('checkServiceBinding (RFC 9449 §7.1)', () => {
  it.each([
    [false, undefined, true],
    [false, { jkt: 'x'.repeat(43) }, true],
    [true, { jkt: 'x'.repeat(43) }, true],
    [true, undefined, false],
  ])('service requires DPoP=%s, cnf=%j → accepted=%s', (required, cnf, accepted) => {
    expect(checkServiceBinding({ dpopBoundAccessTokensRequired: required }, { cnf }) === undefined).toBe(accepted);
  });
});
