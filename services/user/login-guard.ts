// Password checks with throttling and without user enumeration. Every way a check can fail —
// unknown user, wrong password, disabled or locked account, throttled source — costs one scrypt
// verification and ends the same way for the caller; only the audit trail tells them apart.
//
// Throttling policy, in two dimensions, so that a stranger cannot lock the owner out:
// - per source and account: after `source.threshold` failures for one account from one source
//   address within `source.windowMs`, that source is refused for that account until the window
//   ends (grid counter). Other sources, the owner's among them, are not affected;
// - per account: after `policy.threshold` failures in a row from any sources (a higher cap, against
//   guessing spread over many addresses), new password logins are refused for `policy.lockMs`.
// Neither ends what the owner already has: login sessions and refresh tokens keep working during
// a lock (CheckSession, the code service and the refresh grant do not look at it).
//
// The authentication path reads the store, not the grid copy: the failure counter and lock
// change on every failed attempt without a version bump, and a stale copy could let a correct
// guess through during a lock. One indexed row read is noise next to the scrypt cost.
import { AuthmeshError, SlowDown } from '../core/errors/index.js';
import type { Grid } from '../core/grid/index.js';
import type { Logger } from '../core/log/index.js';
import { generateSecret } from '../core/oauth/index.js';
import type { LockoutPolicy, NewAuditEvent, User, UserStore } from '../core/store/index.js';
import { hashPassword, verifyPassword } from './password-hash.js';
import { toView, type UserCache } from './user-cache.js';
import { isLocked } from './user-message.js';

export interface Attempt {
  /** What the password is checked for, recorded in the audit trail. */
  purpose: 'login' | 'change_password';
  /** The name as typed, recorded only when no user has it (to spot password spraying). */
  username?: string;
  clientId?: string;
  ip?: string;
  /** Who asked, for checks made on behalf of an admin or the user themself. */
  actor?: string;
}

/** Failures from one source for one account before that source is refused, and for how long. */
export interface SourceThrottlePolicy {
  threshold: number;
  windowMs: number;
}

export interface LoginGuardDeps {
  users: UserStore;
  cache: UserCache;
  /** The account-wide lock (failures in a row from any source). */
  policy: LockoutPolicy;
  /** The per-(source, account) throttle. */
  source: SourceThrottlePolicy;
  grid: Grid;
  now(): Date;
  audit(event: NewAuditEvent): Promise<void>;
  log: Logger;
}

export interface LoginGuard {
  /**
   * The user when `password` is theirs and the account may log in now; undefined otherwise
   * (after counting the failure). `user` undefined means no such user: a dummy hash is verified
   * so that the answer takes as long as for a real one.
   */
  check(user: User | undefined, password: string, attempt: Attempt, opts?: { rehash?: boolean }): Promise<User | undefined>;
  /** Computes the dummy hash ahead of the first unknown-user login. */
  warmUp(): Promise<void>;
}

/**
 * Password checks one source address may have running at once. Each costs a full scrypt (128 MiB,
 * a thread-pool slot for ~0.1–0.5 s); without a bound, one source sending a few dozen logins in
 * parallel (unknown usernames are never throttled per account) queued every other user's login
 * past its deadline. Beyond it the source is told to slow down at once, without hashing.
 */
export const MAX_CONCURRENT_CHECKS_PER_SOURCE = 4;

export function createLoginGuard(deps: LoginGuardDeps): LoginGuard {
  const running = new Map<string, number>();
  // A random password nobody knows, hashed at the current cost, so unknown users pay exactly
  // what real ones do.
  let dummy: Promise<string> | undefined;
  const dummyHash = () => (dummy ??= hashPassword(generateSecret()));
  const failuresBySource = deps.grid.map<number>('login-failures-by-source');
  // One counter per account version and source address (an attempt without an address shares one
  // bucket). Failed logins do not bump the version; an admin change (unlock, password reset) does,
  // so it starts every source afresh.
  const sourceKey = (user: User, ip: string | undefined) => `${user.userId}|v${user.version}|${ip ?? '-'}`;

  const fail = async (attempt: Attempt, reason: string, user?: User, extra: Record<string, unknown> = {}) => {
    await deps.audit({
      type: 'login.failure',
      actor: attempt.actor,
      subject: user?.userId,
      clientId: attempt.clientId,
      ip: attempt.ip,
      details: { purpose: attempt.purpose, reason, ...extra },
    });
    return undefined;
  };

  const evict = async (userId: string) => {
    try {
      await deps.cache.evict(userId);
    } catch (err) {
      deps.log.warn({ err, userId }, 'user cache eviction failed');
    }
  };

  // A stored hash below today's parameters is upgraded after a successful login. The expected
  // version makes it lose against any concurrent change (a new password must never be
  // overwritten by the old one). Runs in the background: the caller has already waited once.
  const rehash = (user: User, password: string) => {
    void (async () => {
      try {
        const passwordHash = await hashPassword(password);
        const updated = await deps.users.update(user.userId, { passwordHash }, user.version);
        await deps.cache.put(user.userId, toView(updated));
      } catch (err) {
        if (err instanceof AuthmeshError && (err.code === 'conflict' || err.code === 'not_found')) return;
        // Only the message: a store error's details could echo the statement's arguments (the hash).
        deps.log.warn({ userId: user.userId, error: err instanceof Error ? err.message : String(err) }, 'password rehash failed');
      }
    })();
  };

  return {
    async warmUp() {
      await dummyHash();
    },

    async check(user, password, attempt, opts = {}) {
      const source = attempt.ip ?? '';
      // No address: a mesh caller that named none (an internal service, not a browser).
      if (source === '') return checkOne(user, password, attempt, opts);
      const now = running.get(source) ?? 0;
      // RFC 6585 §4 in spirit: too many at once from one address is slow_down, not a queue.
      if (now >= MAX_CONCURRENT_CHECKS_PER_SOURCE) throw new SlowDown('too many sign-in attempts at once from this address; try again shortly', { metadata: { retry_after: '1' } });
      running.set(source, now + 1);
      try {
        return await checkOne(user, password, attempt, opts);
      } finally {
        const left = (running.get(source) ?? 1) - 1;
        if (left <= 0) running.delete(source);
        else running.set(source, left);
      }
    },
  };

  /** One password check (the body of check, run within the per-source bound). */
  async function checkOne(...[user, password, attempt, opts = {}]: Parameters<LoginGuard['check']>): ReturnType<LoginGuard['check']> {
    if (user === undefined) {
      await verifyPassword(password, await dummyHash());
      // The name tried is not recorded: an unknown username is often a password typed into the
      // wrong field, and the audit trail is readable by every authmesh.read token (ListAuditEvents).
      // Unknown client ids are kept out for the same reason (client-manager.ts).
      return fail(attempt, 'unknown_user');
    }
    const lockedBefore = isLocked(user, deps.now());
    const key = sourceKey(user, attempt.ip);
    const sourceFailures = (await failuresBySource.get(key)) ?? 0;
    const result = await verifyPassword(password, user.passwordHash);
    if (user.disabled) return fail(attempt, 'disabled', user);
    // A fixed lock window: attempts during a lock are refused whatever the password and are
    // not counted, so they neither reveal a correct guess nor extend the lock.
    if (lockedBefore) return fail(attempt, 'locked', user);
    // The same for a throttled source, which affects this source only.
    if (sourceFailures >= deps.source.threshold) return fail(attempt, 'source_throttled', user);
    if (!result.ok) {
      const fromSource = await failuresBySource.increment(key, deps.source.windowMs);
      if (fromSource === deps.source.threshold) {
        await deps.audit({
          type: 'login.source_throttled',
          actor: attempt.actor,
          subject: user.userId,
          clientId: attempt.clientId,
          ip: attempt.ip,
          details: { failures: fromSource, windowSeconds: Math.round(deps.source.windowMs / 1000) },
        });
      }
      let outcome;
      try {
        outcome = await deps.users.recordLoginFailure(user.userId, deps.now(), deps.policy);
      } catch (err) {
        if (err instanceof AuthmeshError && err.code === 'not_found') return fail(attempt, 'unknown_user');
        throw err;
      }
      await evict(user.userId);
      await fail(attempt, 'bad_password', user, { failedLoginCount: outcome.failedLoginCount });
      if (outcome.lockedUntil !== undefined && isLocked(outcome, deps.now())) {
        await deps.audit({
          type: 'login.locked',
          actor: attempt.actor,
          subject: user.userId,
          clientId: attempt.clientId,
          ip: attempt.ip,
          details: { failedLoginCount: outcome.failedLoginCount, lockedUntil: outcome.lockedUntil.toISOString() },
        });
      }
      return undefined;
    }
    // The password matched the row read before the (slow) verification. Re-read: failures
    // recorded meanwhile may have locked the account, an admin may have disabled it or set a
    // new password. This bounds what concurrent guessing can learn to the lock threshold plus
    // the guesses already in flight.
    let fresh: User;
    try {
      fresh = await deps.users.get(user.userId);
    } catch (err) {
      if (err instanceof AuthmeshError && err.code === 'not_found') return fail(attempt, 'unknown_user');
      throw err;
    }
    if (fresh.disabled) return fail(attempt, 'disabled', fresh);
    if (isLocked(fresh, deps.now())) return fail(attempt, 'locked', fresh);
    if (fresh.passwordHash !== user.passwordHash) return fail(attempt, 'password_changed', fresh);
    if (sourceFailures > 0) await failuresBySource.delete(key);
    if (fresh.failedLoginCount !== 0 || fresh.lockedUntil !== undefined) {
      await deps.users.recordLoginSuccess(fresh.userId);
      fresh = { ...fresh, failedLoginCount: 0 };
      delete fresh.lockedUntil;
      await evict(fresh.userId);
    }
    if (result.needsRehash && opts.rehash !== false) rehash(fresh, password);
    return fresh;
  }
}
