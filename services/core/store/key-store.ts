import type { KeyStatus, NewSigningKey, SigningKey } from './types.js';

export interface KeyStore {
  /** @throws AlreadyExists when the kid is taken. */
  create(key: NewSigningKey): Promise<SigningKey>;
  /** @throws NotFound */
  get(kid: string): Promise<SigningKey>;
  /** Every stored key, newest first. */
  list(): Promise<SigningKey[]>;
  /**
   * Moves a key forward: next → active → retired (next → retired discards an unused key).
   * Stamps activatedAt or retiredAt with `at`; deleteAfter may be set when retiring.
   * Setting the current status again changes nothing.
   * @throws NotFound, Conflict for a backward move (a retired key never signs again).
   */
  setStatus(kid: string, status: KeyStatus, at: Date, options?: { deleteAfter?: Date }): Promise<SigningKey>;
  /** Removes keys whose deleteAfter has passed; returns how many. */
  deleteExpired(now: Date): Promise<number>;
}
