// The store and grid decorators change no behaviour: the one Store suite and the one Grid suite
// run against the wrapped forms unchanged. And they measure: every operation's latency, and its
// failures as errors, labelled by operation names from the interfaces.
import { describe, expect, it } from 'vitest';
import { describeGridContract } from '../grid/grid-contract.js';
import { createMemoryGrid } from '../grid/memory-grid.js';
import { createReadThroughCache } from '../grid/read-through.js';
import { createPgliteStore } from '../store/pglite-store.js';
import { describeStoreContract } from '../store/store-contract.js';
import { instrumentGrid, instrumentStore } from './instrument.js';
import { createMetrics } from './metrics.js';

function fakeClock() {
  let t = Date.UTC(2030, 0, 1);
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describeGridContract('memory grid, measured (services/core/metrics instrumentGrid)', async () => {
  const clock = fakeClock();
  return { grid: instrumentGrid(createMemoryGrid({ now: clock.now }), createMetrics({ defaultMetrics: false })), advance: clock.advance };
});

describeStoreContract('pglite (main thread), measured (services/core/metrics instrumentStore)', async () =>
  instrumentStore(await createPgliteStore({ thread: 'main' }), createMetrics({ defaultMetrics: false })),
);

const value = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1]);

describe('store and grid measurement', () => {
  it('records grid latency per map and operation, and a failed operation as an error', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const grid = instrumentGrid(createMemoryGrid(), metrics);
    const codes = grid.map<string>('codes');
    await codes.set('k', 'v');
    expect(await codes.take('k')).toBe('v');
    // A programmer error rejects (RangeError) and counts as a failure of that operation.
    await expect(codes.set('k', 'v', -1)).rejects.toThrow(RangeError);
    await grid.close();
    // A closed grid rejects every operation (temporarily_unavailable).
    await expect(codes.get('k')).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    const text = (await metrics.exposition()).body;
    expect(value(text, 'authmesh_grid_operation_duration_seconds_count{map="codes",operation="set"}')).toBe(2);
    expect(value(text, 'authmesh_grid_operation_duration_seconds_count{map="codes",operation="take"}')).toBe(1);
    expect(value(text, 'authmesh_grid_operation_errors_total{map="codes",operation="set"}')).toBe(1);
    expect(value(text, 'authmesh_grid_operation_errors_total{map="codes",operation="get"}')).toBe(1);
    expect(text).not.toMatch(/authmesh_grid_operation_errors_total\{map="codes",operation="take"\} [1-9]/);
  });

  it('records store latency per role and method, and a refused call as an error', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const store = instrumentStore(await createPgliteStore({ thread: 'main' }), metrics);
    try {
      await store.audit.append({ type: 'login.failure', subject: 's' });
      await expect(store.audit.list({ after: '12a' })).rejects.toMatchObject({ code: 'invalid_request' });
      const text = (await metrics.exposition()).body;
      expect(value(text, 'authmesh_store_operation_duration_seconds_count{operation="audit.append"}')).toBe(1);
      expect(value(text, 'authmesh_store_operation_errors_total{operation="audit.list"}')).toBe(1);
      expect(text).not.toMatch(/authmesh_store_operation_errors_total\{operation="audit.append"\}/);
    } finally {
      await store.close();
    }
  });

  it('counts read-through cache hits and misses on a measured grid (the cache hit ratio)', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const grid = instrumentGrid(createMemoryGrid(), metrics);
    const cache = createReadThroughCache<{ n: number }>({ grid, name: 'things', load: async (k) => (k === 'absent' ? undefined : { n: 1 }), toJson: (v) => v, fromJson: (j) => j as { n: number } });
    await cache.get('a'); // miss: loaded and filled
    await cache.get('a'); // hit
    await cache.get('a'); // hit
    await cache.get('absent'); // miss
    const text = (await metrics.exposition()).body;
    expect(value(text, 'authmesh_cache_lookups_total{cache="things",result="hit"}')).toBe(2);
    expect(value(text, 'authmesh_cache_lookups_total{cache="things",result="miss"}')).toBe(2);
    await grid.close();
  });
});
