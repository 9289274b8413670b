// `npm start`'s start-up, as a spawned process: a data directory that does not exist yet (nor
// its parents) is created private, and every start-up failure says what failed, on which path or
// address, the errno in words and which AUTHMESH_ variable to set, with exit status 2 for
// configuration and 1 for a dependency that did not answer — never a sentence that hides the cause.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/rpc/index.js';
import { testDatabaseUrl } from '../support/databases.js';
import { freePort } from '../support/ports.js';
import { startAuthmesh } from '../support/processes.js';

const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');

/** The environment of the test run without any AUTHMESH_ variable: each case sets its own. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AUTHMESH_')) env[k] = v;
  return env;
}

interface Exit {
  code: number | null;
  stderr: string;
  stdout: string;
}

/**
 * Runs `tsx services/main.ts` until it exits (at most 60 s, then its whole process group is
 * killed) and returns its exit status and output.
 */
function runMain(env: Record<string, string>, user?: { uid: number; gid: number }): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, ['services/main.ts'], {
      cwd: repoRoot,
      env: { ...cleanEnv(), AUTHMESH_LOG_LEVEL: 'warn', AUTHMESH_GRPC_PORT: '0', AUTHMESH_HTTP_PORT: '0', AUTHMESH_METRICS_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(user ?? {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
      reject(new Error(`authmesh did not exit within 60 s:\n${stdout}\n${stderr}`));
    }, 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      // Whatever it left in its group (tsx's node child) goes with it.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // nothing left
      }
      resolve({ code, stdout, stderr });
    });
  });
}

/** The three parts every start-up failure has, in the order main prints them. */
function expectFailure(exit: Exit, code: number, failed: RegExp | string, reason: RegExp | string, fix: RegExp | string) {
  const text = `${exit.stdout}\n${exit.stderr}`;
  expect(exit.code, text).toBe(code);
  const m = /authmesh failed to start: (.*)\n {2}reason: (.*)\n {2}fix: (.*)/.exec(exit.stderr);
  expect(m, text).not.toBeNull();
  expect(m![1]).toMatch(failed);
  expect(m![2]).toMatch(reason);
  expect(m![3]).toMatch(fix);
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('start-up (spawned authmesh)', () => {
  const root = mkdtempSync(join(tmpdir(), 'authmesh-startup-'));
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    rmSync(root, { recursive: true, force: true });
  });
  const busyPort = async () => {
    const port = await freePort();
    const s = createServer();
    await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
    servers.push(s);
    return port;
  };

  it('creates a missing data directory and every missing parent private (0700, secrets 0600), then starts; a second process on it and a wrong master key later stop the start', async () => {
    // The fresh-clone defect: ./data did not exist and PGlite does not create parents.
    mkdirSync(join(root, 'fresh'), { mode: 0o700 });
    const dataDir = join(root, 'fresh', 'not', 'yet', 'data');
    const p = await startAuthmesh({ AUTHMESH_DATA_DIR: dataDir, AUTHMESH_GRPC_PORT: '0', AUTHMESH_HTTP_PORT: '0' }, 90_000);
    // A second process on the same data directory would corrupt the single-user embedded database.
    const second = await runMain({ AUTHMESH_DATA_DIR: dataDir });
    expectFailure(second, 2, new RegExp(`^the data directory ${esc(dataDir)} is in use by another authmesh process \\(pid \\d+\\)$`), /one process at a time/, /AUTHMESH_DATA_DIR/);
    expect(await p.stop()).toBe(0);
    // A clean stop releases the claim.
    expect(existsSync(join(dataDir, 'authmesh.lock'))).toBe(false);
    for (const dir of ['not', 'not/yet', 'not/yet/data', 'not/yet/data/pglite']) {
      expect(statSync(join(root, 'fresh', dir)).mode & 0o777, dir).toBe(0o700);
    }
    for (const file of ['master.key', 'mesh.secret', 'cookie.secret']) expect(statSync(join(dataDir, file)).mode & 0o777, file).toBe(0o600);

    // The signing keys were encrypted under the generated master.key: another key cannot use them.
    const exit = await runMain({ AUTHMESH_DATA_DIR: dataDir, AUTHMESH_MASTER_KEY: randomBytes(32).toString('base64') });
    expectFailure(exit, 2, 'cannot decrypt the active signing key with the master key', /cannot decrypt/, /AUTHMESH_MASTER_KEY/);
  }, 240_000);

  it('takes over the claim of a process that is gone (a crash)', async () => {
    const dataDir = join(root, 'crashed');
    mkdirSync(dataDir, { mode: 0o700 });
    // A pid that cannot be running: above the kernel's pid_max.
    writeFileSync(join(dataDir, 'authmesh.lock'), '4194305\n', { mode: 0o600 });
    const port = await busyPort();
    // It gets past the claim and the database, to the HTTP listen this test made fail.
    const exit = await runMain({ AUTHMESH_DATA_DIR: dataDir, AUTHMESH_HTTP_PORT: String(port) });
    expectFailure(exit, 2, `cannot listen for HTTP on 127.0.0.1:${port}`, /^EADDRINUSE/, /AUTHMESH_HTTP_PORT/);
    // …and released it when the failed start closed the database.
    expect(existsSync(join(dataDir, 'authmesh.lock'))).toBe(false);
  }, 120_000);

  it('refuses a data directory open to other users, naming its path, mode and the fix', async () => {
    const dataDir = join(root, 'open');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const exit = await runMain({ AUTHMESH_DATA_DIR: dataDir });
    expectFailure(exit, 2, `the data directory ${dataDir} is open to other users`, /mode 0755/, new RegExp(`chmod 700 ${esc(dataDir)}.*AUTHMESH_DATA_DIR`));
  }, 90_000);

  it('refuses a data directory this user cannot write, with the errno in words', async () => {
    const parent = join(root, 'locked');
    mkdirSync(parent, { mode: 0o711 });
    chmodSync(parent, 0o711);
    const dataDir = join(parent, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    // root writes anywhere: run as nobody then, against a directory root owns.
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) chmodSync(dataDir, 0o500);
    chmodSync(root, 0o711);
    const exit = await runMain({ AUTHMESH_DATA_DIR: dataDir, HOME: parent }, asRoot ? { uid: 65534, gid: 65534 } : undefined);
    expectFailure(exit, 2, `the data directory ${dataDir} is not writable`, /^EACCES \(permission denied\)/, /AUTHMESH_DATA_DIR/);
  }, 90_000);

  it('refuses a data directory path that runs through a file (ENOTDIR)', async () => {
    writeFileSync(join(root, 'a-file'), 'x');
    const dataDir = join(root, 'a-file', 'data');
    const exit = await runMain({ AUTHMESH_DATA_DIR: dataDir });
    expectFailure(exit, 2, `cannot create the data directory ${dataDir}`, /^ENOTDIR \(not a directory\)/, /AUTHMESH_DATA_DIR/);
  }, 90_000);

  it('refuses a generated secret file open to other users', async () => {
    const dataDir = join(root, 'leaky');
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(join(dataDir, 'master.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o644 });
    chmodSync(join(dataDir, 'master.key'), 0o644);
    const exit = await runMain({ AUTHMESH_DATA_DIR: dataDir });
    expectFailure(exit, 2, `the secret file ${join(dataDir, 'master.key')} is open to other users`, /mode 0644/, /chmod 600 .*AUTHMESH_MASTER_KEY/);
  }, 90_000);

  it('refuses a master.key that is not a 32-byte key', async () => {
    const dataDir = join(root, 'short-key');
    mkdirSync(dataDir, { mode: 0o700 });
    writeFileSync(join(dataDir, 'master.key'), 'c2hvcnQ=\n', { mode: 0o600 });
    const exit = await runMain({ AUTHMESH_DATA_DIR: dataDir });
    expectFailure(exit, 2, `the master key file ${join(dataDir, 'master.key')} is not usable`, /holds 5 bytes/, /AUTHMESH_MASTER_KEY/);
  }, 90_000);

  it('says which gRPC port is in use (EADDRINUSE) and which variable moves it', async () => {
    const port = await busyPort();
    const exit = await runMain({ AUTHMESH_DATA_DIR: join(root, 'grpc-busy'), AUTHMESH_GRPC_PORT: String(port) });
    expectFailure(exit, 2, `cannot listen for gRPC on 127.0.0.1:${port}`, /^EADDRINUSE \(address already in use\)/, /AUTHMESH_GRPC_PORT/);
  }, 90_000);

  it('says which HTTP port is in use (EADDRINUSE) and which variable moves it', async () => {
    const port = await busyPort();
    const exit = await runMain({ AUTHMESH_DATA_DIR: join(root, 'http-busy'), AUTHMESH_HTTP_PORT: String(port) });
    expectFailure(exit, 2, `cannot listen for HTTP on 127.0.0.1:${port}`, /^EADDRINUSE \(address already in use\)/, /AUTHMESH_HTTP_PORT/);
  }, 90_000);

  it('says which metrics port is in use (EADDRINUSE) and which variable moves it', async () => {
    const port = await busyPort();
    const exit = await runMain({ AUTHMESH_DATA_DIR: join(root, 'metrics-busy'), AUTHMESH_METRICS_PORT: String(port) });
    expectFailure(exit, 2, `cannot listen for metrics on 127.0.0.1:${port}`, /^EADDRINUSE \(address already in use\)/, /AUTHMESH_METRICS_PORT/);
  }, 90_000);

  for (const [store, scheme, name] of [
    ['postgres', 'postgres', 'PostgreSQL'],
    ['mysql', 'mysql', 'MariaDB/MySQL'],
  ] as const) {
    it(`says which ${name} server did not answer (ECONNREFUSED), without its password, and exits 1`, async () => {
      const port = await freePort(); // nothing listens there
      const password = `pw-${randomBytes(6).toString('hex')}`;
      const exit = await runMain({
        AUTHMESH_DATA_DIR: join(root, `${store}-down`),
        AUTHMESH_STORE: store,
        AUTHMESH_DATABASE_URL: `${scheme}://authmesh:${password}@127.0.0.1:${port}/authmesh`,
      });
      expectFailure(exit, 1, `cannot open the ${name} database ${scheme}://authmesh:***@127.0.0.1:${port}/authmesh`, /^ECONNREFUSED \(connection refused\)/, /AUTHMESH_DATABASE_URL/);
      expect(exit.stdout + exit.stderr).not.toContain(password);
    }, 90_000);
  }

  for (const [store, name] of [
    ['postgres', 'PostgreSQL'],
    ['mysql', 'MariaDB/MySQL'],
  ] as const) {
    const server = testDatabaseUrl(store);
    it.skipIf(server.skip !== undefined)(`says that the ${name} server refused the URL's password, and exits 2 (configuration)${server.skip ? ` — skipped: ${server.skip}` : ''}`, async () => {
      const u = new URL(server.url!);
      const password = `wrong-${randomBytes(6).toString('hex')}`;
      u.password = password;
      const exit = await runMain({ AUTHMESH_DATA_DIR: join(root, `${store}-refused`), AUTHMESH_STORE: store, AUTHMESH_DATABASE_URL: u.toString() });
      expectFailure(exit, 2, `cannot open the ${name} database`, /^the server refused the user name or password/, /correct the user name or password in AUTHMESH_DATABASE_URL/);
      expect(exit.stdout + exit.stderr).not.toContain(password);
    }, 90_000);
  }

  it('says which Hazelcast members did not answer and why, and exits 1', async () => {
    const port = await freePort();
    const exit = await runMain({ AUTHMESH_DATA_DIR: join(root, 'grid-down'), AUTHMESH_GRID: 'hazelcast', AUTHMESH_HAZELCAST_MEMBERS: `127.0.0.1:${port}` });
    expectFailure(
      exit,
      1,
      `cannot join the Hazelcast cluster "authmesh" at 127.0.0.1:${port}`,
      new RegExp(`127\\.0\\.0\\.1:${port} ECONNREFUSED \\(connection refused\\)`),
      /AUTHMESH_HAZELCAST_MEMBERS.*AUTHMESH_HAZELCAST_CLUSTER/,
    );
  }, 90_000);
});
