import { Conflict, NotFound } from '../errors/index.js';
import type { SqlRow } from './sql-client.js';
import type { SqlArgs, SqlRunner } from './sql-runner.js';

interface Versioned {
  version: number;
  updatedAt: Date;
}

export interface VersionedUpdate<T extends Versioned> {
  /** e.g. 'client', for error descriptions. */
  what: string;
  getForUpdate: string;
  update: string;
  key: SqlArgs;
  /** The fields a patch may change. */
  mutable: readonly (keyof T & string)[];
  decode(row: SqlRow): T;
  encode(entity: T): SqlArgs;
}

/**
 * Read-modify-write under a row lock, so a patch never loses a concurrent change to another
 * field, and optimistic concurrency for callers that send the version they last read.
 */
export async function updateVersioned<T extends Versioned>(
  db: SqlRunner,
  spec: VersionedUpdate<T>,
  patch: object,
  expectedVersion: number | undefined,
): Promise<T> {
  return db.transaction(async (tx) => {
    const row = await tx.first(spec.getForUpdate, spec.key);
    if (row === undefined) throw new NotFound(`${spec.what} not found`);
    const current = spec.decode(row);
    if (expectedVersion !== undefined && expectedVersion !== current.version) {
      throw new Conflict(`${spec.what} was modified concurrently (version ${current.version}, expected ${expectedVersion})`);
    }
    const next = applyPatch(current, patch, spec.mutable);
    next.version = current.version + 1;
    // A clock never moves updatedAt backwards across a version bump.
    next.updatedAt = new Date(Math.max(Date.now(), current.updatedAt.getTime()));
    const changed = await tx.affected(spec.update, { ...spec.encode(next), previousVersion: current.version });
    if (changed !== 1) throw new Conflict(`${spec.what} was modified concurrently`);
    return next;
  });
}

/** undefined leaves a field alone, null clears it; only the listed fields can change. */
export function applyPatch<T extends object>(current: T, patch: object, mutable: readonly (keyof T & string)[]): T {
  const next = { ...current } as Record<string, unknown>;
  for (const field of mutable) {
    const value = (patch as Record<string, unknown>)[field];
    if (value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = value;
  }
  return next as T;
}
