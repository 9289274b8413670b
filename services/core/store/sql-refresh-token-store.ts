import { NotFound } from '../errors/index.js';
import { decodePageToken, pageSizeOf, pageTokenDate, toPage } from './pagination.js';
import type { ActiveListRequest, RefreshTokenStore } from './refresh-token-store.js';
import type { SqlRow } from './sql-client.js';
import { bool, compact, date, optDate, optText, stringArray, text } from './sql-rows.js';
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

    async rotate(oldHash, request, now) {
      const graceMs = request.graceMs ?? 0;
      const successorOf = (previous: RefreshToken): RefreshToken =>
        compact<RefreshToken>({
          tokenHash: request.nextHash,
          familyId: previous.familyId,
          clientId: previous.clientId,
          userId: previous.userId,
          scope: [...previous.scope],
          audience: [...previous.audience],
          authTime: previous.authTime,
          createdAt: now,
          expiresAt: previous.expiresAt,
          idTokenClaims: previous.idTokenClaims === undefined ? undefined : [...previous.idTokenClaims],
          // RFC 9449 §5: the successor stays bound to the same DPoP key.
          dpopJkt: previous.dpopJkt,
          // RFC 8705 §4: and to the same client certificate.
          certificateThumbprint: previous.certificateThumbprint,
        });
      if (q.rotateLive !== undefined) {
        // The common case, a live token of this client, in one round trip.
        const row = await db.first(q.rotateLive, { tokenHash: oldHash, clientId: request.clientId, nextHash: request.nextHash, now });
        if (row !== undefined) {
          const previous = decode(row);
          return { outcome: 'rotated' as const, previous, next: successorOf(previous) };
        }
      }
      return db.transaction(async (tx) => {
        const row = await tx.first(q.getForUpdate, { tokenHash: oldHash });
        if (row === undefined) return { outcome: 'not_found' as const };
        const previous = decode(row);
        // RFC 6749 §6 / §10.4: bound to its client; a stranger's attempt must not burn the family.
        if (previous.clientId !== request.clientId) return { outcome: 'refused' as const, reason: 'client' as const, previous };
        // RFC 6749 §5.2: an expired or revoked token is an invalid grant, but not reuse.
        if (previous.expiresAt <= now) return { outcome: 'refused' as const, reason: 'expired' as const, previous };
        if (previous.revokedAt !== undefined) return { outcome: 'refused' as const, reason: 'revoked' as const, previous };
        if (previous.userId !== undefined) {
          const user = await tx.first(q.userDisabled, { userId: previous.userId });
          if (user === undefined || bool(user, 'disabled')) return { outcome: 'refused' as const, reason: 'user' as const, previous };
        }
        const next = successorOf(previous);
        if (previous.rotatedAt !== undefined) {
          const sinceRotation = now.getTime() - previous.rotatedAt.getTime();
          // The reuse grace window: the same old token again, soon after its first rotation, while
          // the family is alive. A concurrent rotation may carry a `now` taken just before the
          // winner's (it queued on the row lock), so a negative distance counts as inside it too.
          if (graceMs > 0 && sinceRotation <= graceMs) {
            await tx.affected(q.insert, encode(next));
            return { outcome: 'rotated' as const, previous, next, graceful: true };
          }
          // RFC 9700 §4.14.2: presenting a token already exchanged signals a stolen token.
          return { outcome: 'reused' as const, previous };
        }
        await tx.affected(q.markRotated, { tokenHash: oldHash, now, replacedBy: next.tokenHash });
        await tx.affected(q.insert, encode(next));
        return { outcome: 'rotated' as const, previous: { ...previous, rotatedAt: now, replacedBy: next.tokenHash }, next };
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
    idTokenClaims: t.idTokenClaims === undefined ? undefined : [...t.idTokenClaims],
    dpopJkt: t.dpopJkt,
    certificateThumbprint: t.certificateThumbprint,
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
    idTokenClaims: t.idTokenClaims,
    dpopJkt: t.dpopJkt,
    certificateThumbprint: t.certificateThumbprint,
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
    idTokenClaims: row.id_token_claims === null || row.id_token_claims === undefined ? undefined : stringArray(row, 'id_token_claims'),
    dpopJkt: optText(row, 'dpop_jkt'),
    certificateThumbprint: optText(row, 'x5t_s256'),
  });
}
