import { NotFound } from '../errors/index.js';
import type { ClientStore } from './client-store.js';
import { decodePageToken, pageSizeOf, toPage } from './pagination.js';
import type { SqlRow } from './sql-client.js';
import { bool, compact, date, int, object, optDate, optInt, optObject, optText, stringArray, text } from './sql-rows.js';
import type { SqlArgs, SqlRunner } from './sql-runner.js';
import type { Client, ClientType, TokenEndpointAuthMethod } from './types.js';
import { updateVersioned } from './versioned-update.js';

const MUTABLE = [
  'name',
  'clientType',
  'redirectUris',
  'grantTypes',
  'scopes',
  'tokenEndpointAuthMethod',
  'secretHash',
  'previousSecretHash',
  'previousSecretExpiresAt',
  'jwks',
  'skipConsent',
  'audience',
  'accessTokenTtlSeconds',
  'refreshTokenTtlSeconds',
  'registrationAccessTokenHash',
  'metadata',
] as const satisfies readonly (keyof Client)[];

export function createSqlClientStore(db: SqlRunner): ClientStore {
  const q = db.dialect.statements.clients;
  return {
    async create(input) {
      const now = new Date();
      const client = compact<Client>({ ...pick(input), version: 1, createdAt: now, updatedAt: now });
      await db.affected(q.insert, encode(client));
      return client;
    },

    async get(clientId) {
      const row = await db.first(q.get, { clientId });
      if (row === undefined) throw new NotFound('client not found');
      return decode(row);
    },

    async list(request) {
      const size = pageSizeOf(request);
      const after = decodePageToken('clients', request?.pageToken, 1)?.[0];
      const rows = await db.rows(q.list, { clientType: request?.filter?.clientType, after, limit: size + 1 });
      return toPage(rows.map(decode), size, 'clients', (c) => [c.clientId]);
    },

    update(clientId, patch, expectedVersion) {
      return updateVersioned(
        db,
        { what: 'client', getForUpdate: q.getForUpdate, update: q.update, key: { clientId }, mutable: MUTABLE, decode, encode },
        patch,
        expectedVersion,
      );
    },

    async delete(clientId) {
      if ((await db.affected(q.delete, { clientId })) === 0) throw new NotFound('client not found');
    },
  };
}

// Callers may hand over a wider object (a whole Client); only the model's fields are stored.
function pick(c: Omit<Client, 'version' | 'createdAt' | 'updatedAt'>): Omit<Client, 'version' | 'createdAt' | 'updatedAt'> {
  return {
    clientId: c.clientId,
    name: c.name,
    clientType: c.clientType,
    redirectUris: [...c.redirectUris],
    grantTypes: [...c.grantTypes],
    scopes: [...c.scopes],
    tokenEndpointAuthMethod: c.tokenEndpointAuthMethod,
    secretHash: c.secretHash,
    previousSecretHash: c.previousSecretHash,
    previousSecretExpiresAt: c.previousSecretExpiresAt,
    jwks: c.jwks,
    skipConsent: c.skipConsent,
    audience: [...c.audience],
    accessTokenTtlSeconds: c.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: c.refreshTokenTtlSeconds,
    registrationAccessTokenHash: c.registrationAccessTokenHash,
    metadata: { ...c.metadata },
  };
}

function encode(c: Client): SqlArgs {
  return {
    clientId: c.clientId,
    name: c.name,
    clientType: c.clientType,
    redirectUris: c.redirectUris,
    grantTypes: c.grantTypes,
    scopes: c.scopes,
    tokenEndpointAuthMethod: c.tokenEndpointAuthMethod,
    secretHash: c.secretHash,
    previousSecretHash: c.previousSecretHash,
    previousSecretExpiresAt: c.previousSecretExpiresAt,
    jwks: c.jwks === undefined ? null : JSON.stringify(c.jwks),
    skipConsent: c.skipConsent,
    audience: c.audience,
    accessTokenTtlSeconds: c.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: c.refreshTokenTtlSeconds,
    registrationAccessTokenHash: c.registrationAccessTokenHash,
    metadata: JSON.stringify(c.metadata),
    version: c.version,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

function decode(row: SqlRow): Client {
  return compact<Client>({
    clientId: text(row, 'client_id'),
    name: text(row, 'name'),
    clientType: text(row, 'client_type') as ClientType,
    redirectUris: stringArray(row, 'redirect_uris'),
    grantTypes: stringArray(row, 'grant_types'),
    scopes: stringArray(row, 'scopes'),
    tokenEndpointAuthMethod: text(row, 'token_endpoint_auth_method') as TokenEndpointAuthMethod,
    secretHash: optText(row, 'secret_hash'),
    previousSecretHash: optText(row, 'previous_secret_hash'),
    previousSecretExpiresAt: optDate(row, 'previous_secret_expires_at'),
    jwks: optObject(row, 'jwks'),
    skipConsent: bool(row, 'skip_consent'),
    audience: stringArray(row, 'audience'),
    accessTokenTtlSeconds: optInt(row, 'access_token_ttl_seconds'),
    refreshTokenTtlSeconds: optInt(row, 'refresh_token_ttl_seconds'),
    registrationAccessTokenHash: optText(row, 'registration_access_token_hash'),
    metadata: object<Record<string, string>>(row, 'metadata'),
    version: int(row, 'version'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
  });
}
