// The soak's end-of-run checks (bench/soak): acknowledged writes are read back from the store side
// (review F9), so a write the store lost cannot hide behind a cached copy; and each failed request
// on a protected route is explained from Envoy's access log (issue 18).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failedEdgeRequests } from '../../bench/soak/edge-diagnostics.js';
import { missingWrites } from '../../bench/soak/setup.js';
import { hasErrorCode } from '../../services/core/errors/index.js';
import { createMemoryGrid, createReadThroughCache, datesToJson, jsonWithDates } from '../../services/core/grid/index.js';
import { createPgliteStore, type Client, type Store } from '../../services/core/store/index.js';

describe('soak read-back of acknowledged writes', () => {
  let store: Store;
  beforeAll(async () => {
    store = await createPgliteStore();
  }, 60_000);
  afterAll(async () => {
    await store?.close();
  });

  const newClient = async () =>
    store.clients.create({
      clientId: `soak-${randomBytes(6).toString('hex')}`,
      name: 'soak client',
      clientType: 'confidential',
      redirectUris: [],
      grantTypes: ['client_credentials'],
      scopes: ['sample.read'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      skipConsent: false,
      audience: [],
      metadata: {},
    });

  it('counts what the store has as kept and what it lacks as lost', async () => {
    const kept = await newClient();
    expect(await missingWrites(store, [{ kind: 'client', id: kept.clientId }, { kind: 'client', id: 'never-written' }, { kind: 'user', id: 'never-written' }])).toBe(2);
  });

  it('readback_is_not_hidden_by_a_cached_copy (F9: a row the store lost still served from the grid copy counts as lost)', async () => {
    const grid = createMemoryGrid();
    try {
      // The client service's read path: the grid copy first, the store on a miss.
      const cache = createReadThroughCache<Client>({
        grid,
        name: 'clients',
        load: async (id) => {
          try {
            return await store.clients.get(id);
          } catch (err) {
            if (hasErrorCode(err, 'not_found')) return undefined;
            throw err;
          }
        },
        toJson: (c) => datesToJson(c),
        fromJson: (j) => jsonWithDates<Client>(j, ['createdAt', 'updatedAt']),
        version: (c) => c.version,
      });
      const lost = await newClient();
      expect(await cache.get(lost.clientId)).toBeDefined();
      // The store loses the row behind the cache's back (no eviction): the cached read still finds it…
      await store.clients.delete(lost.clientId);
      expect((await cache.get(lost.clientId))?.clientId).toBe(lost.clientId);
      // …the store-side read-back does not.
      expect(await missingWrites(store, [{ kind: 'client', id: lost.clientId }])).toBe(1);
    } finally {
      await grid.close();
    }
  });
});

describe('soak edge diagnostics', () => {
  it('lists the failed requests to protected routes with Envoy’s flags and details, and nothing else', () => {
    const line = (path: string, status: number, flags: string, details: string) =>
      JSON.stringify({ time: '2026-12-01T09:31:51.533Z', method: 'GET', path, status, flags, details, duration_ms: 249 });
    const log = [
      line('/sample/hello', 200, '-', 'via_upstream'),
      line('/sample/hello', 401, 'UAEX', 'ext_authz_denied'),
      line('/sample/hello', 503, 'UAEX', 'ext_authz_error'),
      line('/oauth2/token', 503, 'UF', 'upstream_reset_before_response_started{connection_failure}'),
      'not json',
      '{"truncated":',
    ].join('\n');
    expect(failedEdgeRequests(log, '/sample/', [200, 401, 403])).toEqual([
      { at: Date.parse('2026-12-01T09:31:51.533Z'), path: '/sample/hello', status: 503, flags: 'UAEX', details: 'ext_authz_error', durationMs: 249 },
    ]);
  });
});
