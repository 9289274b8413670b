import { InvalidRequest } from '../errors/index.js';
import type { GrantTokenStore, RevocationStore } from './revocation-store.js';
import type { SqlRow } from './sql-client.js';
import { date, int, text } from './sql-rows.js';
import type { SqlRunner } from './sql-runner.js';
import type { Revocation, RevocationKind } from './types.js';

const KINDS: readonly RevocationKind[] = ['access_token', 'grant'];
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

export function createSqlGrantTokenStore(db: SqlRunner): GrantTokenStore {
  const q = db.dialect.statements.grantTokens;
  return {
    async add(token) {
      for (const value of [token.grantId, token.jti]) {
        if (typeof value !== 'string' || value === '' || value.length > MAX_ID_LENGTH) throw new InvalidRequest('grant ids and jti are 1 to 255 characters');
      }
      if (!(token.expiresAt instanceof Date) || Number.isNaN(token.expiresAt.getTime())) throw new InvalidRequest('a grant token needs an expiry');
      await db.affected(q.insert, { grantId: token.grantId, jti: token.jti, expiresAt: token.expiresAt });
    },

    async take(grantId, now) {
      // Locked, then removed row by row, in one transaction: concurrent takers of one grant queue
      // up, the second sees only what was added after the first, and a row added meanwhile is
      // left for the next take rather than deleted unseen.
      const rows = await db.transaction(async (tx) => {
        const found = await tx.rows(q.listForUpdate, { grantId });
        for (const row of found) await tx.affected(q.deleteOne, { grantId, jti: text(row, 'jti') });
        return found;
      });
      return rows
        .map((row) => ({ grantId: text(row, 'grant_id'), jti: text(row, 'jti'), expiresAt: date(row, 'expires_at') }))
        .filter((t) => t.expiresAt.getTime() > now.getTime());
    },

    deleteExpired(now) {
      return db.affected(q.deleteExpired, { now });
    },
  };
}
