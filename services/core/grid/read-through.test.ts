// The read-through cache after concurrent writes: the copy is monotonic in the record's store
// version, so writes whose grid puts land out of order, a read-through fill that loaded the store
// before a write, and a put or fill that lands after a delete never leave an older record (or a
// deleted one) in the grid. Run on the memory grid and, when AUTHMESH_TEST_HAZELCAST_MEMBERS is
// set, on Hazelcast (GridMap.replace there is a remote compare-and-set on the JSON text).
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Grid } from './grid.js';
import { createHazelcastGrid } from './hazelcast-grid.js';
import { createMemoryGrid } from './memory-grid.js';
import { createReadThroughCache, type ReadThroughCache } from './read-through.js';

interface Rec {
  version: number;
  secret: string;
}

const MEMBERS = (process.env.AUTHMESH_TEST_HAZELCAST_MEMBERS ?? '').split(',').map((m) => m.trim()).filter(Boolean);
const CLUSTER = process.env.AUTHMESH_TEST_HAZELCAST_CLUSTER || 'authmesh';

/** A promise and the function that settles it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/** The store as a test drives it: a map of records, and a load that can be held after it read. */
function fakeStoreCache(grid: Grid, name: string, records: Map<string, Rec>, hold?: { key: string; loaded: () => void; release: Promise<void> }) {
  return createReadThroughCache<Rec>({
    grid,
    name,
    load: async (key) => {
      const value = records.get(key);
      if (hold && hold.key === key) {
        hold.loaded();
        await hold.release;
      }
      return value === undefined ? undefined : { ...value };
    },
    toJson: (r) => ({ ...r }),
    fromJson: (j) => j as unknown as Rec,
    version: (r) => r.version,
  });
}

const backends: [string, () => Promise<Grid>][] = [['memory', async () => createMemoryGrid()]];
const opened: Grid[] = [];
if (MEMBERS.length > 0) {
  backends.push([
    'hazelcast',
    async () => {
      const g = await createHazelcastGrid({ members: MEMBERS, clusterName: CLUSTER });
      opened.push(g);
      return g;
    },
  ]);
}
afterAll(async () => {
  await Promise.all(opened.map((g) => g.close()));
});

describe.each(backends)('read-through cache on the %s grid', (label, makeGrid) => {
  const setup = async (hold?: Parameters<typeof fakeStoreCache>[3]) => {
    const grid = await makeGrid();
    const name = `rt-${randomUUID()}`;
    const records = new Map<string, Rec>();
    return { grid, name, records, cache: (h = hold): ReadThroughCache<Rec> => fakeStoreCache(grid, name, records, h) };
  };

  it('load_racing_a_put_does_not_overwrite_the_newer_copy', async () => {
    const loaded = gate();
    const release = gate();
    const { records, cache } = await setup();
    records.set('c1', { version: 1, secret: 'old' });
    const reader = cache({ key: 'c1', loaded: loaded.open, release: release.opened });
    const writer = cache(undefined);
    const reading = reader.get('c1');
    await loaded.opened;
    // The rotation: store written, then the grid copy replaced.
    records.set('c1', { version: 2, secret: 'new' });
    await writer.put('c1', { version: 2, secret: 'new' });
    release.open();
    await reading;
    expect(await writer.get('c1')).toEqual({ version: 2, secret: 'new' });
  });

  it('an_older_version_put_after_a_newer_one_leaves_the_newer_copy (two rotations landing out of order)', async () => {
    const { records, cache } = await setup();
    const c = cache(undefined);
    records.set('c1', { version: 3, secret: 'second-rotation' });
    // Both store writes are done (versions 2 then 3); their grid puts land in the other order.
    await c.put('c1', { version: 3, secret: 'second-rotation' });
    await c.put('c1', { version: 2, secret: 'first-rotation' });
    expect(await c.get('c1')).toEqual({ version: 3, secret: 'second-rotation' });
    // And a newer version still replaces it.
    records.set('c1', { version: 4, secret: 'third' });
    await c.put('c1', { version: 4, secret: 'third' });
    expect(await c.get('c1')).toEqual({ version: 4, secret: 'third' });
  });

  it('concurrent_puts_of_many_versions_settle_on_the_newest', async () => {
    const { records, cache } = await setup();
    const caches = [cache(undefined), cache(undefined), cache(undefined)];
    records.set('c1', { version: 12, secret: 's12' });
    const order = [5, 12, 1, 9, 3, 11, 2, 7, 10, 4, 8, 6];
    await Promise.all(order.map((v, i) => caches[i % caches.length]!.put('c1', { version: v, secret: `s${v}` })));
    expect(await caches[0]!.get('c1')).toEqual({ version: 12, secret: 's12' });
  });

  it('a_deleted_record_is_not_resurrected_by_a_late_put', async () => {
    const { records, cache } = await setup();
    const c = cache(undefined);
    records.set('c1', { version: 1, secret: 's' });
    await c.put('c1', { version: 1, secret: 's' });
    // Version 2 written, then the record deleted; the version-2 put lands after the delete's evict.
    records.delete('c1');
    await c.evict('c1');
    await c.put('c1', { version: 2, secret: 's2' });
    expect(await c.get('c1')).toBeUndefined();
  });

  it('a_deleted_record_is_not_resurrected_by_a_stale_read_through_fill', async () => {
    const loaded = gate();
    const release = gate();
    const { records, cache } = await setup();
    records.set('c1', { version: 1, secret: 's' });
    const reader = cache({ key: 'c1', loaded: loaded.open, release: release.opened });
    const deleter = cache(undefined);
    // The reader misses the grid and reads the record from the store, then stalls.
    const reading = reader.get('c1');
    await loaded.opened;
    records.delete('c1');
    await deleter.evict('c1');
    release.open();
    // Its fill lands after the delete: refused by the tombstone.
    expect(await reading).toEqual({ version: 1, secret: 's' });
    expect(await deleter.get('c1')).toBeUndefined();
    expect(await reader.get('c1')).toBeUndefined();
  });

  it('a_tombstone_is_read_as_absent_and_a_recreated_record_is_read_from_the_store', async () => {
    const { records, cache } = await setup();
    const c = cache(undefined);
    records.set('c1', { version: 4, secret: 'first-life' });
    await c.put('c1', { version: 4, secret: 'first-life' });
    records.delete('c1');
    await c.evict('c1');
    expect(await c.get('c1')).toBeUndefined();
    // Created again (the store starts it at version 1): the tombstone refuses to cache it, so
    // readers get it from the store until the tombstone expires.
    records.set('c1', { version: 1, secret: 'second-life' });
    await c.put('c1', { version: 1, secret: 'second-life' });
    expect(await c.get('c1')).toEqual({ version: 1, secret: 'second-life' });
    records.set('c1', { version: 2, secret: 'second-life-v2' });
    expect(await c.get('c1')).toEqual({ version: 2, secret: 'second-life-v2' });
  });

  it('caches_what_it_loaded_when_nothing_raced_it', async () => {
    const { grid, name, records } = await setup();
    let loads = 0;
    records.set('c1', { version: 1, secret: 's' });
    const cache = createReadThroughCache<Rec>({
      grid,
      name,
      load: async (key) => {
        loads += 1;
        return records.get(key);
      },
      toJson: (r) => ({ ...r }),
      fromJson: (j) => j as unknown as Rec,
      version: (r) => r.version,
    });
    expect(await cache.get('c1')).toEqual({ version: 1, secret: 's' });
    expect(await cache.get('c1')).toEqual({ version: 1, secret: 's' });
    expect(loads).toBe(1);
  });
});

// Clock-driven, so on the in-process grid only (a remote client's timers must not see a fake clock).
describe('read-through cache on the memory grid: the deadline inside a copy', () => {
  it('serves_a_copy_only_until_its_ttl_then_reads_the_store (replace drops the grid TTL)', async () => {
    const grid = createMemoryGrid();
    const name = `rt-${randomUUID()}`;
    let now = 1_000_000;
    const realNow = Date.now;
    Date.now = () => now;
    try {
      const records = new Map<string, Rec>([['c1', { version: 1, secret: 'a' }]]);
      const cache = createReadThroughCache<Rec>({
        grid,
        name,
        ttlMs: 60_000,
        load: async (key) => records.get(key),
        toJson: (r) => ({ ...r }),
        fromJson: (j) => j as unknown as Rec,
        version: (r) => r.version,
      });
      await cache.put('c1', { version: 1, secret: 'a' });
      // Version 2 reached the store, but its put never reached the grid (the grid was down).
      records.set('c1', { version: 2, secret: 'b' });
      await cache.put('c1', { version: 0, secret: 'ignored' });
      expect(await cache.get('c1')).toEqual({ version: 1, secret: 'a' });
      now += 60_001;
      expect(await cache.get('c1')).toEqual({ version: 2, secret: 'b' });
    } finally {
      Date.now = realNow;
    }
  });
});
