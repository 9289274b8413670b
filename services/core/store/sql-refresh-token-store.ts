import { InvalidRequest, NotFound } from '../errors/index.js';
import { decodePageToken, pageSizeOf, pageTokenDate, toPage } from './pagination.js';
import type { ActiveListRequest, RefreshTokenStore } from './refresh-token-store.js';
import type { SqlRow } from './sql-client.js';
import { compact, date, optDate, optText, stringArray, text } from './sql-rows.js';
import type { SqlArgs, SqlRunner } from './sql-runner.js';
import type { Page, RefreshToken } from './types.js';

export function createSqlRefreshTokenStore(db: SqlRunner): RefreshTokenStore {
  const q = db.dialect.statements.refreshTokens;

  async function listActive(
    listing: 'tokens_by_user' | 'tokens_by_client',
    statement: string,
    owner: SqlArgs,
    request: ActiveListRequest | undefined,
  ): Promise<Page<RefreshToken>> {
    const size = pageSizeOf(request);
    const key = decodePageToken(listing, request?.pageToken, 2);
    const rows = await db.rows(statement, {
      ...owner,
      now: request?.now ?? new Date(),
      afterCreatedAt: key === undefined ? undefined : pageTokenDate(key[0] as string),
      afterHash: key?.[1],
      limit: size + 1,
    });
    return toPage(rows.map(decode), size, listing, (t) => [t.createdAt.toISOString(), t.tokenHash]);
  }

  return {
    async create(input) {
      const token = copy(input);
      await db.affected(q.insert, encode(token));
      return token;
    },

    async get(tokenHash) {
      const row = await db.first(q.get, { tokenHash });
      if (row === undefined) throw new NotFound('refresh token not found');
      return decode(row);
    },

    rotate(oldHash, next, now, options = {}) {
      const graceMs = options.graceMs ?? 0;
      return db.transaction(async (tx) => {
        const row = await tx.first(q.getForUpdate, { tokenHash: oldHash });
        if (row === undefined) return { outcome: 'not_found' as const };
        const previous = decode(row);
        const live = previous.revokedAt === undefined && previous.expiresAt > now;
        const sinceRotation = previous.rotatedAt === undefined ? undefined : now.getTime() - previous.rotatedAt.getTime();
        // The reuse grace window: the same old token again, soon after its first rotation, while the
        // family is alive. A concurrent rotation may carry a `now` taken just before the winner's
        // (it queued on the row lock), so a negative distance counts as inside the window too.
        if (live && sinceRotation !== undefined && graceMs > 0 && sinceRotation <= graceMs) {
          if (next.familyId !== previous.familyId) throw new InvalidRequest('the successor must belong to the same token family');
          await tx.affected(q.insert, encode(copy(next)));
          return { outcome: 'rotated' as const, previous, graceful: true };
        }
        // RFC 9700 §4.14.2: presenting a token that is no longer valid signals a stolen token.
        if (!live || previous.rotatedAt !== undefined) {
          return { outcome: 'reused' as const, previous };
        }
        if (next.familyId !== previous.familyId) throw new InvalidRequest('the successor must belong to the same token family');
        await tx.affected(q.markRotated, { tokenHash: oldHash, now, replacedBy: next.tokenHash });
        await tx.affected(q.insert, encode(copy(next)));
        return { outcome: 'rotated' as const, previous: { ...previous, rotatedAt: now, replacedBy: next.tokenHash } };
      });
    },

    revokeFamily(familyId, now) {
      return db.affected(q.revokeFamily, { familyId, now });
    },

    async revoke(tokenHash, now) {
      if ((await db.affected(q.revoke, { tokenHash, now })) === 0) throw new NotFound('refresh token not found');
    },

    listByUser(userId, request) {
      return listActive('tokens_by_user', q.listByUser, { userId }, request);
    },

    listByClient(clientId, request) {
      return listActive('tokens_by_client', q.listByClient, { clientId }, request);
    },

    revokeByUser(userId, now) {
      return db.affected(q.revokeByUser, { userId, now });
    },

    revokeByClient(clientId, now) {
      return db.affected(q.revokeByClient, { clientId, now });
    },

    deleteExpired(now) {
      return db.affected(q.deleteExpired, { now });
    },
  };
}

function copy(t: RefreshToken): RefreshToken {
  return compact<RefreshToken>({
    tokenHash: t.tokenHash,
    familyId: t.familyId,
    clientId: t.clientId,
    userId: t.userId,
    scope: [...t.scope],
    audience: [...t.audience],
    authTime: t.authTime,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    rotatedAt: t.rotatedAt,
    revokedAt: t.revokedAt,
    replacedBy: t.replacedBy,
  });
}

function encode(t: RefreshToken): SqlArgs {
  return {
    tokenHash: t.tokenHash,
    familyId: t.familyId,
    clientId: t.clientId,
    userId: t.userId,
    scope: t.scope,
    audience: t.audience,
    authTime: t.authTime,
    createdAt: t.createdAt,
    expiresAt: t.expiresAt,
    rotatedAt: t.rotatedAt,
    revokedAt: t.revokedAt,
    replacedBy: t.replacedBy,
  };
}

function decode(row: SqlRow): RefreshToken {
  return compact<RefreshToken>({
    tokenHash: text(row, 'token_hash'),
    familyId: text(row, 'family_id'),
    clientId: text(row, 'client_id'),
    userId: optText(row, 'user_id'),
    scope: stringArray(row, 'scope'),
    audience: stringArray(row, 'audience'),
    authTime: optDate(row, 'auth_time'),
    createdAt: date(row, 'created_at'),
    expiresAt: date(row, 'expires_at'),
    rotatedAt: optDate(row, 'rotated_at'),
    revokedAt: optDate(row, 'revoked_at'),
    replacedBy: optText(row, 'replaced_by'),
  });
}
