import type { Page, PageRequest, RefreshToken } from './types.js';

export type RotateResult =
  /** `graceful`: the token had been rotated already, within the grace window; `next` is a sibling successor. */
  | { outcome: 'rotated'; previous: RefreshToken; graceful?: boolean }
  | { outcome: 'reused'; previous: RefreshToken }
  | { outcome: 'not_found' };

export type ActiveListRequest = PageRequest & { now?: Date };

export interface RefreshTokenStore {
  /** @throws AlreadyExists, NotFound when the client or user does not exist. */
  create(token: RefreshToken): Promise<RefreshToken>;
  /** @throws NotFound */
  get(tokenHash: string): Promise<RefreshToken>;
  /**
   * Exchanges oldHash for `next` atomically (RFC 9700 §4.14.2): of any number of concurrent
   * rotations of one token exactly one gets 'rotated'. A token already rotated, revoked or expired
   * gives 'reused', and the caller is expected to revoke the family. `next` must carry the family
   * of the old token (InvalidRequest otherwise).
   *
   * With `graceMs` > 0 (the reuse grace window), a token whose first rotation happened at most
   * graceMs before `now` (or after it: a concurrent caller's clock reading), and which is neither
   * revoked nor expired, is rotated again: `next` is
   * stored as one more successor in the same family, the old token keeps its first rotatedAt and
   * replacedBy (the window never slides), and the result says `graceful: true`. Concurrent
   * rotations within the window all succeed. Outside it the rules above apply unchanged.
   */
  rotate(oldHash: string, next: RefreshToken, now: Date, options?: { graceMs?: number }): Promise<RotateResult>;
  /** Revokes every not yet revoked token of the family; returns how many. */
  revokeFamily(familyId: string, now: Date): Promise<number>;
  /** Idempotent: an already revoked token keeps its revokedAt. @throws NotFound */
  revoke(tokenHash: string, now: Date): Promise<void>;
  /** Active tokens only (not rotated, revoked or expired), newest first. */
  listByUser(userId: string, request?: ActiveListRequest): Promise<Page<RefreshToken>>;
  listByClient(clientId: string, request?: ActiveListRequest): Promise<Page<RefreshToken>>;
  revokeByUser(userId: string, now: Date): Promise<number>;
  revokeByClient(clientId: string, now: Date): Promise<number>;
  /**
   * Removes expired tokens; returns how many. Rotated tokens are kept until they expire so that
   * a replay is still recognised as reuse.
   */
  deleteExpired(now: Date): Promise<number>;
}
