// README's "Stack mode" section, followed as written (issue 10 §1b): every `sh` block between its
// stack-readme-test markers runs, in order, in one bash session — scripts/stack.sh up (PostgreSQL,
// two Hazelcast members, the seven services each in its own process, the gateway, the sample API,
// Envoy), the first token through Envoy, admin calls over REST, Connect and `buf curl`, the sample
// API registered and called, the Go and Python examples, and scripts/stack.sh down. The commands
// come from README.md itself, so the section cannot drift from what works. Everything runs on
// private ports and in a private AUTHMESH_STACK_DIR, so it runs beside the other suites, and
// `scripts/stack.sh down --all` with the same environment stops all of it afterwards.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/rpc/index.js';
import { envoySkipReason } from '../support/envoy.js';
import { freePort, freePortRange, isListening } from '../support/ports.js';
import { startAuthmesh } from '../support/processes.js';
import { envWithoutStackSettings, stackBackends } from '../support/stack.js';

const run = promisify(execFile);
const BEGIN = '<!-- stack-readme-test: begin';
const END = '<!-- stack-readme-test: end -->';
// Bounds: the stack's own health wait, the first Go build of the example, and the whole run.
const STACK_WAIT_S = 300;
const RUN_TIMEOUT_MS = 900_000;

/** The sh blocks between the markers, in order. */
function stackReadmeBlocks(readme: string): string[] {
  const from = readme.indexOf(BEGIN);
  const to = readme.indexOf(END);
  if (from < 0 || to < from) throw new Error(`README.md lacks the ${BEGIN} … ${END} markers around the stack commands`);
  return [...readme.slice(from, to).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const clientsMissing = ['clients/go/gen', 'clients/python/gen', '.tools/venv/bin/python'].filter((p) => !existsSync(join(repoRoot, p)));
function skipReason(): string | undefined {
  const reason =
    envoySkipReason() ??
    // The shared backends running means PostgreSQL, Java and the Hazelcast jar are installed here.
    stackBackends().skip ??
    (clientsMissing.length > 0 ? `generated clients missing (${clientsMissing.join(', ')}): run scripts/clients.sh install gen` : undefined);
  if (reason !== undefined && process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${reason}`);
  return reason;
}
const skip = skipReason();
if (skip) console.warn(`stack-readme.test.ts skipped: ${skip}`);

describe.skipIf(skip !== undefined)("README's stack mode, as written", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let ports: { envoy: number; grpc: number; http: number; sample: number };
  let blocks: string[];
  let outputs: string[] = [];
  let code: number | null = null;
  let stderr = '';

  beforeAll(async () => {
    blocks = stackReadmeBlocks(readFileSync(join(repoRoot, 'README.md'), 'utf8'));
    dir = mkdtempSync(join(tmpdir(), 'authmesh-stack-readme-'));
    // PostgreSQL runs as its own OS user when we are root: it must reach its directory under ours.
    chmodSync(dir, 0o755);
    ports = { envoy: await freePort(), grpc: await freePortRange(7), http: await freePort(), sample: await freePort() };
    // Nothing from the caller's environment may steer the stack: only what README says, on our ports.
    const inherited = envWithoutStackSettings();
    env = {
      ...inherited,
      AUTHMESH_STACK_DIR: dir,
      AUTHMESH_PG_PORT: String(await freePort()),
      HAZELCAST_PORT: String(await freePortRange(2)),
      AUTHMESH_STACK_GRPC_PORT: String(ports.grpc),
      AUTHMESH_HTTP_PORT: String(ports.http),
      AUTHMESH_SAMPLE_API_PORT: String(ports.sample),
      AUTHMESH_ENVOY_PORT: String(ports.envoy),
      AUTHMESH_ENVOY_ADMIN_PORT: String(await freePort()),
      // Each process's metrics listener (scripts/stack.sh: this base + the process's index).
      AUTHMESH_STACK_METRICS_PORT: String(await freePortRange(8)),
      AUTHMESH_STACK_WAIT: String(STACK_WAIT_S),
      // Two shared cores: see test/support/envoy.ts.
      AUTHMESH_ENVOY_EXT_AUTHZ_TIMEOUT: '1s',
      AUTHMESH_LOG_LEVEL: 'warn',
    };
    // One session, so variables (TOKEN, CALLER_ID…) carry from block to block as in a terminal.
    // A marker on a line of its own, even after a command whose output ends without a newline.
    const script = ['set -euo pipefail', ...blocks.flatMap((b, i) => [`printf '\\n::block ${i}::\\n'`, b])].join('\n');
    const child = spawn('bash', ['-c', script], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);
    outputs = stdout.split(/^::block \d+::\n/m).slice(1);
  }, RUN_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    if (env) await run('bash', [join(repoRoot, 'scripts', 'stack.sh'), 'down', '--all'], { cwd: repoRoot, env, timeout: 180_000 }).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 200_000);

  const failure = () => `exit ${code}\n--- stdout by block:\n${outputs.map((o, i) => `[${i}] ${o}`).join('\n')}\n--- stderr (last 6000):\n${stderr.slice(-6000)}`;

  it('runs every command of the section with exit status 0', () => {
    expect(blocks.length, 'README stack blocks').toBe(6);
    expect(code, failure()).toBe(0);
  });

  it('brings the whole stack up and names Envoy as the URL clients use', () => {
    expect(outputs[0], failure()).toContain(`Everything clients use goes through Envoy: http://127.0.0.1:${ports.envoy} (the issuer)`);
    expect(outputs[0]).toContain(`token ${ports.grpc + 5}`);
  });

  it('answers admin calls through Envoy over REST, Connect and native gRPC (buf curl with the descriptor set)', () => {
    const out = outputs[2] ?? '';
    expect(out, failure()).toContain('"client_id":"authmesh-admin"'); // REST: proto field names
    expect(out).toContain('"clientId":"authmesh-admin"'); // Connect JSON
    expect(out).toContain('"clientId": "authmesh-admin"'); // buf curl's indented JSON
    expect(out).toMatch(/\{"events":\[.*\],"next_page_token":"[^"]*"\}/); // GET /v1/auditEvents: the client service's process serves AuditService
  });

  it('registers the sample API without test code and lets its client call it through ext_authz', () => {
    const out = outputs[3] ?? '';
    expect(out, failure()).toContain('"audience":"https://sample-api.authmesh.test"');
    expect(out).toMatch(/\{"method":"GET","path":"\/sample\/hello","sub":"[^"]+","client_id":"[^"]+","scope":"sample.read"/);
  });

  it('runs the full Go and Python examples against the stack, exit 0', () => {
    const lines = (outputs[4] ?? '').trim().split('\n');
    const expected = ['token: ok (expires_in=600)', 'clients: 3', 'check authmesh.admin: allowed', 'check billing.write: denied 403'];
    expect(lines.slice(0, 4), failure()).toEqual(expected);
    expect(lines[4]).toMatch(/^error reason: INVALID_CLIENT \(code Unauthenticated\)$/);
    expect(lines.slice(5, 9)).toEqual(expected);
    expect(lines[9]).toMatch(/^error reason: INVALID_CLIENT \(code UNAUTHENTICATED\)$/);
  });

  it('stops what it started with scripts/stack.sh down', async () => {
    expect(code, failure()).toBe(0);
    for (const port of [ports.envoy, ports.http, ports.sample, ...Array.from({ length: 7 }, (_, i) => ports.grpc + i)]) {
      expect(await isListening(port), `port ${port} still listening`).toBe(false);
    }
  });
});

describe('a split process on per-process state', () => {
  it('refuses to start, exit 2, naming every variable to set (two token processes would share nothing)', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'authmesh-split-'));
    try {
      const peers = { AUTHMESH_CLIENT_ADDR: '127.0.0.1:1', AUTHMESH_SERVICE_ADDR: '127.0.0.1:1', AUTHMESH_USER_ADDR: '127.0.0.1:1', AUTHMESH_KEY_ADDR: '127.0.0.1:1', AUTHMESH_CODE_ADDR: '127.0.0.1:1', AUTHMESH_REFRESH_TOKEN_ADDR: '127.0.0.1:1' };
      const failed = await startAuthmesh({ ...peers, AUTHMESH_SERVICES: 'token', AUTHMESH_DATA_DIR: dataDir, AUTHMESH_GRPC_PORT: '0' }, 60_000).then(
        async (p) => {
          await p.kill();
          return 'started';
        },
        (err: Error) => err.message,
      );
      expect(failed).toMatch(/^authmesh exited with 2:/);
      for (const variable of ['AUTHMESH_STORE', 'AUTHMESH_GRID=hazelcast', 'AUTHMESH_MESH_SECRET', 'AUTHMESH_ISSUER']) expect(failed).toContain(variable);
      // Nothing was generated into the data directory: the refusal comes before any state.
      expect(existsSync(join(dataDir, 'mesh.secret'))).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 70_000);
});
