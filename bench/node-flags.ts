// `npm run bench:flags`: authmesh embedded run twice in one benchmark, once as `npm start` runs it
// and once with extra node/V8 flags (BENCH_NODE_FLAGS, e.g. "--max-semi-space-size=4"), in
// interleaved rounds: whether a flag buys memory (RSS idle and after the load) without losing
// throughput, read as a ratio within one run. In the table the side "authmesh" is the one with the
// flags and the side "empty" is the default (the column "authmesh ÷ empty" is flags ÷ default).
// Settings as for `npm run bench` (BENCH_ROWS, BENCH_ROUNDS, BENCH_SECONDS, …); no peers.
import { COMPILED_MAIN, startAuthmeshEmbedded } from './authmesh-embedded.js';
import { benchConfig } from './config.js';
import { runBenchmark } from './harness.js';

const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
if (flags.length === 0 || flags.some((f) => !/^--[a-z0-9-]+(=[\w.,/-]+)?$/.test(f))) {
  throw new Error('BENCH_NODE_FLAGS must name one or more node flags, e.g. "--max-semi-space-size=4 --max-old-space-size=128"');
}
const config = benchConfig();
const result = await runBenchmark(
  `authmesh embedded with \`${flags.join(' ')}\` (side "authmesh") vs default node flags (side "empty")`,
  [
    () => startAuthmeshEmbedded({ side: 'empty', label: 'authmesh (embedded, default node flags)' }),
    () => startAuthmeshEmbedded({ label: `authmesh (embedded, node ${flags.join(' ')})`, command: { file: process.execPath, args: [...flags, ...COMPILED_MAIN] } }),
  ],
  [],
  config,
);
const errors = result.rows.reduce((n, r) => n + Object.values(r.sides).reduce((m, s) => m + s.errors, 0), 0);
process.exit(errors > 0 ? 1 : 0);
