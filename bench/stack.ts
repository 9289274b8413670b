// `npm run bench:stack`: the same rows as `npm run bench`, with authmesh in stack mode (every
// service its own process on Postgres + Hazelcast, Envoy in front, started by scripts/stack.sh
// in a private directory on free ports) against the peers (node-oidc-provider; Ory Hydra when
// installed, BENCH_PEERS) and the limit server.
//   BENCH_STACK_DIR   the stack directory (default a temporary one)
//   BENCH_STACK_KEEP  1 to leave the stack running afterwards
// and the settings of bench/config.ts.
import { startAuthmeshStack, type BenchStack } from './authmesh-stack.js';
import { benchConfig } from './config.js';
import { runBenchmark } from './harness.js';
import { startLimit } from './limit-target.js';
import { peerStarters } from './peers.js';

const config = benchConfig();
const log = (line: string) => process.stderr.write(`bench:stack: ${line}\n`);
const peers = await peerStarters(config, log);
let stack: BenchStack | undefined;
const result = await runBenchmark(
  'authmesh stack (via Envoy) vs the peers vs the limit',
  [
    startLimit,
    ...peers,
    async () => {
      stack = await startAuthmeshStack({ ...(process.env.BENCH_STACK_DIR ? { dir: process.env.BENCH_STACK_DIR } : {}), keep: process.env.BENCH_STACK_KEEP === '1', log });
      return stack.target;
    },
  ],
  // Memory of the backends too; read lazily, once the stack is up.
  ['Envoy', 'PostgreSQL', 'Hazelcast members', 'sample API'].map((label) => ({ label, pids: () => stack?.extra.find((e) => e.label === label)?.pids() ?? [] })),
  config,
);
const errors = result.rows.reduce((n, r) => n + Object.values(r.sides).reduce((m, s) => m + s.errors, 0), 0);
process.exit(errors > 0 ? 1 : 0);
