// Issue 12 (grid caches after concurrent writes): a disabled user must read as disabled on every
// instance once the disabling write is acknowledged, even when another admin's earlier write to the
// same user reaches the grid after it (the user copy is served to token issuance and GetUser).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { createUserCache, toView } from './user-cache.js';
import { seedUser } from './user-test-support.js';

let t: TestMesh;
beforeAll(async () => {
  t = await startTestMesh();
});
afterAll(async () => {
  await t?.close();
});

describe('user cache after concurrent writes', () => {
  it('a disabled user stays disabled in the cache when an older write’s put lands after the disable', async () => {
    const user = await seedUser(t.store);
    // Two user-service instances on one grid.
    const a = createUserCache(t.mesh.deps.grid, t.store.users);
    const b = createUserCache(t.mesh.deps.grid, t.store.users);
    expect((await a.get(user.userId))?.disabled).toBe(false);
    // Instance A renames the user (version 2); instance B then disables it (version 3).
    const renamed = await t.store.users.update(user.userId, { displayName: 'renamed' });
    const disabled = await t.store.users.update(user.userId, { disabled: true });
    expect(disabled.version).toBe(renamed.version + 1);
    // B's grid put lands first, A's (slow) one after it.
    await b.put(user.userId, toView(disabled));
    await a.put(user.userId, toView(renamed));
    expect({ viaA: (await a.get(user.userId))?.disabled, viaB: (await b.get(user.userId))?.disabled }).toEqual({ viaA: true, viaB: true });
  });

  it('a deleted user is not brought back by a put that lands after the delete', async () => {
    const user = await seedUser(t.store);
    const cache = createUserCache(t.mesh.deps.grid, t.store.users);
    const updated = await t.store.users.update(user.userId, { displayName: 'late' });
    await t.store.users.delete(user.userId);
    await cache.evict(user.userId);
    await cache.put(user.userId, toView(updated));
    expect(await cache.get(user.userId)).toBeUndefined();
  });
});
