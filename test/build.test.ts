// `npm run build` (scripts/build.mjs): production runs the compiled JavaScript under dist/, so the
// compiled tree must find the same files the source tree finds (migrations, the descriptor set),
// name the .ts lines in its stack traces, and a rebuild must never disturb processes already
// running from dist/ (npm start builds on every start, several servers start at once in tests
// and in scripts/stack.sh).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { descriptorSetPath, repoRoot } from '../services/core/rpc/index.js';
import { MYSQL_MIGRATIONS_DIR, POSTGRES_MIGRATIONS_DIR } from '../services/core/store/index.js';

const run = promisify(execFile);
const dist = join(repoRoot, 'dist');

async function build(): Promise<string> {
  const { stderr } = await run(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot });
  return stderr;
}

/** Runs an ES module snippet in a fresh node (with `flags`) in the repository, and returns its stdout. */
async function node(flags: string[], source: string): Promise<string> {
  const { stdout } = await run(process.execPath, [...flags, '--input-type=module', '-e', source], { cwd: repoRoot });
  return stdout;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('npm run build: the compiled tree production runs', () => {
  beforeAll(async () => {
    await build();
  }, 120_000);

  it('compiles the entry points and everything under services/, gateway/ and gen/, but no test code', () => {
    for (const file of ['services/main.js', 'gateway/index.js', 'test/sample-api/server.js', 'gen/ts/authmesh/token/v1/token.js']) {
      expect(existsSync(join(dist, file)), file).toBe(true);
    }
    const compiled = filesUnder(dist).map((f) => relative(dist, f));
    expect(compiled.filter((f) => /(\.test|-test-support|-contract)\.js$/.test(f))).toEqual([]);
    expect(compiled.filter((f) => f.startsWith('test/'))).toEqual(['test/sample-api/server.js', 'test/sample-api/server.js.map']);
  });

  it('compiled code finds the repository files the source finds (migrations, descriptor set), not copies under dist/', async () => {
    const out = await node(
      [],
      `import { repoRoot, descriptorSetPath } from './dist/services/core/rpc/index.js';
       import { POSTGRES_MIGRATIONS_DIR, MYSQL_MIGRATIONS_DIR } from './dist/services/core/store/index.js';
       console.log(JSON.stringify({ repoRoot, descriptor: descriptorSetPath(), pg: POSTGRES_MIGRATIONS_DIR, mysql: MYSQL_MIGRATIONS_DIR }));`,
    );
    expect(JSON.parse(out)).toEqual({ repoRoot, descriptor: descriptorSetPath(), pg: POSTGRES_MIGRATIONS_DIR, mysql: MYSQL_MIGRATIONS_DIR });
    expect(repoRoot).toBe(join(import.meta.dirname, '..'));
    expect(readdirSync(POSTGRES_MIGRATIONS_DIR).some((f) => f.endsWith('.sql'))).toBe(true);
    expect(readdirSync(MYSQL_MIGRATIONS_DIR).some((f) => f.endsWith('.sql'))).toBe(true);
  });

  it('a stack trace from the compiled server names the .ts file and line (node --enable-source-maps)', async () => {
    // loadConfig throws ConfigError for a bad value: the frame that throws is in services/core/config/index.ts.
    const out = await node(
      ['--enable-source-maps'],
      `import { loadConfig } from './dist/services/core/config/index.js';
       try { loadConfig({ AUTHMESH_HTTP_PORT: 'not-a-port' }); } catch (err) { console.log(err.stack); }`,
    );
    const frame = /services\/core\/config\/index\.ts:(\d+):\d+/.exec(out);
    expect(frame, out).not.toBeNull();
    const line = readFileSync(join(repoRoot, 'services', 'core', 'config', 'index.ts'), 'utf8').split('\n')[Number(frame![1]) - 1];
    expect(line, `the mapped line of ${frame![0]}`).toMatch(/throw|ConfigError/);
    expect(out).not.toMatch(/dist\/services\/core\/config\/index\.js/);
  });

  it('rebuilding an unchanged tree touches no file (processes running from dist/ see no change), also three builds at once', async () => {
    const before = new Map(filesUnder(dist).map((f) => [f, statSync(f).mtimeMs]));
    const results = await Promise.all([build(), build(), build()]);
    for (const stderr of results) expect(stderr).toMatch(/is up to date|\(0 written, 0 removed\)/);
    const after = new Map(filesUnder(dist).map((f) => [f, statSync(f).mtimeMs]));
    expect(after).toEqual(before);
    expect(await node([], `import('./dist/services/core/config/index.js').then((m) => console.log(typeof m.loadConfig));`)).toBe('function\n');
  }, 120_000);

  it('a missing output is compiled again: the up-to-date check covers every output, maps included', async () => {
    const map = join(dist, 'services', 'main.js.map');
    rmSync(map);
    expect(await build()).toMatch(/\(\d+ written, 0 removed\)/);
    expect(JSON.parse(readFileSync(map, 'utf8'))).toMatchObject({ sources: ['../../services/main.ts'] });
    expect(await build()).toMatch(/is up to date/);
  }, 120_000);
});
