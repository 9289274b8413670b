// `npm run bench:scale`: authmesh embedded on a large data set (1,000,000 users and 100,000
// clients by default) against authmesh embedded on an empty store, in interleaved rounds, for the
// token and introspection rows (issue 12, target 6: within 10%). The seeding time is printed too:
// it must be minutes, not hours (bench/scale-seed.ts says how, and why one password hash is reused).
//   BENCH_SCALE_USERS (1000000)  BENCH_SCALE_CLIENTS (100000)
//   BENCH_SCALE_STORE        embedded (default) | postgres
//   BENCH_SCALE_DIR          embedded: keep (and reuse) the seeded data directory there; default a
//                            temporary one, removed after
//   BENCH_SCALE_POSTGRES_URL postgres: a server where the benchmark may create databases (use a
//                            private one: scripts/postgres.sh up with AUTHMESH_STACK_DIR and
//                            AUTHMESH_PG_PORT); it creates authmesh_scale_<users>_<clients> (reused
//                            when already seeded, kept with BENCH_SCALE_KEEP=1) and an empty one
//   BENCH_SCALE_SEED_ONLY=1  seed (and time it), then stop without benchmarking
//   BENCH_ROWS               default client_credentials,cc_many_clients,introspection,grpc_token
// and the settings of bench/config.ts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAuthmeshEmbedded } from './authmesh-embedded.js';
import { benchConfig } from './config.js';
import { runBenchmark } from './harness.js';
import { httpRound } from './http-load.js';
import { formHeaders } from './oauth-http.js';
import pg from 'pg';
import { seedScaleData, type SeedTarget } from './scale-seed.js';
import type { Load } from './target.js';

/**
 * client_credentials where each request authenticates as a random one of the seeded clients
 * (scale-client-<i>, secret scale-secret-<i>): the path a cache of one hot client hides.
 */
function manyClients(http: string, clients: number): Load {
  return {
    run: (s, c) =>
      httpRound(
        {
          url: `${http}/oauth2/token`,
          method: 'POST',
          body: 'grant_type=client_credentials&scope=api%3Aread',
          perRequestHeaders: () => {
            const i = 1 + Math.floor(Math.random() * clients);
            return formHeaders(`scale-client-${i}`, `scale-secret-${i}`);
          },
        },
        s,
        c,
      ),
    note: 'seeded side only: each request is a random seeded client, so most are a first lookup',
  };
}

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 10_000_000) throw new Error(`${name}=${JSON.stringify(raw)}: expected an integer from 0 to 10000000`);
  return n;
}

const counts = { users: count('BENCH_SCALE_USERS', 1_000_000), clients: count('BENCH_SCALE_CLIENTS', 100_000) };
const storeKind = process.env.BENCH_SCALE_STORE ?? 'embedded';
if (storeKind !== 'embedded' && storeKind !== 'postgres') throw new Error(`BENCH_SCALE_STORE=${JSON.stringify(storeKind)}: expected embedded or postgres`);
const serverUrl = process.env.BENCH_SCALE_POSTGRES_URL;
if (storeKind === 'postgres' && !serverUrl) throw new Error('BENCH_SCALE_STORE=postgres needs BENCH_SCALE_POSTGRES_URL (a server where the benchmark may create databases)');
const config = benchConfig();
config.rows ??= ['client_credentials', 'cc_many_clients', 'introspection', 'grpc_token'];
const keepDir = process.env.BENCH_SCALE_DIR;
const keepDb = process.env.BENCH_SCALE_KEEP === '1';
const dataDir = keepDir ?? mkdtempSync(join(tmpdir(), 'authmesh-bench-scale-'));
const log = (line: string) => process.stderr.write(`bench:scale: ${line}\n`);
const n = (x: number) => x.toLocaleString('en-US');

/** `url` with its path replaced by `/database`. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
/** Runs `statement` (CREATE/DROP DATABASE: no parameters allowed) on the server's default database. */
async function onServer(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
const seededDb = `authmesh_scale_${counts.users}_${counts.clients}`;
const emptyDb = `authmesh_scale_empty_${randomBytes(4).toString('hex')}`;
const postgresEnv = (db: string) => ({ AUTHMESH_STORE: 'postgres', AUTHMESH_DATABASE_URL: withDatabase(serverUrl!, db) });

let failed = 0;
try {
  let target: SeedTarget = { store: 'embedded', dataDir };
  if (storeKind === 'postgres') {
    await onServer(`CREATE DATABASE ${seededDb}`).catch((err: { code?: string }) => {
      // 42P04 duplicate_database: an earlier run's set, reused when its seed is complete.
      if (err.code !== '42P04') throw err;
    });
    await onServer(`CREATE DATABASE ${emptyDb}`);
    target = { store: 'postgres', url: withDatabase(serverUrl!, seededDb) };
  }
  log(`seeding ${n(counts.users)} users and ${n(counts.clients)} clients into ${storeKind === 'postgres' ? `PostgreSQL database ${seededDb}` : dataDir}`);
  const seconds = await seedScaleData(target, counts, log);
  if (process.env.BENCH_SCALE_SEED_ONLY === '1') {
    console.log(`Seeded ${n(counts.users)} users and ${n(counts.clients)} clients (${storeKind}) in ${Math.round(seconds)} s.`);
  } else {
    const store = storeKind === 'postgres' ? 'PostgreSQL' : 'embedded';
    const result = await runBenchmark(
      `authmesh embedded (${store} store): ${n(counts.users)} users + ${n(counts.clients)} clients vs an empty store`,
      [
        async () => {
          const seeded = await startAuthmeshEmbedded({
            ...(storeKind === 'postgres' ? { env: postgresEnv(seededDb) } : { dataDir }),
            label: `authmesh (embedded, ${store} store, ${n(counts.users)} users, ${n(counts.clients)} clients)`,
          });
          if (counts.clients > 0) seeded.loads.cc_many_clients = manyClients(seeded.http!, counts.clients);
          return seeded;
        },
        () => startAuthmeshEmbedded({ ...(storeKind === 'postgres' ? { env: postgresEnv(emptyDb) } : {}), side: 'empty', label: `authmesh (embedded, ${store} store, empty)` }),
      ],
      [],
      config,
    );
    console.log(seconds > 0 ? `Seeding took ${Math.round(seconds)} s.` : 'Seeding: reused an existing data set.');
    failed = result.rows.reduce((sum, r) => sum + Object.values(r.sides).reduce((m, s) => m + s.errors, 0), 0);
  }
} finally {
  if (!keepDir) rmSync(dataDir, { recursive: true, force: true });
  if (storeKind === 'postgres') {
    await onServer(`DROP DATABASE IF EXISTS ${emptyDb}`).catch((err: unknown) => log(`could not drop ${emptyDb}: ${String(err)}`));
    if (!keepDb) await onServer(`DROP DATABASE IF EXISTS ${seededDb}`).catch((err: unknown) => log(`could not drop ${seededDb}: ${String(err)}`));
  }
}
process.exit(failed > 0 ? 1 : 0);
