import { NotFound } from '../errors/index.js';
import { decodePageToken, pageSizeOf, toPage } from './pagination.js';
import type { ServiceStore } from './service-store.js';
import type { SqlRow } from './sql-client.js';
import { array, bool, date, int, text } from './sql-rows.js';
import type { SqlArgs, SqlRunner } from './sql-runner.js';
import type { Service, ServiceEndpoint } from './types.js';
import { updateVersioned } from './versioned-update.js';

const MUTABLE = ['name', 'description', 'audience', 'endpoints', 'dpopBoundAccessTokensRequired'] as const satisfies readonly (keyof Service)[];

export function createSqlServiceStore(db: SqlRunner): ServiceStore {
  const q = db.dialect.statements.services;
  return {
    async create(input) {
      const now = new Date();
      const service: Service = {
        serviceId: input.serviceId,
        name: input.name,
        description: input.description,
        audience: input.audience,
        endpoints: input.endpoints.map(copyEndpoint),
        dpopBoundAccessTokensRequired: input.dpopBoundAccessTokensRequired,
        version: 1,
        createdAt: now,
        updatedAt: now,
      };
      await db.affected(q.insert, encode(service));
      return service;
    },

    async get(serviceId) {
      const row = await db.first(q.get, { serviceId });
      if (row === undefined) throw new NotFound('service not found');
      return decode(row);
    },

    async getByAudience(audience) {
      const row = await db.first(q.getByAudience, { audience });
      return row === undefined ? undefined : decode(row);
    },

    async list(request) {
      const size = pageSizeOf(request);
      const after = decodePageToken('services', request?.pageToken, 1)?.[0];
      const rows = await db.rows(q.list, { after, limit: size + 1 });
      return toPage(rows.map(decode), size, 'services', (s) => [s.serviceId]);
    },

    update(serviceId, patch, expectedVersion) {
      const normalised = patch.endpoints === undefined ? patch : { ...patch, endpoints: patch.endpoints.map(copyEndpoint) };
      return updateVersioned(
        db,
        { what: 'service', getForUpdate: q.getForUpdate, update: q.update, key: { serviceId }, mutable: MUTABLE, decode, encode },
        normalised,
        expectedVersion,
      );
    },

    async delete(serviceId) {
      if ((await db.affected(q.delete, { serviceId })) === 0) throw new NotFound('service not found');
    },
  };
}

// Stored as JSON, so stray properties would otherwise be persisted and returned as-is.
function copyEndpoint(e: ServiceEndpoint): ServiceEndpoint {
  return { method: e.method, path: e.path, scope: e.scope, allowedClientIds: [...e.allowedClientIds] };
}

function encode(s: Service): SqlArgs {
  return {
    serviceId: s.serviceId,
    name: s.name,
    description: s.description,
    audience: s.audience,
    endpoints: JSON.stringify(s.endpoints),
    dpopBoundAccessTokensRequired: s.dpopBoundAccessTokensRequired,
    version: s.version,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

function decode(row: SqlRow): Service {
  return {
    serviceId: text(row, 'service_id'),
    name: text(row, 'name'),
    description: text(row, 'description'),
    audience: text(row, 'audience'),
    endpoints: array<ServiceEndpoint>(row, 'endpoints'),
    dpopBoundAccessTokensRequired: bool(row, 'dpop_bound_access_tokens_required'),
    version: int(row, 'version'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
  };
}
