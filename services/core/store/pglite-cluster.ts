// Making a PGlite database cluster (initdb) in a short-lived child process, and the settings the
// embedded server runs with.
//
// Why a child: PGlite runs initdb in a second WASM instance inside the process that opens the
// database, and that instance's memory (and the first start's peak) stays in the process: a
// server whose data directory was fresh sat at ~780 MB RSS, one that reopened an existing
// directory at ~270 MB (node 20, PGlite 0.5.17). A child that creates the cluster and exits
// returns all of it to the system; the server then only ever reopens a cluster.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

/**
 * Postgres settings of the embedded server, given as `-c` start parameters (they take precedence
 * over the cluster's postgresql.conf, which stays as initdb wrote it). Measured on node 20 with
 * PGlite 0.5.17 in a bare process, reopening a data directory and inserting 2,000 rows: RSS
 * 298/349 MB (open/after) with initdb's defaults, 170/195 MB with shared_buffers=16MB, 162/190 MB
 * adding a small max_connections, 145/177 MB at shared_buffers=4MB (not taken: little gain for a
 * cache a quarter the size).
 * WASM memory never shrinks, so every per-operation allowance below is also a bound on the
 * high-water mark that stays in the process.
 *
 * - shared_buffers 16MB (initdb: 128MB): 2,048 pages of 8 kB; the page cache of the OS holds the
 *   rest of the files, the WASM copy is what costs.
 * - wal_buffers 512kB: what -1 (1/32 of shared_buffers) gives, written out so it stays put.
 * - work_mem 2MB (default 4MB): per sort/hash; the store's statements are key lookups and short
 *   keyset pages.
 * - maintenance_work_mem 16MB (default 64MB): CREATE INDEX in migrations, VACUUM.
 * - temp_buffers 1MB (default 8MB): the store makes no temporary tables.
 * - max_connections 8 (initdb: 100): PGlite is one single-user backend; the shared memory sized
 *   per connection (lock table, proc array) shrinks with it.
 *
 * Durability is PGlite's own and unchanged: on a data directory every write goes to the file
 * through node:fs before the statement returns (PGlite's NODEFS does not fsync, and PGlite starts
 * Postgres with -F), so an acknowledged write survives the process dying, not the machine losing
 * power. relaxedDurability is not set: it only skips waiting for syncToFs, which is a no-op for a
 * Node data directory and for memory.
 */
export const PGLITE_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  shared_buffers: '16MB',
  wal_buffers: '512kB',
  work_mem: '2MB',
  maintenance_work_mem: '16MB',
  temp_buffers: '1MB',
  max_connections: '8',
});

/** PGlite's own start parameters followed by PGLITE_SETTINGS as `-c name=value`. */
export function pgliteStartParams(): string[] {
  return [...PGlite.defaultStartParams, ...Object.entries(PGLITE_SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
}

// The child: CommonJS so that it needs no loader, handed the path of PGlite's CommonJS build.
// argv: pglite module, 'dir' <dataDir> | 'tar' <file>. initdb's messages stay in the child; on
// failure its stderr (no secrets: a fresh cluster has none) ends up in the error.
const CHILD = `
const { PGlite } = require(process.argv[1]);
const { writeFileSync } = require('node:fs');
(async () => {
  const [mode, target] = process.argv.slice(2);
  const pg = await PGlite.create(mode === 'dir' ? { dataDir: target } : {});
  if (mode === 'tar') writeFileSync(target, Buffer.from(await (await pg.dumpDataDir('none')).arrayBuffer()));
  await pg.close();
})().catch((err) => { process.stderr.write(String((err && err.stack) || err)); process.exit(1); });
`;

function runChild(mode: 'dir' | 'tar', target: string): Promise<void> {
  const pglite = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', CHILD, pglite, mode, target], { maxBuffer: 1 << 20, timeout: 300_000, windowsHide: true }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`initdb in a child process failed (${err.message.split('\n')[0]}): ${stderr.slice(-2000)}`, { cause: err }));
    });
  });
}

/**
 * Makes `dataDir` a PGlite cluster when it is not one yet (no PG_VERSION): initdb runs in a child
 * process into a sibling directory `<dataDir>.initdb-<pid>` (mode 0700), which is then renamed
 * onto `dataDir`, so an interrupted initdb never leaves a half-made cluster where the server looks.
 * `dataDir` may be absent or an empty directory.
 *
 * @throws Error when `dataDir` holds files but no cluster (the caller reports it with the path),
 *   or when initdb failed (its stderr in the message).
 */
export async function ensureCluster(dataDir: string): Promise<void> {
  if (existsSync(join(dataDir, 'PG_VERSION'))) return;
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new Error(`${dataDir} holds files but no database (no PG_VERSION): not a PGlite data directory, or an interrupted start`);
  }
  const staging = join(dirname(dataDir), `${basename(dataDir)}.initdb-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  try {
    await runChild('dir', staging);
    // rename(2) replaces an empty directory atomically.
    renameSync(staging, dataDir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Opens PGlite the way the embedded store runs it: the cluster is made by initdb in a child
 * process (for a fresh data directory, or once per process a template that in-memory databases
 * load), so this process only ever reopens one; Postgres runs with PGLITE_SETTINGS.
 *
 * @param dataDir a directory that is a cluster, empty, or absent; in memory when undefined.
 * @param template for in memory, freshClusterTarball()'s bytes when the caller has them (a worker
 *   thread is handed its parent's), else this thread makes or reuses its own.
 * @throws whatever PGlite or initdb threw (createPgliteStore wraps it).
 */
export async function openPglite(dataDir?: string, template?: Uint8Array): Promise<PGlite> {
  const startParams = pgliteStartParams();
  if (dataDir === undefined) return PGlite.create({ loadDataDir: new Blob([template ?? (await freshClusterTarball())]), startParams });
  await ensureCluster(dataDir);
  return PGlite.create({ dataDir, startParams });
}

let template: Promise<Uint8Array> | undefined;

/**
 * A fresh cluster as an uncompressed tar (PGlite's loadDataDir format, ~40 MB), made once per
 * thread by initdb in a child process; in-memory stores start from it instead of each running
 * initdb in the process. The bytes live in a SharedArrayBuffer, so handing them to a worker
 * thread copies nothing. A failure is not cached: the next call tries again.
 */
export function freshClusterTarball(): Promise<Uint8Array> {
  template ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'authmesh-pglite-template-'));
    try {
      const file = join(dir, 'cluster.tar');
      await runChild('tar', file);
      const bytes = await readFile(file);
      const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
      shared.set(bytes);
      return shared;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  template.catch(() => {
    template = undefined;
  });
  return template;
}
