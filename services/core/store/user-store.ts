import type { NewUser, Page, PageRequest, User, UserPatch } from './types.js';

export interface LockoutPolicy {
  /** Failures in a row that lock the account. */
  threshold: number;
  lockMs: number;
}

export interface LoginFailureResult {
  failedLoginCount: number;
  lockedUntil?: Date;
}

export interface UserStore {
  /** @throws AlreadyExists when the userId, or the username in any letter case, is taken. */
  create(user: NewUser): Promise<User>;
  /** @throws NotFound */
  get(userId: string): Promise<User>;
  /** Case-insensitive; undefined when no user has that name. */
  getByUsername(username: string): Promise<User | undefined>;
  /** Ordered by userId. */
  list(request?: PageRequest): Promise<Page<User>>;
  /** Bumps version and updatedAt. @throws NotFound, Conflict, AlreadyExists (username taken) */
  update(userId: string, patch: UserPatch, expectedVersion?: number): Promise<User>;
  /** Also removes the user's consents and refresh tokens. @throws NotFound */
  delete(userId: string): Promise<void>;
  /**
   * Counts a failed login atomically and locks the account for lockMs once the count reaches the
   * threshold. A failure after an expired lock starts a new count. Does not bump version, so an
   * admin edit in flight is not turned into a Conflict by a stranger guessing passwords.
   * @throws NotFound
   */
  recordLoginFailure(userId: string, now: Date, policy: LockoutPolicy): Promise<LoginFailureResult>;
  /** Resets the failure count and lock. @throws NotFound */
  recordLoginSuccess(userId: string): Promise<void>;
}
