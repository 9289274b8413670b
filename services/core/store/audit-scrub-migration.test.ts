// Migration 0015 (second review N9): audit rows of failed logins for unknown users written before
// login-guard.ts stopped recording the name tried lose that name; every other row keeps its
// details. Run on every SQL backend: the store is opened with the migrations before 0015, old
// rows are written, and it is reopened with all of them.
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl, testDatabases } from '../../../test/support/databases.js';
import { MYSQL_MIGRATIONS_DIR, POSTGRES_MIGRATIONS_DIR } from './migrations.js';
import { createMysqlStore } from './mysql-store.js';
import { createPostgresStore } from './pg-store.js';
import { createPgliteStore } from './pglite-store.js';
import type { Store } from './store.js';

const SCRUB = '0015';
const temp: string[] = [];
afterAll(async () => {
  for (const dir of temp) await rm(dir, { recursive: true, force: true });
});

/** A copy of `dir` with only the migrations numbered below 0015: the schema old rows were written under. */
async function migrationsBefore(dir: string): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'authmesh-migrations-before-'));
  temp.push(out);
  for (const name of await readdir(dir)) if (/^\d{4}_/.test(name) && name.slice(0, 4) < SCRUB) await cp(join(dir, name), join(out, name));
  return out;
}

function describeScrub(engine: string, dir: string, open: (migrationsDir?: string) => Promise<Store>) {
  it(`audit_unknown_username_scrubbed (${engine}): old unknown-user login failures lose the name tried; other rows keep theirs`, async () => {
    const marker = `Pa55word-typed-as-username-${engine}-${Date.now()}`;
    const old = await open(await migrationsBefore(dir));
    try {
      await old.audit.append({ type: 'login.failure', ip: '203.0.113.7', details: { reason: 'unknown_user', username: marker } });
      await old.audit.append({ type: 'login.failure', subject: 'u-1', ip: '203.0.113.7', details: { reason: 'bad_password', attempts: 2 } });
      await old.audit.append({ type: 'user.created', subject: 'u-1', details: { username: 'alice' } });
    } finally {
      await old.close();
    }
    const migrated = await open();
    try {
      const events = (await migrated.audit.list({})).items;
      expect(JSON.stringify(events)).not.toContain(marker);
      expect(events.find((e) => e.details.reason === 'unknown_user')?.details).toEqual({ reason: 'unknown_user' });
      expect(events.find((e) => e.details.reason === 'bad_password')?.details).toEqual({ reason: 'bad_password', attempts: 2 });
      expect(events.find((e) => e.type === 'user.created')?.details).toEqual({ username: 'alice' });
    } finally {
      await migrated.close();
    }
  });
}

describe('migration 0015: audit rows keep no name typed for an unknown user', () => {
  let dataDir: string | undefined;
  describeScrub('pglite', POSTGRES_MIGRATIONS_DIR, async (migrationsDir) => {
    if (dataDir === undefined) {
      dataDir = await mkdtemp(join(tmpdir(), 'authmesh-scrub-pglite-'));
      temp.push(dataDir);
    }
    return createPgliteStore({ dataDir: join(dataDir, 'db'), migrationsDir });
  });

  for (const engine of ['postgres', 'mysql'] as const) {
    const target = testDatabaseUrl(engine);
    if (target.url === undefined) {
      it.skip(`${engine}: ${target.skip}`, () => undefined);
      continue;
    }
    const databases = testDatabases(engine, target.url);
    afterAll(() => databases.dropAll());
    let url: string | undefined;
    describeScrub(engine, engine === 'postgres' ? POSTGRES_MIGRATIONS_DIR : MYSQL_MIGRATIONS_DIR, async (migrationsDir) => {
      url ??= await databases.create();
      return engine === 'postgres' ? createPostgresStore({ url, migrationsDir }) : createMysqlStore({ url, migrationsDir });
    });
  }
});
