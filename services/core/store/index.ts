export type * from './types.js';
export type * from './client-store.js';
export type * from './user-store.js';
export type * from './service-store.js';
export type * from './key-store.js';
export type * from './refresh-token-store.js';
export type * from './consent-store.js';
export type * from './revocation-store.js';
export type * from './audit-store.js';
export type * from './store.js';
export type * from './sql-client.js';
export type * from './sql-dialect.js';
export type * from './sql-statements.js';
export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './pagination.js';
export { MYSQL_MIGRATIONS_DIR, POSTGRES_MIGRATIONS_DIR, runMigrations } from './migrations.js';
export { createPostgresDialect, mapPostgresError } from './postgres-dialect.js';
export { createSqlStore } from './sql-store.js';
export { createPgliteSqlClient } from './pglite-sql-client.js';
export { createPgliteStore, type PgliteStoreOptions } from './pglite-store.js';
export { createMysqlDialect, mapMysqlError } from './mysql-dialect.js';
// pg-store.js and mysql-store.js are imported directly where needed, so that the embedded mode
// never loads the drivers; createStoreFromConfig loads them on demand.
export { createStoreFromConfig } from './store-from-config.js';
