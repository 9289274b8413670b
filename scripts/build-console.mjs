// The admin console (console/): a Preact single-page app bundled by esbuild into dist/console/,
// which the gateway serves under /console (gateway/routes/console.ts). Called by scripts/build.mjs
// (so `npm run build` and `npm start` build it), or alone: `node scripts/build-console.mjs [--force]`.
//
// Output: index.html (never cached: it names the current bundle) and content-hashed assets
// (console-<hash>.js, console-<hash>.css: cached for a year, immutable). Nothing in the page is
// inline (the CSP has no 'unsafe-inline'), nothing is loaded from another origin.
//
// esbuild is already the project's compiler (no second bundler), and it bundles this app in a few
// hundred ms; when every output is newer than every input the build stops after a few stat calls.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the gateway reads the console from (gateway/routes/console.ts uses the same path). */
export const consoleOutDir = join(root, 'dist', 'console');
const srcDir = join(root, 'console');

function filesUnder(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** RFC 4648 base32 (A-Z, 2-7), the alphabet of esbuild's [hash], so every asset name has one form. */
function base32(bytes) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= 0xff;
  }
  return out;
}

const changedAt = (path) => statSync(path, { throwIfNoEntry: false })?.ctimeMs ?? Number.NaN;

/** Inputs: the console's sources, the generated ES types it imports, this script, the UI library. */
function newestInput() {
  const inputs = [
    ...filesUnder(srcDir),
    ...filesUnder(join(root, 'gen', 'es', 'authmesh')),
    fileURLToPath(import.meta.url),
    join(root, 'node_modules', 'preact', 'package.json'),
    join(root, 'node_modules', '@connectrpc', 'connect-web', 'package.json'),
    join(root, 'node_modules', 'esbuild', 'package.json'),
  ];
  return Math.max(...inputs.map(changedAt));
}

/**
 * Builds the console into dist/console/ unless it is up to date.
 * @returns the number of files written (0 when up to date)
 */
export async function buildConsole({ force = false } = {}) {
  const index = join(consoleOutDir, 'index.html');
  const built = statSync(index, { throwIfNoEntry: false })?.mtimeMs ?? Number.NaN;
  if (!force && built >= newestInput()) return 0;
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: root,
    entryPoints: { console: join(srcDir, 'src', 'main.tsx') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Browsers of the last few years; no polyfills.
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: false,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    entryNames: '[name]-[hash]',
    outdir: consoleOutDir,
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    // No process.env in a browser bundle.
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const names = result.outputFiles.map((f) => f.path.slice(consoleOutDir.length + 1));
  const script = names.find((n) => n.endsWith('.js'));
  const style = names.find((n) => n.endsWith('.css'));
  if (!script) throw new Error('console build produced no script');
  // The page's icon, content-hashed like the bundle: the page names it, so the browser never asks
  // for /favicon.ico (a 404), and it comes from this origin under the page's CSP (img-src 'self').
  const icon = readFileSync(join(srcDir, 'favicon.svg'));
  const iconName = `favicon-${base32(createHash('sha256').update(icon).digest()).slice(0, 8)}.svg`;
  names.push(iconName);
  const html = readFileSync(join(srcDir, 'index.html'), 'utf8')
    .replace('<!-- icon -->', `<link rel="icon" type="image/svg+xml" href="/console/${iconName}">`)
    .replace('<!-- style -->', style ? `<link rel="stylesheet" href="/console/${style}">` : '')
    .replace('<!-- script -->', `<script type="module" src="/console/${script}"></script>`);
  mkdirSync(consoleOutDir, { recursive: true });
  const write = (path, contents) => {
    // Written beside and renamed over, so a gateway serving the old files never reads half a file.
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, contents);
    renameSync(tmp, path);
  };
  const keep = new Set(['index.html', ...names]);
  for (const f of result.outputFiles) write(f.path, f.contents);
  write(join(consoleOutDir, iconName), icon);
  write(index, html);
  // Earlier builds' bundles go: a page still open is served its bundle until the next build only.
  for (const path of filesUnder(consoleOutDir)) {
    const name = path.slice(consoleOutDir.length + 1);
    if (!keep.has(name) && !name.endsWith('.tmp')) rmSync(path, { force: true });
  }
  return keep.size;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const written = await buildConsole({ force: process.argv.includes('--force') });
  if (!process.argv.includes('--quiet')) console.error(written === 0 ? 'build: dist/console/ is up to date' : `build: console → dist/console/ (${written} files)`);
}
