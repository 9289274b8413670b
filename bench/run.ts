// `npm run bench`: authmesh embedded (as `npm start` runs it), node-oidc-provider (the peer), Ory
// Hydra when installed (scripts/peers.sh hydra install; BENCH_PEERS) and the limit (a bare
// fastify + jose token endpoint, a bare grpc-js server), each its own process on loopback, loaded
// in interleaved rounds in one run. Settings: see bench/config.ts (BENCH_ROUNDS, BENCH_SECONDS,
// BENCH_PROFILE=smoke, …). Numbers from a shared or busy machine are noise: compare ratios.
// With BENCH_POSTGRES_URL and BENCH_HAZELCAST_MEMBERS, authmesh runs on those durable backends
// instead of the embedded ones (bench/authmesh-durable.ts).
import { durableBackends, startAuthmeshDurable } from './authmesh-durable.js';
import { startAuthmeshEmbedded } from './authmesh-embedded.js';
import { benchConfig } from './config.js';
import { runBenchmark } from './harness.js';
import { startLimit } from './limit-target.js';
import { peerStarters } from './peers.js';

const config = benchConfig();
const durable = durableBackends();
const peers = await peerStarters(config, (line) => process.stderr.write(`bench: ${line}\n`));
const result = await runBenchmark(
  durable ? 'authmesh on Postgres + Hazelcast vs the peers vs the limit' : 'authmesh embedded vs the peers vs the limit',
  [startLimit, ...peers, () => (durable ? startAuthmeshDurable(durable) : startAuthmeshEmbedded())],
  [],
  config,
);
const errors = result.rows.reduce((n, r) => n + Object.values(r.sides).reduce((m, s) => m + s.errors, 0), 0);
if (errors > 0) process.stderr.write(`bench: ${errors} request(s) failed; see the errors column\n`);
process.exit(errors > 0 ? 1 : 0);
