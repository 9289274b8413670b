import { NotFound, ServerError } from '../errors/index.js';
import type { ConsentStore } from './consent-store.js';
import { decodePageToken, pageSizeOf, toPage } from './pagination.js';
import type { SqlRow } from './sql-client.js';
import { date, stringArray, text } from './sql-rows.js';
import type { SqlRunner } from './sql-runner.js';
import type { Consent } from './types.js';

export function createSqlConsentStore(db: SqlRunner): ConsentStore {
  const q = db.dialect.statements.consents;
  return {
    async get(userId, clientId) {
      const row = await db.first(q.get, { userId, clientId });
      if (row === undefined) throw new NotFound('consent not found');
      return decode(row);
    },

    async put(consent) {
      const args = { userId: consent.userId, clientId: consent.clientId, scopes: [...consent.scopes], resourceScopes: [...consent.resourceScopes], at: consent.at ?? new Date() };
      const readBack = q.readUpserted;
      const row =
        readBack === undefined
          ? await db.first(q.upsert, args)
          : await db.transaction(async (tx) => {
              await tx.affected(q.upsert, args);
              return tx.first(readBack, { userId: args.userId, clientId: args.clientId });
            });
      if (row === undefined) throw new ServerError(undefined, { cause: new Error('consent upsert returned no row') });
      return decode(row);
    },

    async delete(userId, clientId) {
      if ((await db.affected(q.delete, { userId, clientId })) === 0) throw new NotFound('consent not found');
    },

    async listByUser(userId, request) {
      const size = pageSizeOf(request);
      const after = decodePageToken('consents', request?.pageToken, 1)?.[0];
      const rows = await db.rows(q.listByUser, { userId, after, limit: size + 1 });
      return toPage(rows.map(decode), size, 'consents', (c) => [c.clientId]);
    },
  };
}

function decode(row: SqlRow): Consent {
  return {
    userId: text(row, 'user_id'),
    clientId: text(row, 'client_id'),
    scopes: stringArray(row, 'scopes'),
    resourceScopes: stringArray(row, 'resource_scopes'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
  };
}
