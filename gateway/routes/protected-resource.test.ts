// Protected Resource Metadata (RFC 9728) through the real gateway and the real service registry:
// what oauth4webapi's resource discovery reads, which URLs answer, and that a caller can never
// make a document name a resource other than the URL it fetched.
import { request } from 'node:http';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateServiceRequest, Service } from '../../gen/ts/authmesh/service/v1/service.js';
import { DPOP_SIGNING_ALGS } from '../../services/core/oauth/index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { ALLOWED_ORIGIN } from './route-test-support.js';

describe('protected resource metadata (RFC 9728)', () => {
  let t: TestGateway;
  let b: string;
  const wellKnown = (suffix: string) => `${b}/.well-known/oauth-protected-resource${suffix}`;

  beforeAll(async () => {
    t = await startTestGateway({ AUTHMESH_CORS_ORIGINS: ALLOWED_ORIGIN });
    b = t.baseUrl;
    const bearer = await t.bearer();
    const create = (service: Partial<Service>) => t.anon.service.createService(CreateServiceRequest.fromPartial({ service: Service.fromPartial(service) }), { bearer });
    await create({
      displayName: 'Orders API',
      audience: `${b}/orders`,
      endpoints: [
        { method: 'GET', path: '/orders/{id}', scope: 'orders.read', allowedClientIds: [] },
        { method: 'POST', path: '/orders', scope: 'orders.write', allowedClientIds: [] },
        { method: 'GET', path: '/orders/health', scope: '', allowedClientIds: [] },
        { method: 'DELETE', path: '/orders/{id}', scope: 'orders.write', allowedClientIds: [] },
      ],
    });
    await create({ displayName: '', audience: b, endpoints: [{ method: 'GET', path: '/**', scope: 'root.read', allowedClientIds: [] }] });
    // Registered, but on an origin this gateway does not serve.
    await create({ displayName: 'elsewhere', audience: 'https://elsewhere.example/billing', endpoints: [] });
    await create({ displayName: 'DPoP API', audience: `${b}/dpop`, dpopBoundAccessTokensRequired: true, endpoints: [{ method: 'GET', path: '/**', scope: 'd.read', allowedClientIds: [] }] });
    // Registered under a URN: a valid audience, but not a URL anything can be fetched from.
    await create({ displayName: 'urn', audience: 'urn:example:ledger', endpoints: [] });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('oauth4webapi discovers a registered API from its resource identifier; the document comes from the registry', async () => {
    const resource = new URL(`${b}/orders`);
    const res = await oauth.resourceDiscoveryRequest(resource, { [oauth.allowInsecureRequests]: true });
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    // RFC 9728 §3.3: processResourceDiscoveryResponse refuses a document whose resource differs.
    const rs = await oauth.processResourceDiscoveryResponse(resource, res);
    expect(rs).toEqual({
      resource: `${b}/orders`,
      authorization_servers: [b],
      scopes_supported: ['orders.read', 'orders.write'],
      bearer_methods_supported: ['header'],
      resource_name: 'Orders API',
    });
  });

  it('serves a resource without a path at the bare well-known URL (RFC 9728 §3.1), with no resource_name when the service has no name', async () => {
    const res = await oauth.resourceDiscoveryRequest(new URL(b), { [oauth.allowInsecureRequests]: true });
    const rs = await oauth.processResourceDiscoveryResponse(new URL(b), res);
    expect(rs).toEqual({ resource: b, authorization_servers: [b], scopes_supported: ['root.read'], bearer_methods_supported: ['header'] });
  });

  it('says dpop_bound_access_tokens_required, with the accepted proof algorithms, for a service that requires DPoP (RFC 9728 §2)', async () => {
    const rs = await oauth.processResourceDiscoveryResponse(new URL(`${b}/dpop`), await oauth.resourceDiscoveryRequest(new URL(`${b}/dpop`), { [oauth.allowInsecureRequests]: true }));
    expect(rs).toMatchObject({ resource: `${b}/dpop`, dpop_bound_access_tokens_required: true, dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS] });
    const plain = (await (await fetch(wellKnown('/orders'))).json()) as Record<string, unknown>;
    expect(plain).not.toHaveProperty('dpop_bound_access_tokens_required');
  });

  it('answers 404 for URLs no registered resource maps to', async () => {
    for (const suffix of ['/nope', '/orders/', '/Orders', '/orders/1', '/', '/billing', '/urn:example:ledger']) {
      const res = await fetch(wellKnown(suffix));
      expect(res.status, suffix).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'not_found' });
    }
  });

  it('never takes the resource from the Host header (RFC 9728 §3.3): another origin gets no document, and ours keeps its own identifier', async () => {
    // A raw request, since fetch does not let a caller set Host.
    const get = (path: string, host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: new URL(b).port, path, headers: { host } }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    expect((await get('/.well-known/oauth-protected-resource/billing', 'elsewhere.example')).status).toBe(404);
    const ours = await get('/.well-known/oauth-protected-resource/orders', 'evil.example');
    expect(ours.status).toBe(200);
    expect(JSON.parse(ours.body)).toMatchObject({ resource: `${b}/orders`, authorization_servers: [b] });
  });

  it('ignores the query string, answers only GET/HEAD (405 otherwise), and lets configured origins read it', async () => {
    expect((await fetch(`${wellKnown('/orders')}?x=1`)).status).toBe(200);
    const post = await fetch(wellKnown('/orders'), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toContain('GET');
    const cors = await fetch(wellKnown('/orders'), { headers: { origin: ALLOWED_ORIGIN } });
    expect(cors.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    const other = await fetch(wellKnown('/orders'), { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
