// The revocation list against the real embedded store (PGlite) and the in-process grid: what a
// grid that lost entries, or everything, still answers (issue 11 item 3). The same behaviour on a
// real Hazelcast cluster that loses members is drilled in test/e2e/revocation-faults.test.ts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../errors/index.js';
import { createMemoryGrid, type Grid } from '../grid/index.js';
import { createPgliteStore, type RevocationStore, type Store } from '../store/index.js';
import { createRevocationList, REVOCATIONS_MAP, revocationBucket, revocationsOf } from './revocation-list.js';

const jti = () => randomBytes(16).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The real store's revocations, counting the SQL reads a check makes. */
function counting(inner: RevocationStore) {
  const counts = { listBucket: 0 };
  const store: RevocationStore = {
    add: (r) => inner.add(r),
    listBucket: (bucket, now) => {
      counts.listBucket++;
      return inner.listBucket(bucket, now);
    },
    deleteExpired: (now) => inner.deleteExpired(now),
  };
  return { store, counts };
}

/**
 * The real grid with its revocation reads stalled, as a member that stops answering (killed, the
 * client failing over, or paused) holds them: stalled reads settle only at release(), with what
 * the grid held then. Writes and every other map go through.
 */
function stallingReads(inner: Grid) {
  const stalled: Array<() => void> = [];
  let stalling = true;
  const grid: Grid = {
    map<V>(name: string) {
      const m = inner.map<V>(name);
      if (name !== REVOCATIONS_MAP) return m;
      return {
        ...m,
        get: (key: string) => (stalling ? new Promise<V | undefined>((resolve, reject) => stalled.push(() => m.get(key).then(resolve, reject))) : m.get(key)),
      };
    },
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return {
    grid,
    release() {
      stalling = false;
      for (const settle of stalled.splice(0)) settle();
    },
  };
}

/** The real store's revocations, failing every bucket read while `down` (a database restarting). */
function restartingStore(inner: RevocationStore) {
  const state = { down: false, listBucket: 0 };
  const store: RevocationStore = {
    add: (r) => inner.add(r),
    listBucket: (bucket, now) => {
      state.listBucket++;
      return state.down ? Promise.reject(new TemporarilyUnavailable('the database is temporarily unavailable')) : inner.listBucket(bucket, now);
    },
    deleteExpired: (now) => inner.deleteExpired(now),
  };
  return { store, state };
}

/** `count` fresh jtis that all fall into one bucket. */
function jtisInOneBucket(count: number): string[] {
  const first = jti();
  const bucket = revocationBucket('access_token', first);
  const found = [first];
  while (found.length < count) {
    const candidate = jti();
    if (revocationBucket('access_token', candidate) === bucket) found.push(candidate);
  }
  return found;
}

describe('revocation list', () => {
  let store: Store;
  const grids: Grid[] = [];
  const newGrid = () => {
    const g = createMemoryGrid();
    grids.push(g);
    return g;
  };

  beforeAll(async () => {
    store = await createPgliteStore();
  }, 60_000);
  afterAll(async () => {
    for (const g of grids) await g.close();
    await store?.close();
  });

  it('keeps every revocation after a full grid loss (a new, empty grid), and nothing else becomes revoked', async () => {
    const until = nowSeconds() + 600;
    const revoked = Array.from({ length: 20 }, jti);
    const before = createRevocationList({ grid: newGrid(), store: store.revocations });
    for (const id of revoked) await before.revoke('access_token', id, until);

    const after = createRevocationList({ grid: newGrid(), store: store.revocations });
    for (const id of revoked) expect(await after.isRevoked('access_token', id)).toBe(true);
    expect(await after.isRevoked('access_token', jti())).toBe(false);
  });

  it('keeps a grant revocation after a full grid loss, apart from a jti of the same value', async () => {
    const gid = jti();
    const before = createRevocationList({ grid: newGrid(), store: store.revocations });
    await before.revoke('grant', gid, nowSeconds() + 600);
    expect(await before.isRevoked('grant', gid)).toBe(true);
    expect(await before.isRevoked('access_token', gid)).toBe(false);

    const after = createRevocationList({ grid: newGrid(), store: store.revocations });
    expect(await after.isRevoked('grant', gid)).toBe(true);
    expect(await after.isRevoked('access_token', gid)).toBe(false);
    expect(await after.isRevoked('grant', jti())).toBe(false);
  });

  it('checks a token by its jti, every source jti and its grant (revocationsOf)', () => {
    expect(revocationsOf({ jti: 'a' })).toEqual([['access_token', 'a']]);
    expect(revocationsOf({ jti: 'a', src_jti: ['b', 'c'], gid: 'g' })).toEqual([
      ['access_token', 'a'],
      ['access_token', 'b'],
      ['access_token', 'c'],
      ['grant', 'g'],
    ]);
  });

  it('keeps a revocation whose bucket entry alone was lost (a partition lost with its backup), and puts the bucket back', async () => {
    const grid = newGrid();
    const list = createRevocationList({ grid, store: store.revocations });
    const id = jti();
    await list.revoke('access_token', id, nowSeconds() + 600);
    const key = `b${revocationBucket('access_token', id)}`;
    await grid.map(REVOCATIONS_MAP).delete(key);

    expect(await list.isRevoked('access_token', id)).toBe(true);
    expect(await grid.map<Record<string, number>>(REVOCATIONS_MAP).get(key)).toMatchObject({ [`at:${id}`]: expect.any(Number) });
  });

  it('answers from the grid alone once a bucket is present: no SQL on the hot path', async () => {
    const { store: spied, counts } = counting(store.revocations);
    const list = createRevocationList({ grid: newGrid(), store: spied });
    const id = jti();
    await list.revoke('access_token', id, nowSeconds() + 600);
    const readsAfterRevoke = counts.listBucket;
    for (let i = 0; i < 50; i++) expect(await list.isRevoked('access_token', id)).toBe(true);
    expect(counts.listBucket).toBe(readsAfterRevoke);
  });

  it('reloads a lost bucket with one SQL read however many checks arrive at once', async () => {
    const id = jti();
    await createRevocationList({ grid: newGrid(), store: store.revocations }).revoke('access_token', id, nowSeconds() + 600);
    const { store: spied, counts } = counting(store.revocations);
    const list = createRevocationList({ grid: newGrid(), store: spied });
    const answers = await Promise.all(Array.from({ length: 50 }, () => list.isRevoked('access_token', id)));
    expect(answers.every(Boolean)).toBe(true);
    expect(counts.listBucket).toBe(1);
  });

  it('loses none of 20 concurrent revocations into one bucket from two processes, even racing a reload', async () => {
    const grid = newGrid();
    const a = createRevocationList({ grid, store: store.revocations });
    const b = createRevocationList({ grid, store: store.revocations });
    const ids = jtisInOneBucket(20);
    const until = nowSeconds() + 600;
    await Promise.all([...ids.map((id, i) => (i % 2 === 0 ? a : b).revoke('access_token', id, until)), a.isRevoked('access_token', ids[0]!)]);
    for (const id of ids) expect(await b.isRevoked('access_token', id)).toBe(true);
    const bucket = await grid.map<Record<string, number>>(REVOCATIONS_MAP).get(`b${revocationBucket('access_token', ids[0]!)}`);
    for (const id of ids) expect(bucket?.[`at:${id}`]).toBe(until);
  });

  it('does not acknowledge a revocation the store refused, and the grid does not hold it', async () => {
    const grid = newGrid();
    const list = createRevocationList({ grid, store: store.revocations });
    const tooLong = 'j'.repeat(256);
    await expect(list.revoke('access_token', tooLong, nowSeconds() + 600)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await grid.map(REVOCATIONS_MAP).get(`b${revocationBucket('access_token', tooLong)}`)).toBeUndefined();
  });

  it('never answers "not revoked" when neither the grid nor the store can answer', async () => {
    const grid = createMemoryGrid();
    const { store: failing, state } = restartingStore(store.revocations);
    const list = createRevocationList({ grid, store: failing });
    await grid.close();
    state.down = true;
    await expect(list.isRevoked('access_token', jti())).rejects.toBeInstanceOf(TemporarilyUnavailable);
    await expect(list.revoke('access_token', jti(), nowSeconds() + 600)).rejects.toBeInstanceOf(TemporarilyUnavailable);
  });

  it('check_answers_from_the_store_while_the_grid_does_not (issue 18: a member killed or paused holds grid reads past the ext_authz deadline)', async () => {
    const shared = newGrid();
    const until = nowSeconds() + 600;
    const other = createRevocationList({ grid: shared, store: store.revocations });
    const revokedBefore = jti();
    await other.revoke('access_token', revokedBefore, until);
    const live = jti();
    // This instance's reads of the revocation buckets never come back until released.
    const stalling = stallingReads(shared);
    const list = createRevocationList({ grid: stalling.grid, store: store.revocations, storeHedgeMs: 20 });
    try {
      // Before the hedge these never settled (the test ran into its timeout): now SQL answers.
      expect(await list.isRevoked('access_token', revokedBefore)).toBe(true);
      expect(await list.isRevoked('access_token', live)).toBe(false);
      expect(list.storeAnswers()).toBe(2);
    } finally {
      stalling.release();
    }
  }, 20_000);

  it('revocation_acknowledged_elsewhere_is_honoured_while_the_grid_is_stalled (the store read never misses an acknowledged revocation)', async () => {
    const shared = newGrid();
    const stalling = stallingReads(shared);
    const list = createRevocationList({ grid: stalling.grid, store: store.revocations, storeHedgeMs: 20 });
    try {
      // This instance has answered for the token before (not revoked then).
      const id = jti();
      const warmUp = list.isRevoked('access_token', id);
      expect(await warmUp).toBe(false);
      // Another instance revokes it; once acknowledged, this one must refuse it, grid or not.
      await createRevocationList({ grid: shared, store: store.revocations }).revoke('access_token', id, nowSeconds() + 600);
      expect(await list.isRevoked('access_token', id)).toBe(true);
    } finally {
      stalling.release();
    }
  }, 20_000);

  it('check_survives_a_database_restart_after_warm (issue 18: every bucket is in the grid, so a check needs no SQL)', async () => {
    const grid = newGrid();
    const { store: restarting, state } = restartingStore(store.revocations);
    const list = createRevocationList({ grid, store: restarting });
    const revoked = jti();
    await list.revoke('access_token', revoked, nowSeconds() + 600);
    // One bucket exists (the revocation's); warm loads all the others.
    expect(await list.warm()).toBe(1023);
    expect(await list.warm()).toBe(0);
    state.down = true;
    const reads = state.listBucket;
    // Before warm, a check of a token in a bucket nobody had loaded failed here (503 at the edge).
    for (let i = 0; i < 50; i++) expect(await list.isRevoked('access_token', jti())).toBe(false);
    expect(await list.isRevoked('access_token', revoked)).toBe(true);
    expect(state.listBucket).toBe(reads);
  }, 60_000);

  it('lets a revocation lapse when what it revokes expires: out of the bucket on the next write, pruned from the store', async () => {
    let now = Date.now();
    const clock = () => new Date(now);
    const grid = newGrid();
    const list = createRevocationList({ grid, store: store.revocations, now: clock });
    const ids = jtisInOneBucket(2);
    const short = ids[0]!;
    const long = ids[1]!;
    const t0 = Math.floor(now / 1000);
    await list.revoke('access_token', short, t0 + 60);
    expect(await list.isRevoked('access_token', short)).toBe(true);
    now += 61_000;
    expect(await list.isRevoked('access_token', short)).toBe(false);
    // Already expired: nothing to record.
    await list.revoke('access_token', jti(), t0);
    await list.revoke('access_token', long, t0 + 3_600);
    const bucket = await grid.map<Record<string, number>>(REVOCATIONS_MAP).get(`b${revocationBucket('access_token', long)}`);
    expect(Object.keys(bucket ?? {})).not.toContain(`at:${short}`);
    expect(bucket?.[`at:${long}`]).toBe(t0 + 3_600);
    // The first revocation of a process prunes the store: the lapsed row is gone from SQL.
    const later = createRevocationList({ grid: newGrid(), store: store.revocations, now: () => new Date(now + 7_200_000) });
    await later.revoke('access_token', jti(), t0 + 86_400);
    await expect.poll(async () => (await store.revocations.listBucket(revocationBucket('access_token', short), new Date(0))).some((r) => r.id === short)).toBe(false);
  });
});
