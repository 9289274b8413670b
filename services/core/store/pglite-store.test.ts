import { mkdtemp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runMigrations } from './migrations.js';
import { PGLITE_SETTINGS, openPglite } from './pglite-cluster.js';
import { createPgliteSqlClient } from './pglite-sql-client.js';
import { createPgliteWorkerClient } from './pglite-worker-client.js';
import { createPgliteStore } from './pglite-store.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract('pglite (in memory, on a worker thread)', () => createPgliteStore());
describeStoreContract('pglite (in memory, on the main thread)', () => createPgliteStore({ thread: 'main' }));

describe('pglite store on disk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'authmesh-pglite-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps data across a restart and does not migrate twice', async () => {
    const dataDir = join(dir, 'data');
    const first = await createPgliteStore({ dataDir });
    await first.clients.create({
      clientId: 'persisted',
      name: 'survives restarts',
      clientType: 'public',
      redirectUris: ['http://127.0.0.1/cb'],
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
      tokenEndpointAuthMethod: 'none',
      skipConsent: false,
      audience: [],
      metadata: { logo_uri: 'https://example.com/l.png' },
    });
    await first.close();
    await expect(first.clients.get('persisted')).rejects.toMatchObject({ code: 'temporarily_unavailable' });

    // Reopening re-runs the runner; applying 0001 again would fail on its CREATE TABLEs.
    const second = await createPgliteStore({ dataDir });
    try {
      expect(await second.clients.get('persisted')).toMatchObject({ name: 'survives restarts', metadata: { logo_uri: 'https://example.com/l.png' } });
    } finally {
      await second.close();
    }
  });
});

describe('pglite memory: initdb out of process, lean settings', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'authmesh-pglite-lean-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  // PGlite runs initdb in a second instance it creates with noInitDb inside the process that
  // opens a fresh cluster; that instance's ~600 MB stayed in the server for its whole life.
  const initdbInstances = (create: { mock: { calls: unknown[][] } }) => create.mock.calls.filter(([options]) => (options as { noInitDb?: boolean } | undefined)?.noInitDb === true);

  it('initdb memory does not stay: a fresh data directory is made by a child process, then reopened here with the lean settings', async () => {
    const create = vi.spyOn(PGlite, 'create');
    const dataDir = join(dir, 'fresh', 'pglite');
    await mkdir(join(dir, 'fresh'));
    const pg = await openPglite(dataDir);
    try {
      expect(initdbInstances(create)).toEqual([]);
      expect(create).toHaveBeenCalledTimes(1);
      for (const [name, value] of Object.entries(PGLITE_SETTINGS)) {
        expect((await pg.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0]?.v, name).toBe(value);
      }
    } finally {
      await pg.close();
    }
    // Made in a staging sibling and renamed: nothing else left beside it, and private.
    expect(await readdir(join(dir, 'fresh'))).toEqual(['pglite']);
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
  });

  it('initdb memory does not stay: in-memory databases load a template made by a child process', async () => {
    const create = vi.spyOn(PGlite, 'create');
    const pg = await openPglite();
    try {
      expect(initdbInstances(create)).toEqual([]);
      expect((await pg.query<{ v: string }>("SELECT current_setting('shared_buffers') AS v")).rows[0]?.v).toBe(PGLITE_SETTINGS.shared_buffers);
    } finally {
      await pg.close();
    }
  });

  it('refuses a directory that holds files but no database, and leaves it as it was', async () => {
    const dataDir = join(dir, 'stray');
    await mkdir(dataDir);
    await writeFile(join(dataDir, 'notes.txt'), 'not a database');
    await expect(createPgliteStore({ dataDir })).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    expect(await readdir(dataDir)).toEqual(['notes.txt']);
    expect(await readdir(dir)).not.toContain(`stray.initdb-${process.pid}`);
  });
});

describe('pglite on a worker thread', () => {
  it("runs a transaction's statements with nothing interleaved, and other statements after its commit", async () => {
    const sql = await createPgliteWorkerClient();
    try {
      await sql.exec('CREATE TABLE t (n int PRIMARY KEY)');
      const events: string[] = [];
      let outside: Promise<unknown> | undefined;
      await sql.transaction(async (tx) => {
        await tx.query('INSERT INTO t (n) VALUES (1)');
        // Sent while the transaction is open: had it run in the session now, it would see the
        // uncommitted row and become part of the transaction (a ROLLBACK would undo it).
        outside = sql.query('INSERT INTO t (n) SELECT count(*)::int + 10 FROM t').then(() => events.push('outside'));
        await tx.query('INSERT INTO t (n) VALUES (2)');
        events.push('tx body done');
        throw new Error('roll back');
      }).catch((err: unknown) => expect(err).toMatchObject({ message: 'roll back' }));
      await outside;
      expect(events).toEqual(['tx body done', 'outside']);
      // Rolled back: 1 and 2 are gone; the outside statement ran after, on its own, and saw none.
      expect((await sql.query('SELECT n FROM t ORDER BY n')).rows).toEqual([{ n: 10 }]);
    } finally {
      await sql.close();
    }
  });

  it('maps constraint errors across the thread like in process (SQLSTATE and constraint, no values)', async () => {
    const sql = await createPgliteWorkerClient();
    try {
      await sql.exec('CREATE TABLE u (name text CONSTRAINT u_name_key UNIQUE)');
      await sql.query('INSERT INTO u (name) VALUES ($1)', ['secret-value']);
      const err: unknown = await sql.query('INSERT INTO u (name) VALUES ($1)', ['secret-value']).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: '23505', constraint: 'u_name_key' });
      expect(String((err as Error).message)).not.toContain('secret-value');
    } finally {
      await sql.close();
    }
  });

  it('a crash of the database thread fails statements with temporarily_unavailable and the process goes on', async () => {
    // A 48 MB heap for the thread, then a result far larger: V8 ends the thread (out of memory),
    // as a WASM trap or any uncaught error in it would.
    const sql = await createPgliteWorkerClient({ resourceLimits: { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 } });
    try {
      expect((await sql.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await expect(sql.query("SELECT repeat('x', 100000) AS s FROM generate_series(1, 1000)")).rejects.toMatchObject({ code: 'temporarily_unavailable' });
      await expect(sql.query('SELECT 1 AS one')).rejects.toMatchObject({ code: 'temporarily_unavailable' });
      await expect(sql.transaction(async (tx) => tx.query('SELECT 1'))).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    } finally {
      await sql.close();
    }
    await expect(sql.query('SELECT 1')).rejects.toMatchObject({ code: 'temporarily_unavailable' });
  });

  it('close() ends the thread: later statements fail with temporarily_unavailable', async () => {
    const sql = await createPgliteWorkerClient();
    await sql.close();
    await sql.close();
    await expect(sql.query('SELECT 1')).rejects.toMatchObject({ code: 'temporarily_unavailable' });
  });
});

describe('migration runner', () => {
  let pg: PGlite;
  let dir: string;
  beforeAll(async () => {
    pg = await PGlite.create();
    dir = await mkdtemp(join(tmpdir(), 'authmesh-migrations-'));
  });
  afterAll(async () => {
    await pg.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('applies pending files once, in order, and rolls a failing one back whole', async () => {
    const sql = createPgliteSqlClient(pg);
    const migrations = join(dir, 'm');
    await mkdir(migrations);
    await writeFile(join(migrations, '0002_second.sql'), "INSERT INTO log (step) VALUES ('second');");
    await writeFile(join(migrations, '0001_first.sql'), "CREATE TABLE log (n serial PRIMARY KEY, step text NOT NULL);\nINSERT INTO log (step) VALUES ('first');");
    await writeFile(join(migrations, 'README.md'), 'not a migration');

    expect(await runMigrations(sql, migrations)).toEqual(['0001_first', '0002_second']);
    expect(await runMigrations(sql, migrations)).toEqual([]);
    expect((await pg.query('SELECT step FROM log ORDER BY n')).rows).toEqual([{ step: 'first' }, { step: 'second' }]);

    await writeFile(join(migrations, '0003_broken.sql'), "INSERT INTO log (step) VALUES ('third');\nSELECT no_such_column FROM log;");
    await expect(runMigrations(sql, migrations)).rejects.toMatchObject({ code: 'server_error' });
    expect((await pg.query('SELECT count(*)::int AS n FROM log')).rows).toEqual([{ n: 2 }]);
    expect((await pg.query('SELECT version FROM schema_migrations ORDER BY version')).rows).toEqual([
      { version: '0001_first' },
      { version: '0002_second' },
    ]);

    await writeFile(join(migrations, '0003_broken.sql'), "INSERT INTO log (step) VALUES ('third');");
    expect(await runMigrations(sql, migrations)).toEqual(['0003_broken']);
  });

  it('refuses two files with one number', async () => {
    const sql = createPgliteSqlClient(pg);
    const migrations = join(dir, 'dup');
    await mkdir(migrations);
    await writeFile(join(migrations, '0001_a.sql'), 'SELECT 1;');
    await writeFile(join(migrations, '0001_b.sql'), 'SELECT 1;');
    await expect(runMigrations(sql, migrations)).rejects.toMatchObject({ code: 'server_error' });
  });
});
