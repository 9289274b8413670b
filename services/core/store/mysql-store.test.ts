// The Store contract on MariaDB, and rotations racing over separate connections. Needs
// scripts/mariadb.sh (see test/support/databases.ts for the environment).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raceRotations, testDatabaseUrl, testDatabases } from '../../../test/support/databases.js';
import mysql from 'mysql2/promise';
import { createMysqlDialect } from './mysql-dialect.js';
import { createMysqlConnectionSqlClient } from './mysql-sql-client.js';
import { createMysqlStore } from './mysql-store.js';
import { MYSQL_MIGRATIONS_DIR, runMigrations } from './migrations.js';
import { describeStoreContract } from './store-contract.js';
import type { Store } from './store.js';

const target = testDatabaseUrl('mysql');
const databases = target.url === undefined ? undefined : testDatabases('mysql', target.url);

if (databases === undefined) {
  describe.skip(`mysql store: ${target.skip}`, () => {
    it('needs a server', () => undefined);
  });
} else {
  afterAll(() => databases.dropAll());

  describeStoreContract('mariadb', async () => createMysqlStore({ url: await databases.create() }));

  describe('mysql store on a real server', () => {
    let store: Store;
    beforeAll(async () => {
      store = await createMysqlStore({ url: await databases.create(), poolSize: 10 });
    });
    afterAll(() => store?.close());

    it('lets exactly one of 10 rotations racing on 10 connections win', async () => {
      const outcomes = await raceRotations(store, 10);
      expect(outcomes.filter((o) => o === 'rotated')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'reused')).toHaveLength(9);
    });

    it('does not migrate twice when reopened, even by two processes at once', async () => {
      // The race lost once in CI (a duplicate schema_migrations record); three rounds of three
      // processes give it room to show.
      for (let round = 0; round < 3; round++) {
        const url = await databases.create();
        const all = await Promise.all([createMysqlStore({ url }), createMysqlStore({ url }), createMysqlStore({ url })]);
        await Promise.all(all.map((s) => s.close()));
        const again = await createMysqlStore({ url });
        await again.close();
      }
    });

    it('releases the migration lock only after each migration and its record are committed', async () => {
      // Released before COMMIT, the lock let a second process read schema_migrations without the
      // first's uncommitted record and apply the migration again (ER_DUP_ENTRY in CI).
      const conn = await mysql.createConnection({ uri: await databases.create(), multipleStatements: true });
      const sent: string[] = [];
      const query = conn.query.bind(conn) as (...args: unknown[]) => unknown;
      (conn as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
        sent.push(String(args[0]));
        return query(...args);
      };
      try {
        const applied = await runMigrations(createMysqlConnectionSqlClient(conn), MYSQL_MIGRATIONS_DIR, createMysqlDialect());
        expect(applied.length).toBeGreaterThan(0);
      } finally {
        await conn.end();
      }
      const locks = sent.map((q, i) => [q, i] as const).filter(([q]) => q.includes('GET_LOCK'));
      expect(locks.length).toBeGreaterThan(1);
      for (const [, at] of locks) {
        const commit = sent.indexOf('COMMIT', at);
        const release = sent.findIndex((q, i) => i > at && q.includes('RELEASE_LOCK'));
        expect(commit).toBeGreaterThan(at);
        expect(release).toBeGreaterThan(commit);
      }
    });

    it('keeps ids apart that PostgreSQL keeps apart (case, trailing spaces)', async () => {
      const base = `Case-${Date.now()}`;
      for (const clientId of [base, base.toLowerCase(), `${base} `]) {
        await store.clients.create({
          clientId,
          name: 'collation',
          clientType: 'public',
          redirectUris: [],
          grantTypes: ['authorization_code'],
          scopes: [],
          tokenEndpointAuthMethod: 'none',
          skipConsent: false,
          audience: [],
          metadata: {},
        });
      }
      expect((await store.clients.get(`${base} `)).clientId).toBe(`${base} `);
    });

    it('reports a closed store and an unreachable server as unavailable', async () => {
      const closed = await createMysqlStore({ url: await databases.create() });
      await closed.close();
      await expect(closed.clients.get('x')).rejects.toMatchObject({ code: 'temporarily_unavailable' });
      const nowhere = new URL(target.url!);
      nowhere.port = '1';
      const started = Date.now();
      await expect(createMysqlStore({ url: nowhere.toString() })).rejects.toMatchObject({ code: 'temporarily_unavailable' });
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });
}
