import type { NewRevocation, Revocation } from './types.js';

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
