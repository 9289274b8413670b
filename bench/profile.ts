// `npm run bench:profile`: a V8 CPU profile of authmesh embedded under client_credentials load
// (or another row of bench/target.ts: BENCH_PROFILE_ROW=refresh), for whoever works on the hot
// path next. Starts `node --cpu-prof --enable-source-maps dist/services/main.js` (the compiled
// server production runs, one process, so the profile is the server's; frames are mapped back to
// the .ts files through the build's source maps), loads it for BENCH_SECONDS (default 10) after a
// warm-up, stops it (the profile is written on exit) and prints the top functions and modules by
// self time. The .cpuprofile stays in BENCH_PROFILE_DIR (default a
// temporary directory) for Chrome DevTools or speedscope.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { durableBackends, startAuthmeshDurable } from './authmesh-durable.js';
import { COMPILED_MAIN, startAuthmeshEmbedded } from './authmesh-embedded.js';
import { selfTimes, type Profile } from './cpu-profile-top.js';
import { mapProfileToSources } from './profile-source-maps.js';
import { ROW_IDS, type RowId } from './target.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
if (!(seconds > 0 && seconds <= 600) || !(Number.isInteger(connections) && connections > 0 && connections <= 1024)) {
  throw new Error('BENCH_SECONDS must be in (0, 600] and BENCH_CONNECTIONS an integer in [1, 1024]');
}
const row = (process.env.BENCH_PROFILE_ROW ?? 'client_credentials') as RowId;
if (!(ROW_IDS as readonly string[]).includes(row)) throw new Error(`BENCH_PROFILE_ROW must be one of ${ROW_IDS.join(', ')}`);
const profileDir = process.env.BENCH_PROFILE_DIR ?? mkdtempSync(join(tmpdir(), 'authmesh-profile-'));
const dataDir = mkdtempSync(join(tmpdir(), 'authmesh-bench-'));
const command = { file: process.execPath, args: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, ...COMPILED_MAIN] };
// BENCH_POSTGRES_URL + BENCH_HAZELCAST_MEMBERS: the same process on those durable backends (bench/authmesh-durable.ts).
const durable = durableBackends();
const authmesh = durable
  ? await startAuthmeshDurable(durable, { label: 'authmesh (Postgres + Hazelcast, node --cpu-prof)', command, stopGraceMs: 30_000 })
  : await startAuthmeshEmbedded({
      dataDir, // removed here, after the stop is timed
      label: 'authmesh (embedded, node --cpu-prof)',
      command,
      stopGraceMs: 30_000,
    });
let stopMs = 0;
try {
  const load = authmesh.loads[row];
  if (!load) throw new Error(`authmesh embedded has no ${row} row`);
  await load.prepare?.(connections);
  await load.run(2, connections);
  await load.prepare?.(connections);
  const r = await load.run(seconds, connections);
  process.stderr.write(`bench:profile: ${row}: ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.errors} errors (profiling slows the server)\n`);
} finally {
  const t = performance.now();
  await authmesh.stop();
  stopMs = performance.now() - t;
  rmSync(dataDir, { recursive: true, force: true });
}
// One profile per thread: the main thread's is the largest.
const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
const file = files.sort((a, b) => statSync(join(profileDir, b)).size - statSync(join(profileDir, a)).size)[0];
if (!file) throw new Error(`no .cpuprofile in ${profileDir}: did the server exit cleanly?`);
const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as Profile;
mapProfileToSources(profile);
// The measured load only: the `seconds` before the shutdown began (shutdown took stopMs).
const endMs = (profile.endTime - profile.startTime) / 1000;
const { functions, modules, totalMs } = selfTimes(profile, { fromMs: endMs - stopMs - seconds * 1000, toMs: endMs - stopMs });
const pct = (ms: number) => `${((ms / totalMs) * 100).toFixed(1)}%`;
console.log(`\nCPU profile of authmesh ${durable ? 'on Postgres + Hazelcast' : 'embedded'}, the ${(totalMs / 1000).toFixed(1)} s of measured load: ${join(profileDir, file)}\n`);
console.log('| self ms | share | function |\n|---:|---:|---|');
for (const [name, ms] of functions.slice(0, 15)) console.log(`| ${Math.round(ms)} | ${pct(ms)} | ${name} |`);
console.log('\n| self ms | share | module |\n|---:|---:|---|');
for (const [name, ms] of modules.slice(0, 15)) console.log(`| ${Math.round(ms)} | ${pct(ms)} | ${name} |`);
