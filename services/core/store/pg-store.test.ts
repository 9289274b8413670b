// The Store contract and what only a real server can show: rotations racing over separate
// connections, and a server restart under a live store. Needs scripts/postgres.sh (see
// test/support/databases.ts for the environment).
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { raceRotations, testDatabaseUrl, testDatabases } from '../../../test/support/databases.js';
import { createPostgresStore } from './pg-store.js';
import { describeStoreContract } from './store-contract.js';
import type { Store } from './store.js';
import { freePort } from '../../../test/support/ports.js';

const run = promisify(execFile);
const target = testDatabaseUrl('postgres');
const databases = target.url === undefined ? undefined : testDatabases('postgres', target.url);

if (databases === undefined) {
  describe.skip(`postgres store: ${target.skip}`, () => {
    it('needs a server', () => undefined);
  });
} else {
  afterAll(() => databases.dropAll());

  describeStoreContract('postgres', async () => createPostgresStore({ url: await databases.create() }));

  describe('postgres store on a real server', () => {
    let store: Store;
    beforeAll(async () => {
      store = await createPostgresStore({ url: await databases.create(), poolSize: 10 });
    });
    afterAll(() => store?.close());

    it('lets exactly one of 10 rotations racing on 10 connections win', async () => {
      const outcomes = await raceRotations(store, 10);
      expect(outcomes.filter((o) => o === 'rotated')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'reused')).toHaveLength(9);
    });

    it('does not migrate twice when reopened', async () => {
      const url = await databases.create();
      const first = await createPostgresStore({ url });
      await first.close();
      const again = await createPostgresStore({ url });
      await again.close();
    });

    it('reports a closed store as unavailable', async () => {
      const closed = await createPostgresStore({ url: await databases.create() });
      await closed.close();
      await expect(closed.clients.get('x')).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    });
  });

  // A private cluster on a free port, so stopping it disturbs no other suite using the shared one.
  describe('postgres store across a server restart', () => {
    const script = join(import.meta.dirname, '../../../scripts/postgres.sh');
    let env: NodeJS.ProcessEnv;
    let stackDir: string;
    let store: Store | undefined;

    beforeAll(async () => {
      stackDir = await mkdtemp(join(tmpdir(), 'authmesh-pg-outage-'));
      // The server runs as the postgres OS user when we are root; it must reach its directory.
      await chmod(stackDir, 0o755);
      env = { ...process.env, AUTHMESH_STACK_DIR: stackDir, AUTHMESH_PG_PORT: String(await freePort()) };
      const { stdout } = await run(script, ['up'], { env });
      store = await createPostgresStore({ url: stdout.trim() });
    }, 60_000);

    afterAll(async () => {
      await store?.close();
      await run(script, ['down'], { env }).catch(() => undefined);
      await rm(stackDir, { recursive: true, force: true });
    }, 60_000);

    it('fails fast with TemporarilyUnavailable while down and recovers on the same instance', async () => {
      const s = store!;
      await s.audit.append({ type: 'before_outage' });

      await run(script, ['down'], { env });
      const started = Date.now();
      await expect(s.audit.append({ type: 'during_outage' })).rejects.toMatchObject({ code: 'temporarily_unavailable' });
      await expect(s.clients.get('anything')).rejects.toMatchObject({ code: 'temporarily_unavailable' });
      await expect(s.refreshTokens.rotate('h', {} as never, new Date())).rejects.toMatchObject({ code: 'temporarily_unavailable' });
      expect(Date.now() - started).toBeLessThan(5_000);

      await run(script, ['up'], { env });
      await s.audit.append({ type: 'after_outage' });
      const types = (await s.audit.list({})).items.map((e) => e.type);
      expect(types).toContain('before_outage');
      expect(types).toContain('after_outage');
      expect(types).not.toContain('during_outage');
    }, 60_000);
  });
}

