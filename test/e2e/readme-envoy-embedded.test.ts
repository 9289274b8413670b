// README.md's "Envoy alone in front of the embedded mode" block (section "The edge"), run as
// written, in order, read from README.md itself: `scripts/envoy.sh install`, `npm start` with the
// issuer set to Envoy's URL, the sample API in the background, `scripts/envoy.sh up`, README's curl
// of the metadata through Envoy, `status; down`, and `validate`.
//
// It runs in a copy of the checkout's tracked files (node_modules, gen, build and .tools linked
// from the checkout) so that its ./data, authmesh.lock and .stack/envoy are its own: `npm start`
// in the checkout itself would collide with a developer's. README's commands use the default
// ports (10000, 9901, 8080, 50051, 8090); as in readme-fresh-clone.test.ts, they run in a private
// network namespace where the kernel allows it, else on the host if those ports are free, and the
// test skips with the reason otherwise (fails under AUTHMESH_REQUIRE_STACK=1), as it does without
// Envoy installed (`scripts/envoy.sh install`, which CI runs before `npm test`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, symlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/rpc/index.js';
import { busyPorts, namespaces, NS_FLAGS, NSENTER_FLAGS, readerEnv } from '../support/reader-sandbox.js';
import { readmeSection } from '../support/readme.js';

const SECTION = 'The edge';
const ISSUER = 'http://127.0.0.1:10000';
const PORTS = [10000, 9901, 8080, 50051, 8090];

/** README's environment: the user's PATH (without a test runner's node_modules/.bin), HOME, locale. */
const busy = await busyPorts(PORTS);
const envoyInstalled = existsSync(join(repoRoot, '.tools', 'envoy-venv', 'bin', 'envoy'));
const required = process.env.AUTHMESH_REQUIRE_STACK === '1';
const skipReason = !envoyInstalled
  ? 'Envoy is not installed (scripts/envoy.sh install)'
  : `no network namespace here (unshare) and the default port(s) ${busy.join(', ')} README uses are busy`;
const skip = (!envoyInstalled || busy.length > 0) && !required;
if (skip) console.warn(`readme-envoy-embedded.test.ts skipped: ${skipReason}`);

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Process groups started here; every one is killed in afterAll (Envoy and `&` outlive their shell). */
const groups: number[] = [];

function killGroup(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL') {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

/** Whether process `pid` (or, negative, any process of group -pid) still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let spawned = 0;
/**
 * Spawns `argv` in its own process group, recorded for afterAll. Its output goes to files in
 * `logs` (as a terminal or CI log would take it: Envoy's access log opens /dev/stdout, which a
 * socket, node's default pipe, refuses).
 */
function start(cwd: string, logs: string, argv: string[]): { child: ChildProcess; out: () => string; err: () => string } {
  const n = spawned++;
  const [outFile, errFile] = [join(logs, `${n}.out`), join(logs, `${n}.err`)];
  const [outFd, errFd] = [openSync(outFile, 'w'), openSync(errFile, 'w')];
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: readerEnv(), stdio: ['ignore', outFd, errFd], detached: true });
  closeSync(outFd);
  closeSync(errFd);
  if (child.pid !== undefined) groups.push(child.pid);
  return { child, out: () => readFileSync(outFile, 'utf8'), err: () => readFileSync(errFile, 'utf8') };
}

/**
 * Runs one README command with sh in `cwd`, `prefix` entering the namespace, until its shell exits
 * (at most `timeoutMs`). Processes it leaves in the background keep running until afterAll.
 */
function sh(cwd: string, logs: string, command: string, timeoutMs: number, prefix: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = start(cwd, logs, [...prefix, 'sh', '-c', command]);
    const timer = setTimeout(() => {
      killGroup(p.child.pid);
      reject(new Error(`\`${command}\` did not finish within ${timeoutMs} ms:\n${p.out()}\n${p.err()}`));
    }, timeoutMs);
    p.child.once('error', reject);
    p.child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: p.out(), stderr: p.err() });
    });
  });
}

/** Polls `check` every 200 ms for at most `timeoutMs`. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}

/** A copy of the checkout's tracked files, with its generated and installed parts linked. */
function copyCheckout(into: string): void {
  const files = spawnSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' });
  expect(files.status, files.stderr).toBe(0);
  for (const file of files.stdout.split('\0').filter((f) => f !== '')) {
    const from = join(repoRoot, file);
    if (!existsSync(from)) continue; // deleted in the checkout, not yet committed
    mkdirSync(dirname(join(into, file)), { recursive: true });
    cpSync(from, join(into, file), { verbatimSymlinks: true });
  }
  for (const linked of ['node_modules', 'gen', 'build', '.tools']) symlinkSync(join(repoRoot, linked), join(into, linked));
}

describe.skipIf(skip)(`README "${SECTION}": Envoy alone in front of the embedded mode, as written`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'authmesh-readme-envoy-'));
  const checkout = join(dir, 'authmesh');
  const logs = join(dir, 'logs');
  afterAll(async () => {
    for (const pgid of groups) killGroup(pgid);
    await until(() => groups.every((g) => !alive(-g)), 10_000);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('install, npm start, the sample API, envoy up: metadata through Envoy names Envoy\'s URL as issuer; status, down, validate', async () => {
    if (!envoyInstalled || busy.length > 0) throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${skipReason}`);
    copyCheckout(checkout);
    mkdirSync(logs);
    const block = readmeSection(SECTION, readFileSync(join(checkout, 'README.md'), 'utf8'));
    const names = block.map((c) => c.command);
    expect(names).toEqual([
      'scripts/envoy.sh install',
      `AUTHMESH_ISSUER=${ISSUER} AUTHMESH_TRUSTED_PROXIES=127.0.0.1 npm start`,
      'AUTHMESH_SAMPLE_API_PORT=8090 npx tsx test/sample-api/server.ts &',
      'scripts/envoy.sh up',
      `curl -s ${ISSUER}/.well-known/oauth-authorization-server`,
      'scripts/envoy.sh status; scripts/envoy.sh down',
      'scripts/envoy.sh validate',
    ]);
    const [install, npmStart, sampleApi, up, curl, statusDown, validate] = block.map((c) => c.text);

    const installed = await sh(checkout, logs, install!, 300_000, []);
    expect(installed.code, `${installed.stdout}\n${installed.stderr}`).toBe(0);

    // `npm start` in the foreground, as a reader runs it: in its own network namespace.
    const server = start(
      checkout,
      logs,
      namespaces ? ['unshare', ...NS_FLAGS, 'sh', '-c', 'ip link set lo up && exec sh -c "$0"', npmStart!] : ['sh', '-c', npmStart!],
    );
    const log = () => server.out() + server.err();
    const inNet = namespaces ? ['nsenter', `--target=${server.child.pid}`, ...NSENTER_FLAGS, '--'] : [];
    const listening = await until(() => /HTTP on http:\/\/\S+/.test(log()) && /gRPC on \S+/.test(log()) || server.child.exitCode !== null, 180_000);
    expect(listening && server.child.exitCode === null, `npm start did not start:\n${log()}`).toBe(true);
    expect(/HTTP on (http:\/\/\S+)/.exec(log())![1]).toBe('http://127.0.0.1:8080');
    expect(/gRPC on (\S+)/.exec(log())![1]).toBe('127.0.0.1:50051');

    const api = await sh(checkout, logs, sampleApi!, 30_000, inNet);
    expect(api.code, api.stderr).toBe(0);
    // It listens on 8090 (it answers any request; without Envoy's identity headers with an error).
    const answered = await until(async () => {
      const r = await sh(checkout, logs, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8090/", 10_000, inNet);
      return r.stdout !== '000' && r.stdout !== '';
    }, 60_000);
    expect(answered, 'the sample API does not answer on 127.0.0.1:8090').toBe(true);

    const envoyUp = await sh(checkout, logs, up!, 120_000, inNet);
    expect(envoyUp.code, `${envoyUp.stdout}\n${envoyUp.stderr}`).toBe(0);
    expect(envoyUp.stdout).toContain(`envoy on ${ISSUER}`);
    const pidFile = join(checkout, '.stack', 'envoy', 'envoy.pid');
    const envoyPid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(alive(envoyPid)).toBe(true);

    // RFC 8414 §3: the metadata through Envoy; its issuer is the URL the client used, Envoy's.
    const metadata = await sh(checkout, logs, curl!, 30_000, inNet);
    expect(metadata.code, metadata.stderr).toBe(0);
    const doc = JSON.parse(metadata.stdout) as { issuer: string; token_endpoint: string };
    expect(doc.issuer).toBe(ISSUER);
    expect(doc.token_endpoint).toBe(`${ISSUER}/oauth2/token`);

    const statusThenDown = await sh(checkout, logs, statusDown!, 60_000, inNet);
    expect(statusThenDown.code, statusThenDown.stderr).toBe(0);
    expect(statusThenDown.stdout).toContain(`envoy running (pid ${envoyPid}), admin /ready: LIVE`);
    expect(statusThenDown.stdout).toContain('envoy stopped');
    expect(await until(() => !alive(envoyPid), 10_000), 'Envoy still runs after `scripts/envoy.sh down`').toBe(true);
    expect(existsSync(pidFile)).toBe(false);

    const validated = await sh(checkout, logs, validate!, 120_000, []);
    expect(validated.code, `${validated.stdout}\n${validated.stderr}`).toBe(0);

    // Ctrl-C ends `npm start` cleanly; then nothing started here is left running.
    const exited = new Promise<string>((r) => server.child.once('exit', (code, signal) => r(String(code ?? signal))));
    killGroup(server.child.pid, 'SIGINT');
    expect(['0', 'SIGINT']).toContain(await exited);
    expect(log()).toContain('"msg":"shutting down"');
    for (const pgid of groups) killGroup(pgid);
    expect(await until(() => groups.every((g) => !alive(-g)), 10_000), 'processes left running').toBe(true);
  }, 900_000);
});
