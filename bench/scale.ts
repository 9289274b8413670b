// `npm run bench:scale`: authmesh embedded on a large data set (1,000,000 users and 100,000
// clients by default) against authmesh embedded on an empty store, in interleaved rounds, for the
// token and introspection rows. The seeding time is printed too: it must be minutes, not hours.
//   BENCH_SCALE_USERS (1000000)  BENCH_SCALE_CLIENTS (100000)
//   BENCH_SCALE_DIR   keep (and reuse) the seeded data directory there; default a temporary one
//   BENCH_SCALE_SEED_ONLY=1  seed (and time it), then stop without benchmarking
//   BENCH_ROWS        default client_credentials,cc_many_clients,introspection,grpc_token
// and the settings of bench/config.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAuthmeshEmbedded } from './authmesh-embedded.js';
import { benchConfig } from './config.js';
import { runBenchmark } from './harness.js';
import { httpRound } from './http-load.js';
import { formHeaders } from './oauth-http.js';
import { seedScaleData } from './scale-seed.js';
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
const config = benchConfig();
config.rows ??= ['client_credentials', 'cc_many_clients', 'introspection', 'grpc_token'];
const keep = process.env.BENCH_SCALE_DIR;
const dataDir = keep ?? mkdtempSync(join(tmpdir(), 'authmesh-bench-scale-'));
const log = (line: string) => process.stderr.write(`bench:scale: ${line}\n`);
const n = (x: number) => x.toLocaleString('en-US');
let failed = 0;
try {
  log(`seeding ${n(counts.users)} users and ${n(counts.clients)} clients into ${dataDir}`);
  const seconds = await seedScaleData(dataDir, counts, log);
  if (process.env.BENCH_SCALE_SEED_ONLY === '1') {
    console.log(`Seeded ${n(counts.users)} users and ${n(counts.clients)} clients in ${Math.round(seconds)} s.`);
  } else {
    const result = await runBenchmark(
      `authmesh embedded: ${n(counts.users)} users + ${n(counts.clients)} clients vs an empty store`,
      [
        async () => {
          const seeded = await startAuthmeshEmbedded({ dataDir, label: `authmesh (embedded, ${n(counts.users)} users, ${n(counts.clients)} clients)` });
          if (counts.clients > 0) seeded.loads.cc_many_clients = manyClients(seeded.http!, counts.clients);
          return seeded;
        },
        () => startAuthmeshEmbedded({ side: 'empty', label: 'authmesh (embedded, empty store)' }),
      ],
      [],
      config,
    );
    console.log(seconds > 0 ? `Seeding took ${Math.round(seconds)} s.` : 'Seeding: reused an existing data set.');
    failed = result.rows.reduce((sum, r) => sum + Object.values(r.sides).reduce((m, s) => m + s.errors, 0), 0);
  }
} finally {
  if (!keep) rmSync(dataDir, { recursive: true, force: true });
}
process.exit(failed > 0 ? 1 : 0);
