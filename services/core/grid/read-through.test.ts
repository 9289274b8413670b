// The read-through cache's one race: a load that read the store before a write must not put its
// older copy over the one the write put (a rotated client secret would work again until the TTL).
import { describe, expect, it } from 'vitest';
import { createMemoryGrid } from './memory-grid.js';
import { createReadThroughCache } from './read-through.js';

interface Rec {
  secret: string;
}

describe('read-through cache', () => {
  it('load_racing_a_put_does_not_overwrite_the_newer_copy', async () => {
    const grid = createMemoryGrid();
    let releaseLoad!: () => void;
    const loadMayFinish = new Promise<void>((r) => (releaseLoad = r));
    let loadStarted!: () => void;
    const started = new Promise<void>((r) => (loadStarted = r));
    const cache = createReadThroughCache<Rec>({
      grid,
      name: `race-${Math.random()}`,
      // The store as the load saw it: the record before the rotation.
      load: async () => {
        loadStarted();
        await loadMayFinish;
        return { secret: 'old' };
      },
      toJson: (r) => ({ ...r }),
      fromJson: (j) => j as unknown as Rec,
    });
    const reading = cache.get('c1');
    await started;
    // The rotation: store written (not modelled), then the grid copy replaced.
    await cache.put('c1', { secret: 'new' });
    releaseLoad();
    // The racing reader began before the rotation finished and may see either; later readers see the new copy.
    await reading;
    expect(await cache.get('c1')).toEqual({ secret: 'new' });
  });

  it('caches what it loaded when nothing raced it', async () => {
    let loads = 0;
    const cache = createReadThroughCache<Rec>({
      grid: createMemoryGrid(),
      name: 'plain',
      load: async () => {
        loads += 1;
        return { secret: 's' };
      },
      toJson: (r) => ({ ...r }),
      fromJson: (j) => j as unknown as Rec,
    });
    expect(await cache.get('c1')).toEqual({ secret: 's' });
    expect(await cache.get('c1')).toEqual({ secret: 's' });
    expect(loads).toBe(1);
  });
});
