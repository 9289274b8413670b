#!/usr/bin/env node
// `npm run build`: compiles what production runs (services/, gateway/, gen/ and the sample API) from
// TypeScript to JavaScript under dist/, keeping the source layout (dist/services/main.js,
// dist/gateway/…, dist/gen/…, the `authmesh` command-line tool dist/cli/authmesh.js), so every `../..` import and every path found from a module's own
// location works the same in both trees (services/core/rpc/paths.ts knows which one it runs from).
// `npm start`, the start:<svc> scripts, scripts/stack.sh and the Dockerfile run `node` on the output.
//
// esbuild, transpile only (types are checked by `npm run typecheck`, in CI): the whole tree
// compiles in about a second, and when every output is newer than its source the build stops
// after a few ms of stat calls, so it runs before every `npm start` (`--force` compiles anyway).
// Linked source maps (`node --enable-source-maps`) make stack traces and CPU profiles name the
// .ts lines.
//
// Safe while processes run from dist/ and when several builds run at once (tests start several
// servers): a file is only rewritten when its content changed, by writing a temporary file and
// renaming it over the old one, so a process loading a module never reads half a file. Outputs
// whose source is gone are removed.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildConsole, consoleOutDir } from './build-console.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist');
/** Source trees compiled whole, and single files. */
const TREES = ['services', 'gateway', 'gen', 'cli'];
const FILES = ['test/sample-api/server.ts'];
/** Test code living next to the sources (suites, their helpers, the Store/Grid contract suites) is not compiled. */
const TEST_CODE = /(\.test|-test-support|-contract)\.ts$/;
const isSource = (name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && !TEST_CODE.test(name);

function sourcesIn(dir) {
  const found = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...sourcesIn(path));
    else if (entry.isFile() && isSource(entry.name)) found.push(path);
  }
  return found;
}

function filesUnder(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

function sameContent(path, contents) {
  try {
    return readFileSync(path).equals(contents);
  } catch {
    return false;
  }
}

const started = performance.now();
// The admin console's bundle (dist/console/) has its own build and its own up-to-date check.
const consoleFiles = await buildConsole({ force: process.argv.includes('--force') });
/** dist/'s files that this script compiles (everything but the console's). */
const compiledFilesUnder = (dir) => filesUnder(dir).filter((f) => !f.startsWith(consoleOutDir + sep));
const sources = [...TREES.flatMap(sourcesIn), ...FILES];
const generated = (path) => path.startsWith(`gen${sep}`);
const outputOf = (source) => join(outDir, source.replace(/\.ts$/, '.js'));
/** What every output also depends on: this script, the compiler options, the compiler. */
const SHARED_INPUTS = [fileURLToPath(import.meta.url), join(root, 'tsconfig.json'), join(root, 'node_modules', 'esbuild', 'package.json')];
const mtimeOf = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Number.NaN;
// An input's change time, not its modification time: a file restored with an old mtime (tar, cp -p,
// rsync -t) still has a new ctime, which nothing can set back.
const changedAt = (path) => statSync(path, { throwIfNoEntry: false })?.ctimeMs ?? Number.NaN;

/**
 * Whether dist/ already holds exactly the outputs of `sources` (and their maps), each written
 * after its source and the shared inputs last changed: then there is nothing to compile (a few ms of stat calls
 * instead of starting esbuild). A transpiled file depends on its own source only.
 */
function upToDate() {
  const shared = Math.max(...SHARED_INPUTS.map(changedAt));
  const expected = new Set();
  for (const source of sources) {
    const out = outputOf(source);
    expected.add(out);
    if (!generated(source)) expected.add(`${out}.map`);
    if (!(mtimeOf(out) >= Math.max(changedAt(join(root, source)), shared))) return false;
  }
  const present = compiledFilesUnder(outDir);
  return present.length === expected.size && present.every((f) => expected.has(f));
}

/** `--quiet`: no summary line (`npm run authmesh` builds first, and its stderr is the tool's). */
const quiet = process.argv.includes('--quiet');
if (upToDate() && !process.argv.includes('--force')) {
  if (!quiet) console.error(`build: ${relative(root, outDir)}${sep} is up to date (${sources.length} files${consoleFiles > 0 ? `; console rebuilt` : ''}) in ${Math.round(performance.now() - started)} ms`);
  process.exit(0);
}

const { build } = await import('esbuild');
const options = {
  absWorkingDir: root,
  outbase: '.',
  outdir: outDir,
  bundle: false,
  platform: 'node',
  format: 'esm',
  // Node 20.19 (package.json engines); tsconfig's target ES2023.
  target: 'node20.19',
  // Node maps stack frames with the mappings alone; the .ts files are next to dist/ anyway.
  sourcesContent: false,
  tsconfig: join(root, 'tsconfig.json'),
  write: false,
  logLevel: 'warning',
};
const [ours, gen] = await Promise.all([
  build({ ...options, entryPoints: sources.filter((p) => !generated(p)), sourcemap: 'linked' }),
  // Generated code gets no source map: node --enable-source-maps keeps every loaded map in memory
  // (gen/'s would be two thirds of them), and a frame in dist/gen/…/x.js reads as well as in the
  // generated x.ts (the same code without its types, under the same names).
  build({ ...options, entryPoints: sources.filter(generated), sourcemap: false }),
]);
const outputs = [...ours.outputFiles, ...gen.outputFiles];

const written = new Set();
let changed = 0;
const now = new Date();
for (const file of outputs) {
  written.add(file.path);
  const contents = Buffer.from(file.contents);
  if (sameContent(file.path, contents)) {
    // Same content (e.g. a source touched by git): only its time moves, so the next start
    // finds it up to date. A process reading it sees no change.
    utimesSync(file.path, now, now);
    continue;
  }
  mkdirSync(dirname(file.path), { recursive: true });
  const tmp = `${file.path}.${process.pid}.tmp`;
  // A script with a hashbang (the `authmesh` bin) is executable, as npm makes a package's bin.
  writeFileSync(tmp, contents, { mode: contents.subarray(0, 2).toString() === '#!' ? 0o755 : 0o644 });
  renameSync(tmp, file.path);
  changed++;
}
let removed = 0;
for (const path of compiledFilesUnder(outDir)) {
  if (written.has(path)) continue;
  // A build running now owns its temporary files; one left by a build that died is removed.
  if (path.endsWith('.tmp') && Date.now() - mtimeOf(path) < 60_000) continue;
  rmSync(path, { force: true });
  removed++;
}
const ms = Math.round(performance.now() - started);
if (!quiet) console.error(`build: ${sources.length} files → ${relative(root, outDir)}${sep} (${changed} written, ${removed} removed) in ${ms} ms`);
