// Hot copies of users in the grid (read-through 'users'). The copy never holds the password
// hash: only the authentication path needs it, and that path reads the store (see login-guard.ts),
// so the hash never leaves the system of record for the shared grid.
import { createReadThroughCache, datesToJson, jsonWithDates, type Grid, type ReadThroughCache } from '../core/grid/index.js';
import { AuthmeshError } from '../core/errors/index.js';
import type { User, UserStore } from '../core/store/index.js';

export type UserView = Omit<User, 'passwordHash'>;
export type UserCache = ReadThroughCache<UserView>;

const DATE_FIELDS = ['lockedUntil', 'passwordChangedAt', 'createdAt', 'updatedAt'] as const;

// Failed logins change the lock state without a version bump and are evicted rather than
// re-put; a short TTL bounds how long a racing read-through could show a stale lock state.
const TTL_MS = 60_000;

export function toView(user: User): UserView {
  const { passwordHash: _hash, ...view } = user;
  return view;
}

export function createUserCache(grid: Grid, users: UserStore): UserCache {
  return createReadThroughCache<UserView>({
    grid,
    name: 'users',
    ttlMs: TTL_MS,
    async load(userId) {
      try {
        return toView(await users.get(userId));
      } catch (err) {
        if (err instanceof AuthmeshError && err.code === 'not_found') return undefined;
        throw err;
      }
    },
    toJson: datesToJson,
    fromJson: (json) => jsonWithDates<UserView>(json, DATE_FIELDS),
    version: (user) => user.version,
  });
}
