import type { GrantAccessToken, NewRevocation, Revocation } from './types.js';

/**
 * The durable record of revocations that the grid serves hot (services/core/rpc/revocation-list.ts).
 * Written before a revocation is acknowledged; read only to repopulate a grid bucket that is
 * missing (a grid restart, or a partition lost with its backup).
 */
export interface RevocationStore {
  /**
   * Records a revocation. Idempotent: recording one again keeps the first revokedAt and the later
   * of the two expiresAt. @throws InvalidRequest for an empty or over-long id (255 characters)
   * or a bucket that is not a non-negative 32-bit integer.
   */
  add(revocation: NewRevocation): Promise<void>;
  /** The revocations of one bucket still in force at `now` (expiresAt after it), by kind and id. */
  listBucket(bucket: number, now: Date): Promise<Revocation[]>;
  /** Removes the revocations whose expiresAt is at or before `now`; returns how many. */
  deleteExpired(now: Date): Promise<number>;
}

/**
 * Which access tokens each grant produced (an authorization code's redemption, a refresh-token
 * family), so that revoking the grant revokes them (RFC 6749 §4.1.2, RFC 7009 §2.1) even after
 * the grid lost everything.
 */
export interface GrantTokenStore {
  /**
   * Records that the grant produced the token. Idempotent.
   * @throws InvalidRequest for an empty or over-long (255 characters) grant id or jti.
   */
  add(token: GrantAccessToken): Promise<void>;
  /**
   * Removes and returns the grant's tokens that are still live at `now` (expired ones are dropped
   * too): what revoking the grant must revoke. A second call returns what was added since.
   */
  take(grantId: string, now: Date): Promise<GrantAccessToken[]>;
  /** Removes the rows of expired tokens; returns how many. */
  deleteExpired(now: Date): Promise<number>;
}
