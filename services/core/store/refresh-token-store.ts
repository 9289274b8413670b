import type { Page, PageRequest, RefreshToken } from './types.js';

/** A rotation: who presents the old token, and the successor that replaces it. */
export interface RotationRequest {
  /** The client presenting the token (RFC 6749 §6): another client's attempt consumes nothing. */
  clientId: string;
  /** SHA-256 of the successor token (its tokenHash). */
  nextHash: string;
  /** The reuse grace window in ms; 0 or absent: strict. */
  graceMs?: number;
}

export type RotateResult =
  /**
   * `previous`: the old token as stored after the exchange; `next`: the stored successor, which
   * inherits family, client, user, scope, audience, auth time and expiry (no sliding window).
   * `graceful`: the token had been rotated already, within the grace window; `next` is a sibling.
   */
  | { outcome: 'rotated'; previous: RefreshToken; next: RefreshToken; graceful?: boolean }
  /** Presented again after its rotation (outside the grace window): the caller revokes the family. */
  | { outcome: 'reused'; previous: RefreshToken }
  /**
   * Not usable and not a sign of theft: another client's, expired, revoked, or its user's account
   * is disabled (it may be enabled again). Nothing changed.
   */
  | { outcome: 'refused'; reason: 'client' | 'expired' | 'revoked' | 'user'; previous: RefreshToken }
  | { outcome: 'not_found' };

export type ActiveListRequest = PageRequest & { now?: Date };

export interface RefreshTokenStore {
  /** @throws AlreadyExists, NotFound when the client or user does not exist. */
  create(token: RefreshToken): Promise<RefreshToken>;
  /** @throws NotFound */
  get(tokenHash: string): Promise<RefreshToken>;
  /**
   * Exchanges the token oldHash for a successor atomically (RFC 9700 §4.14.2): of any number of
   * concurrent rotations of one token exactly one gets 'rotated'. Checked in this order, each
   * changing nothing: unknown → 'not_found'; issued to another client, expired, revoked, of a
   * user whose account is disabled → 'refused'; already rotated → 'reused' (the caller is
   * expected to revoke the family). The account is read from the store, the source of truth, so
   * a grant ends with its account even when the revocation that disabling it triggers was missed.
   *
   * With `graceMs` > 0 (the reuse grace window), a token whose first rotation happened at most
   * graceMs before `now` (or after it: a concurrent caller's clock reading), and which is neither
   * revoked nor expired, is rotated again: the successor is stored as one more in the same
   * family, the old token keeps its first rotatedAt and replacedBy (the window never slides), and
   * the result says `graceful: true`. Concurrent rotations within the window all succeed.
   * Outside it the rules above apply unchanged.
   *
   * A live token is exchanged in one statement where the engine allows it (PostgreSQL, PGlite);
   * everything else, and every rotation on MariaDB, in one locking transaction.
   */
  rotate(oldHash: string, request: RotationRequest, now: Date): Promise<RotateResult>;
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
