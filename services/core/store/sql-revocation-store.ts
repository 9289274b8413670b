import { InvalidRequest } from '../errors/index.js';
import type { RevocationStore } from './revocation-store.js';
import type { SqlRow } from './sql-client.js';
import { date, int, text } from './sql-rows.js';
import type { SqlRunner } from './sql-runner.js';
import type { Revocation, RevocationKind } from './types.js';

const KINDS: readonly RevocationKind[] = ['access_token'];
const MAX_ID_LENGTH = 255;

export function createSqlRevocationStore(db: SqlRunner): RevocationStore {
  const q = db.dialect.statements.revocations;
  return {
    async add(revocation) {
      const { kind, id, bucket, expiresAt } = revocation;
      // Checked here rather than left to the engine: MariaDB would truncate or coerce some of these.
      if (!KINDS.includes(kind)) throw new InvalidRequest('unknown revocation kind');
      if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) throw new InvalidRequest('a revocation needs an id of 1 to 255 characters');
      if (!Number.isInteger(bucket) || bucket < 0 || bucket > 2 ** 31 - 1) throw new InvalidRequest('a revocation bucket must be a non-negative 32-bit integer');
      if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) throw new InvalidRequest('a revocation needs an expiry');
      await db.affected(q.upsert, { kind, id, bucket, revokedAt: revocation.revokedAt ?? new Date(), expiresAt });
    },

    async listBucket(bucket, now) {
      return (await db.rows(q.listBucket, { bucket, now })).map(decode);
    },

    deleteExpired(now) {
      return db.affected(q.deleteExpired, { now });
    },
  };
}

function decode(row: SqlRow): Revocation {
  return {
    kind: text(row, 'kind') as RevocationKind,
    id: text(row, 'revoked_id'),
    bucket: int(row, 'bucket'),
    revokedAt: date(row, 'revoked_at'),
    expiresAt: date(row, 'expires_at'),
  };
}
