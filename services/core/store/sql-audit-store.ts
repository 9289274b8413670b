import { InvalidRequest, ServerError } from '../errors/index.js';
import { AUDIT_FILTER_MAX_LENGTH, type AuditStore } from './audit-store.js';
import { decodePageToken, pageSizeOf, toPage } from './pagination.js';
import type { SqlRow } from './sql-client.js';
import { compact, date, object, optText, text } from './sql-rows.js';
import type { SqlRunner } from './sql-runner.js';
import type { AuditEvent } from './types.js';

/** 9999-12-31T23:59:59.999Z: the end of MySQL's DATETIME range. */
const SINCE_MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export function createSqlAuditStore(db: SqlRunner): AuditStore {
  const q = db.dialect.statements.audit;
  return {
    async append(event) {
      const args = {
        at: event.at ?? new Date(),
        type: event.type,
        actor: event.actor,
        subject: event.subject,
        clientId: event.clientId,
        ip: event.ip,
        details: JSON.stringify(event.details ?? {}),
      };
      const readBack = q.readInserted;
      const row =
        readBack === undefined
          ? await db.first(q.insert, args)
          : await db.transaction(async (tx) => {
              await tx.affected(q.insert, args);
              return tx.first(readBack);
            });
      if (row === undefined) throw new ServerError(undefined, { cause: new Error('audit insert returned no row') });
      return decode(row);
    },

    async appendMany(events) {
      if (events.length === 0) return;
      if (q.insertMany === undefined) {
        await db.transaction(async (tx) => {
          for (const e of events) {
            await tx.affected(q.insert, {
              at: e.at ?? new Date(),
              type: e.type,
              actor: e.actor,
              subject: e.subject,
              clientId: e.clientId,
              ip: e.ip,
              details: JSON.stringify(e.details ?? {}),
            });
          }
        });
        return;
      }
      const rows = events.map((e) => ({ ...e, at: (e.at ?? new Date()).toISOString(), details: e.details ?? {} }));
      await db.affected(q.insertMany, { events: JSON.stringify(rows) });
    },

    async list(request) {
      const size = pageSizeOf(request);
      for (const name of ['type', 'typePrefix', 'subject', 'actor', 'clientId'] as const) {
        const value = request?.[name];
        if (value !== undefined && value.length > AUDIT_FILTER_MAX_LENGTH) throw new InvalidRequest(`${name} must be at most ${AUDIT_FILTER_MAX_LENGTH} characters`);
      }
      const since = request?.since;
      // Within what every engine stores (MySQL DATETIME ends with year 9999); older than 1970 matches all.
      if (since !== undefined && !(since.getTime() >= 0 && since.getTime() <= SINCE_MAX_MS)) throw new InvalidRequest('since must be a time from 1970 to 9999');
      const after = request?.after === '' ? undefined : request?.after;
      if (after !== undefined && !/^\d{1,18}$/.test(after)) throw new InvalidRequest('after must be an event id');
      if (after !== undefined && request?.pageToken) throw new InvalidRequest('page_token cannot be combined with after: the last event id is the next cursor');
      const before = decodePageToken('audit', request?.pageToken, 1)?.[0];
      if (before !== undefined && !/^\d{1,18}$/.test(before)) throw new InvalidRequest('invalid page_token');
      const typePrefix = request?.typePrefix === '' ? undefined : request?.typePrefix;
      const args = {
        type: request?.type,
        typePrefix,
        typePrefixLength: typePrefix?.length,
        subject: request?.subject,
        actor: request?.actor,
        clientId: request?.clientId,
        since,
        limit: size + 1,
      };
      if (after !== undefined) {
        // The tail: oldest first from the cursor; the caller continues from the last id.
        const rows = await db.rows(q.listAfter, { ...args, after });
        return { items: rows.slice(0, size).map(decode), nextPageToken: '' };
      }
      const rows = await db.rows(q.list, { ...args, before });
      return toPage(rows.map(decode), size, 'audit', (e) => [e.id]);
    },
  };
}

function decode(row: SqlRow): AuditEvent {
  return compact<AuditEvent>({
    id: text(row, 'id'),
    at: date(row, 'at'),
    type: text(row, 'type'),
    actor: optText(row, 'actor'),
    subject: optText(row, 'subject'),
    clientId: optText(row, 'client_id'),
    ip: optText(row, 'ip'),
    details: object(row, 'details'),
  });
}
