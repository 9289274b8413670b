import type { SqlClient } from './sql-client.js';
import type { SqlDialect } from './sql-dialect.js';
import { createSqlAuditStore } from './sql-audit-store.js';
import { createSqlClientStore } from './sql-client-store.js';
import { createSqlConsentStore } from './sql-consent-store.js';
import { createSqlKeyStore } from './sql-key-store.js';
import { createSqlRefreshTokenStore } from './sql-refresh-token-store.js';
import { createSqlGrantTokenStore, createSqlRevocationStore } from './sql-revocation-store.js';
import { createSqlRunner } from './sql-runner.js';
import { createSqlServiceStore } from './sql-service-store.js';
import { createSqlUserStore } from './sql-user-store.js';
import type { Store } from './store.js';

/** A Store over any SQL engine: a driver supplies the SqlClient, the engine its dialect. */
export function createSqlStore(client: SqlClient, dialect: SqlDialect): Store {
  const db = createSqlRunner(client, dialect);
  let closing: Promise<void> | undefined;
  return {
    clients: createSqlClientStore(db),
    users: createSqlUserStore(db),
    services: createSqlServiceStore(db),
    keys: createSqlKeyStore(db),
    refreshTokens: createSqlRefreshTokenStore(db),
    consents: createSqlConsentStore(db),
    revocations: createSqlRevocationStore(db),
    grantTokens: createSqlGrantTokenStore(db),
    audit: createSqlAuditStore(db),
    ping: async () => {
      await db.rows('SELECT 1');
    },
    close: () => (closing ??= client.close()),
  };
}
