// The service registry over real gRPC: CRUD with unique audiences, update masks and etags, grid
// copies kept coherent, LookupService, CheckAccess decisions, and the access policy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessDecision, Service as ServiceMsg, type Endpoint, type Service } from '../../gen/ts/authmesh/service/v1/service.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { uniqueId } from '../../test/support/ids.js';

let t: TestMesh;
let admin: string;
let reader: string;

beforeAll(async () => {
  t = await startTestMesh();
  admin = await t.bearer();
  reader = await t.bearer({ scope: ['authmesh.read'], sub: 'reader' });
});
afterAll(async () => {
  await t?.close();
});


const ep = (method: string, path: string, scope = '', allowedClientIds: string[] = []): Endpoint => ({ method, path, scope, allowedClientIds });

const ENDPOINTS = [
  ep('GET', '/orders', 'orders.read'),
  ep('POST', '/orders', 'orders.write'),
  ep('GET', '/orders/{id}', 'orders.read'),
  ep('DELETE', '/orders/{id}', 'orders.admin', ['ops-client']),
  ep('*', '/public/**'),
  ep('GET', '/files/**', 'files.read'),
];

const svc = (over: Partial<Service> = {}): Partial<Service> => ({
  serviceId: uniqueId('svc'),
  displayName: 'Orders API',
  description: 'orders',
  audience: `https://${uniqueId('api')}.example.com`,
  endpoints: ENDPOINTS,
  ...over,
});

const create = (s: Partial<Service>) => t.anon.service.createService({ service: ServiceMsg.fromPartial(s) }, { bearer: admin });
const get = (serviceId: string) => t.anon.service.getService({ serviceId }, { bearer: admin });
const update = (s: Partial<Service>, updateMask?: string[]) =>
  t.anon.service.updateService({ service: ServiceMsg.fromPartial(s), updateMask }, { bearer: admin });

describe('access policy', () => {
  it('refuses admin RPCs without a token and writes with a read-only token', async () => {
    const s = ServiceMsg.fromPartial(svc());
    await expect(t.anon.service.createService({ service: s })).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(t.anon.service.createService({ service: s }, { bearer: reader })).rejects.toMatchObject({ code: 'insufficient_scope' });
    await expect(t.store.services.get(s.serviceId)).rejects.toMatchObject({ code: 'not_found' });
    await expect(t.anon.service.listServices({ pageSize: 1, pageToken: '' })).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(t.anon.service.getService({ serviceId: 'x' })).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(t.anon.service.updateService({ service: s, updateMask: [] }, { bearer: reader })).rejects.toMatchObject({ code: 'insufficient_scope' });
    await expect(t.anon.service.deleteService({ serviceId: 'x' }, { bearer: reader })).rejects.toMatchObject({ code: 'insufficient_scope' });
    const weak = await t.bearer({ scope: ['orders.read'] });
    await expect(t.anon.service.lookupService({ audience: 'x' }, { bearer: weak })).rejects.toMatchObject({ code: 'insufficient_scope' });
    await expect(t.anon.service.checkAccess({ serviceId: 'x', audience: '', method: 'GET', path: '/', scopes: [], clientId: '' })).rejects.toMatchObject({
      code: 'invalid_token',
    });
  });

  it('lets readers read, and the mesh credential read, look up and check access (not administer)', async () => {
    const { service } = await create(svc());
    expect((await t.anon.service.getService({ serviceId: service!.serviceId }, { bearer: reader })).service?.audience).toBe(service!.audience);
    expect((await t.anon.service.lookupService({ audience: service!.audience }, { bearer: reader })).service?.serviceId).toBe(service!.serviceId);
    expect((await t.peers.service.lookupService({ audience: service!.audience })).service?.serviceId).toBe(service!.serviceId);
    const r = await t.peers.service.checkAccess({ serviceId: service!.serviceId, audience: '', method: 'GET', path: '/orders', scopes: ['orders.read'], clientId: 'c' });
    expect(r.decision).toBe(AccessDecision.ACCESS_DECISION_ALLOW);
    // ext_authz (token service) reads a service by id with the mesh credential.
    expect((await t.peers.service.getService({ serviceId: service!.serviceId })).service?.serviceId).toBe(service!.serviceId);
    await expect(t.peers.service.deleteService({ serviceId: service!.serviceId })).rejects.toMatchObject({ code: 'invalid_token' });
  });
});

describe('CreateService, GetService, ListServices', () => {
  it('creates a service with computed scopes and etag, and reads it back', async () => {
    const { service } = await create(svc());
    expect(service).toMatchObject({ etag: '1', scopes: ['files.read', 'orders.admin', 'orders.read', 'orders.write'], endpoints: ENDPOINTS });
    expect(service!.createTime).toBeInstanceOf(Date);
    expect((await get(service!.serviceId)).service).toEqual(service);
    const events = await t.store.audit.list({ type: 'service.created', subject: service!.serviceId });
    expect(events.items[0]?.actor).toBe('test-admin');
  });

  it('generates a service_id when empty and ignores client-sent scopes', async () => {
    const { service } = await create(svc({ serviceId: '', scopes: ['bogus'], endpoints: [ep('GET', '/a', 'a')] }));
    expect(service!.serviceId).toMatch(/^s_[A-Za-z0-9_-]{22}$/);
    expect(service!.scopes).toEqual(['a']);
  });

  it('rejects a duplicate id or audience with ALREADY_EXISTS', async () => {
    const s = svc();
    await create(s);
    await expect(create({ ...s, audience: 'https://other.example.com' })).rejects.toMatchObject({ code: 'already_exists' });
    const other = svc({ audience: s.audience });
    await expect(create(other)).rejects.toMatchObject({ code: 'already_exists' });
    await expect(t.store.services.get(other.serviceId as string)).rejects.toMatchObject({ code: 'not_found' });
  });

  it.each([
    ['missing audience', { audience: '' }],
    ['audience with a space', { audience: 'https://a b' }],
    ['bad service_id', { serviceId: 'a b' }],
    ['lower-case method', { endpoints: [ep('get', '/a')] }],
    ['relative path', { endpoints: [ep('GET', 'a')] }],
    ['** not last', { endpoints: [ep('GET', '/a/**/b')] }],
    ['dot-dot in template', { endpoints: [ep('GET', '/a/../b')] }],
    ['bad scope', { endpoints: [ep('GET', '/a', 'a b')] }],
    ['bad allowed client id', { endpoints: [ep('GET', '/a', '', ['a b'])] }],
  ])('rejects %s with INVALID_REQUEST and stores nothing', async (_n, over) => {
    const s = svc(over);
    await expect(create(s)).rejects.toMatchObject({ code: 'invalid_request' });
    if (/^[A-Za-z0-9._:-]{1,128}$/.test(s.serviceId as string)) {
      await expect(t.store.services.get(s.serviceId as string)).rejects.toMatchObject({ code: 'not_found' });
    }
  });

  it('rejects a missing service, and unknown or empty ids on get', async () => {
    await expect(t.anon.service.createService({ service: undefined }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(get('no-such-service')).rejects.toMatchObject({ code: 'not_found' });
    await expect(get('')).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('pages through services without repeats', async () => {
    for (let i = 0; i < 3; i++) await create(svc());
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const res = await t.anon.service.listServices({ pageSize: 2, pageToken }, { bearer: reader });
      expect(res.services.length).toBeLessThanOrEqual(2);
      seen.push(...res.services.map((s) => s.serviceId));
      pageToken = res.nextPageToken;
      pages++;
    } while (pageToken !== '' && pages < 100);
    const all = await t.store.services.list({ pageSize: 1000 });
    expect(seen.sort()).toEqual(all.items.map((s) => s.serviceId).sort());
    expect(pages).toBeGreaterThan(1);
    await expect(t.anon.service.listServices({ pageSize: -5, pageToken: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(t.anon.service.listServices({ pageSize: 2, pageToken: 'nope' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('UpdateService and DeleteService', () => {
  it('changes masked fields, recomputes scopes and keeps both grid copies current', async () => {
    const { service } = await create(svc());
    const id = service!.serviceId;
    await t.peers.service.lookupService({ audience: service!.audience }); // warm the audience copy
    const newAudience = `https://${uniqueId('moved')}.example.com`;
    const res = await update({ serviceId: id, audience: newAudience, endpoints: [ep('GET', '/x', 'x.read')], displayName: 'ignored', etag: '1' }, [
      'audience',
      'endpoints',
    ]);
    expect(res.service).toMatchObject({ audience: newAudience, scopes: ['x.read'], displayName: 'Orders API', etag: '2' });
    expect((await get(id)).service?.audience).toBe(newAudience);
    await expect(t.peers.service.lookupService({ audience: service!.audience })).rejects.toMatchObject({ code: 'not_found' });
    expect((await t.peers.service.lookupService({ audience: newAudience })).service?.scopes).toEqual(['x.read']);
    const check = await t.peers.service.checkAccess({ serviceId: '', audience: newAudience, method: 'GET', path: '/orders', scopes: ['orders.read'], clientId: '' });
    expect(check.decision).toBe(AccessDecision.ACCESS_DECISION_DENY_NO_ENDPOINT);
    expect((await t.store.audit.list({ type: 'service.updated', subject: id })).items).toHaveLength(1);
  });

  it('accepts camelCase mask paths and an empty mask', async () => {
    const { service } = await create(svc());
    expect((await update({ serviceId: service!.serviceId, displayName: 'New' }, ['displayName'])).service?.displayName).toBe('New');
    const full = await update({ ...service!, description: 'full', etag: '' }, []);
    expect(full.service).toMatchObject({ description: 'full', displayName: 'Orders API', etag: '3' });
  });

  it('rejects a stale etag with CONFLICT and changes nothing', async () => {
    const { service } = await create(svc());
    await update({ serviceId: service!.serviceId, displayName: 'v2', etag: '1' }, ['display_name']);
    await expect(update({ serviceId: service!.serviceId, displayName: 'v3', etag: '1' }, ['display_name'])).rejects.toMatchObject({ code: 'conflict' });
    expect((await get(service!.serviceId)).service).toMatchObject({ displayName: 'v2', etag: '2' });
  });

  it.each([
    ['an invalid endpoint', { endpoints: [ep('GET', 'nope')] }, ['endpoints'], 'invalid_request'],
    ['an empty audience', { audience: '' }, ['audience'], 'invalid_request'],
    ['an immutable field', { displayName: 'x' }, ['service_id'], 'invalid_request'],
    ['an output-only field', { displayName: 'x' }, ['scopes'], 'invalid_request'],
    ['an unknown field', { displayName: 'x' }, ['bogus'], 'invalid_request'],
  ])('rejects %s and changes nothing', async (_n, change, mask, code) => {
    const { service } = await create(svc());
    await expect(update({ serviceId: service!.serviceId, ...change }, mask)).rejects.toMatchObject({ code });
    expect((await get(service!.serviceId)).service).toEqual(service);
  });

  it('rejects moving to a taken audience with ALREADY_EXISTS', async () => {
    const a = (await create(svc())).service!;
    const b = (await create(svc())).service!;
    await expect(update({ serviceId: b.serviceId, audience: a.audience }, ['audience'])).rejects.toMatchObject({ code: 'already_exists' });
    expect((await get(b.serviceId)).service).toEqual(b);
  });

  it('rejects unknown services and missing ids', async () => {
    await expect(update({ serviceId: 'no-such-service', displayName: 'x' }, ['display_name'])).rejects.toMatchObject({ code: 'not_found' });
    await expect(update({ serviceId: '', displayName: 'x' }, ['display_name'])).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(t.anon.service.deleteService({ serviceId: 'no-such-service' }, { bearer: admin })).rejects.toMatchObject({ code: 'not_found' });
    await expect(t.anon.service.deleteService({ serviceId: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('deletes a service and evicts both grid copies', async () => {
    const { service } = await create(svc());
    await get(service!.serviceId);
    await t.peers.service.lookupService({ audience: service!.audience });
    await t.anon.service.deleteService({ serviceId: service!.serviceId }, { bearer: admin });
    await expect(get(service!.serviceId)).rejects.toMatchObject({ code: 'not_found' });
    await expect(t.peers.service.lookupService({ audience: service!.audience })).rejects.toMatchObject({ code: 'not_found' });
    await expect(
      t.peers.service.checkAccess({ serviceId: service!.serviceId, audience: '', method: 'GET', path: '/public/x', scopes: [], clientId: '' }),
    ).rejects.toMatchObject({ code: 'not_found' });
    expect((await t.store.audit.list({ type: 'service.deleted', subject: service!.serviceId })).items).toHaveLength(1);
  });
});

describe('LookupService and CheckAccess', () => {
  let service: Service;
  beforeAll(async () => {
    service = (await create(svc())).service!;
  });

  it('looks up by audience; unknown or empty audiences fail', async () => {
    expect((await t.peers.service.lookupService({ audience: service.audience })).service).toEqual(service);
    await expect(t.peers.service.lookupService({ audience: 'https://unknown.example.com' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(t.peers.service.lookupService({ audience: '' })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  const D = AccessDecision;
  it.each([
    ['allow with scope', 'GET', '/orders', ['orders.read'], 'c1', D.ACCESS_DECISION_ALLOW, 'orders.read'],
    ['query string ignored', 'GET', '/orders?page=2', ['orders.read'], 'c1', D.ACCESS_DECISION_ALLOW, 'orders.read'],
    ['insufficient scope', 'GET', '/orders', ['orders.write'], 'c1', D.ACCESS_DECISION_DENY_INSUFFICIENT_SCOPE, 'orders.read'],
    ['method decides', 'POST', '/orders', ['orders.read'], 'c1', D.ACCESS_DECISION_DENY_INSUFFICIENT_SCOPE, 'orders.write'],
    ['unknown method', 'PUT', '/orders', ['orders.write'], 'c1', D.ACCESS_DECISION_DENY_NO_ENDPOINT, ''],
    ['template {id}', 'GET', '/orders/42', ['orders.read'], 'c1', D.ACCESS_DECISION_ALLOW, 'orders.read'],
    ['template does not span segments', 'GET', '/orders/42/x', ['orders.read'], 'c1', D.ACCESS_DECISION_DENY_NO_ENDPOINT, ''],
    ['client not allowed', 'DELETE', '/orders/42', ['orders.admin'], 'c1', D.ACCESS_DECISION_DENY_CLIENT_NOT_ALLOWED, 'orders.admin'],
    ['allowed client without scope', 'DELETE', '/orders/42', [], 'ops-client', D.ACCESS_DECISION_DENY_INSUFFICIENT_SCOPE, 'orders.admin'],
    ['allowed client with scope', 'DELETE', '/orders/42', ['orders.admin'], 'ops-client', D.ACCESS_DECISION_ALLOW, 'orders.admin'],
    ['** with any method', 'PATCH', '/public/a/b/c', [], '', D.ACCESS_DECISION_ALLOW, ''],
    ['** matches its root', 'GET', '/files', ['files.read'], 'c1', D.ACCESS_DECISION_ALLOW, 'files.read'],
    ['** deep', 'GET', '/files/a/b.txt', [], 'c1', D.ACCESS_DECISION_DENY_INSUFFICIENT_SCOPE, 'files.read'],
    ['unknown route closed', 'GET', '/admin', ['orders.read'], 'c1', D.ACCESS_DECISION_DENY_NO_ENDPOINT, ''],
  ])('%s', async (_n, method, path, scopes, clientId, decision, requiredScope) => {
    const r = await t.peers.service.checkAccess({ serviceId: service.serviceId, audience: '', method, path, scopes, clientId });
    expect(r.decision).toBe(decision);
    expect(r.requiredScope).toBe(requiredScope);
    expect(r.endpoint === undefined).toBe(decision === D.ACCESS_DECISION_DENY_NO_ENDPOINT);
  });

  it('finds the service by audience too, and with an admin read token', async () => {
    const r = await t.anon.service.checkAccess(
      { serviceId: '', audience: service.audience, method: 'GET', path: '/orders/1', scopes: ['orders.read'], clientId: '' },
      { bearer: reader },
    );
    expect(r).toMatchObject({ decision: AccessDecision.ACCESS_DECISION_ALLOW, endpoint: ep('GET', '/orders/{id}', 'orders.read') });
  });

  it.each([
    ['dot-dot', { path: '/public/../orders' }, 'invalid_request'],
    ['encoded dot-dot', { path: '/public/%2e%2e/orders' }, 'invalid_request'],
    ['encoded slash', { path: '/public%2F..%2Forders' }, 'invalid_request'],
    ['malformed percent-encoding', { path: '/orders/%zz' }, 'invalid_request'],
    ['relative path', { path: 'orders' }, 'invalid_request'],
    ['missing path', { path: '' }, 'invalid_request'],
    ['missing method', { method: '' }, 'invalid_request'],
    ['bad method', { method: 'G T' }, 'invalid_request'],
    ['no service named', { serviceId: '' }, 'invalid_request'],
    ['audience of another service', { audience: 'https://other.example.com' }, 'invalid_request'],
    ['unknown service', { serviceId: 'no-such-service' }, 'not_found'],
  ])('rejects %s', async (_n, over, code) => {
    const req = { serviceId: service.serviceId, audience: '', method: 'GET', path: '/orders', scopes: ['orders.read'], clientId: '', ...over };
    await expect(t.peers.service.checkAccess(req)).rejects.toMatchObject({ code });
  });
});

describe('dpop_bound_access_tokens_required (RFC 9728 §2, RFC 9449 §7.1)', () => {
  it('is false unless set, set on create, and changed alone through its update mask path', async () => {
    const { service: plain } = await create(svc());
    expect(plain!.dpopBoundAccessTokensRequired).toBe(false);
    const { service } = await create(svc({ dpopBoundAccessTokensRequired: true }));
    expect((await get(service!.serviceId)).service?.dpopBoundAccessTokensRequired).toBe(true);
    expect((await t.peers.service.lookupService({ audience: service!.audience })).service?.dpopBoundAccessTokensRequired).toBe(true);
    // Only the masked field changes: the display name sent alongside is ignored.
    const off = await update({ serviceId: service!.serviceId, dpopBoundAccessTokensRequired: false, displayName: 'ignored' }, ['dpop_bound_access_tokens_required']);
    expect(off.service).toMatchObject({ dpopBoundAccessTokensRequired: false, displayName: 'Orders API', etag: '2' });
    expect((await t.peers.service.lookupService({ audience: service!.audience })).service?.dpopBoundAccessTokensRequired).toBe(false);
    const on = await update({ serviceId: service!.serviceId, dpopBoundAccessTokensRequired: true }, ['dpopBoundAccessTokensRequired']);
    expect(on.service?.dpopBoundAccessTokensRequired).toBe(true);
  });
});
