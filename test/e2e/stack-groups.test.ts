// scripts/stack.sh with AUTHMESH_STACK_GROUPS (issue 12 target 2): the token, client and key
// services run as ONE process on one gRPC port, calling each other in process, while the other
// services, the gateway, the sample API and Envoy run as usual. A token through Envoy, its
// introspection and an admin call that passes Envoy's ext_authz prove every process reaches the
// group at the right address (peers' AUTHMESH_<SVC>_ADDR, Envoy's clusters, `stack.sh env`);
// `status` and `down` follow the group. Private stack directory, PostgreSQL, Hazelcast and ports,
// as test/e2e/stack-readme.test.ts, so it runs beside the other suites; `down --all` afterwards.
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/rpc/index.js';
import { envoySkipReason } from '../support/envoy.js';
import { freePort, freePortRange, isListening } from '../support/ports.js';
import { envWithoutStackSettings, stackBackends } from '../support/stack.js';

const run = promisify(execFile);
const stackSh = join(repoRoot, 'scripts', 'stack.sh');
// Bounds: the stack's own health wait and the whole `up` (a first initdb of the private PostgreSQL).
const STACK_WAIT_S = 300;
const UP_TIMEOUT_MS = 600_000;
const GROUP = 'client+key+token';

function skipReason(): string | undefined {
  // The shared backends running means PostgreSQL, Java and the Hazelcast jar are installed here.
  const reason = envoySkipReason() ?? stackBackends().skip;
  if (reason !== undefined && process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${reason}`);
  return reason;
}
const skip = skipReason();
if (skip) console.warn(`stack-groups.test.ts skipped: ${skip}`);

/** The value of one variable in a running process's environment (our own processes: same user). */
function environOf(pid: number, name: string): string | undefined {
  const entries = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  return entries.find((e) => e.startsWith(`${name}=`))?.slice(name.length + 1);
}

describe('AUTHMESH_STACK_GROUPS refuses a bad value before starting anything', () => {
  const refused = async (groups: string, replicas?: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'authmesh-stack-groups-bad-'));
    try {
      const inherited = envWithoutStackSettings();
      const res = await run('bash', [stackSh, 'status'], { cwd: repoRoot, env: { ...inherited, AUTHMESH_STACK_DIR: dir, AUTHMESH_STACK_GROUPS: groups, ...(replicas === undefined ? {} : { AUTHMESH_STACK_REPLICAS: replicas }) }, timeout: 30_000 }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code?: number; stderr?: string }) => ({ code: err.code ?? -1, stderr: err.stderr ?? '' }),
      );
      // Nothing was created: the refusal comes before any state.
      expect(existsSync(join(dir, 'authmesh'))).toBe(false);
      return res;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('refuses an unknown service, naming it and the group', async () => {
    const res = await refused('token+client+kee');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("AUTHMESH_STACK_GROUPS: unknown service 'kee' in group 'token+client+kee'");
  });

  it('refuses a service in two groups, naming both', async () => {
    const res = await refused('token+key, key+client');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("AUTHMESH_STACK_GROUPS: 'key' is in two groups ('token+key' and 'key+client')");
  });

  it('stack_replicas_named_twice: AUTHMESH_STACK_REPLICAS naming a service twice is refused (two processes would share one port; review F7)', async () => {
    const res = await refused('', 'token=2,token=3');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("AUTHMESH_STACK_REPLICAS: 'token' is named twice");
  });

  it('AUTHMESH_STACK_REPLICAS refuses a service running in a group', async () => {
    const res = await refused('token+key', 'token=2');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("AUTHMESH_STACK_REPLICAS: 'token' runs in group 'key+token'");
  });

  it('refuses a malformed group', async () => {
    const res = await refused('token++key');
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("AUTHMESH_STACK_GROUPS: bad group 'token++key'");
  });
});

describe.skipIf(skip !== undefined)('stack mode with token, client and key in one process', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let ports: { envoy: number; grpc: number; http: number; sample: number };
  let upOutput = '';
  let vars: Record<string, string> = {};
  const stack = (...args: string[]) => run('bash', [stackSh, ...args], { cwd: repoRoot, env, timeout: UP_TIMEOUT_MS, maxBuffer: 1 << 24 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'authmesh-stack-groups-'));
    // PostgreSQL runs as its own OS user when we are root: it must reach its directory under ours.
    chmodSync(dir, 0o755);
    ports = { envoy: await freePort(), grpc: await freePortRange(7), http: await freePort(), sample: await freePort() };
    const inherited = envWithoutStackSettings();
    env = {
      ...inherited,
      AUTHMESH_STACK_DIR: dir,
      AUTHMESH_STACK_GROUPS: 'token+client+key',
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
    // The shared Hazelcast jar, when there is one, spares a Maven fetch.
    const sharedJar = join(repoRoot, '.stack', 'hazelcast');
    const jar = existsSync(sharedJar) ? readdirSync(sharedJar).find((f) => /^hazelcast-[\d.]+\.jar$/.test(f)) : undefined;
    if (jar) {
      mkdirSync(join(dir, 'hazelcast'), { recursive: true });
      cpSync(join(sharedJar, jar), join(dir, 'hazelcast', jar));
    }
    const up = await stack('up');
    upOutput = up.stdout;
    // In another shell, as README's `eval "$(scripts/stack.sh env)"` runs: without AUTHMESH_STACK_GROUPS
    // (the stack remembers the groups it was started with).
    const { AUTHMESH_STACK_GROUPS: _groups, ...otherShell } = env;
    const { stdout } = await run('bash', [stackSh, 'env'], { cwd: repoRoot, env: otherShell, timeout: 60_000 });
    vars = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'(.*)'$/, '$1')]));
  }, UP_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    if (env) await run('bash', [stackSh, 'down', '--all'], { cwd: repoRoot, env, timeout: 180_000 }).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 200_000);

  const basic = () => `Basic ${Buffer.from(`${vars.AUTHMESH_CLIENT_ID}:${vars.AUTHMESH_CLIENT_SECRET}`).toString('base64')}`;
  const form = (path: string, body: Record<string, string>) =>
    fetch(`${vars.AUTHMESH_URL}${path}`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
      signal: AbortSignal.timeout(15_000),
    });

  it('runs the group as one process with AUTHMESH_SERVICES=client,key,token on the port of its first service', () => {
    const state = join(dir, 'authmesh');
    const pidFiles = readdirSync(state).filter((f) => f.endsWith('.pid')).sort();
    expect(pidFiles).toEqual([`${GROUP}.pid`, 'code.pid', 'gateway.pid', 'refresh-token.pid', 'sample-api.pid', 'service.pid', 'user.pid']);
    const pid = Number(readFileSync(join(state, `${GROUP}.pid`), 'utf8').trim());
    expect(environOf(pid, 'AUTHMESH_SERVICES')).toBe('client,key,token');
    // client is service 0: the group listens on the stack's first gRPC port, and so do its members' addresses.
    for (const svc of ['CLIENT', 'KEY', 'TOKEN']) expect(environOf(pid, `AUTHMESH_${svc}_ADDR`)).toBe(`127.0.0.1:${ports.grpc}`);
    expect(upOutput).toContain(`${GROUP} ${ports.grpc}`);
    expect(upOutput).toContain(`code ${ports.grpc + 4}`);
  });

  it('points ext_authz callers (stack.sh env, from a shell without AUTHMESH_STACK_GROUPS) at the group', () => {
    expect(vars.AUTHMESH_CHECK_ADDR).toBe(`127.0.0.1:${ports.grpc}`);
    expect(vars.AUTHMESH_URL).toBe(`http://127.0.0.1:${ports.envoy}`);
  });

  it('reports the group healthy in status, and no separate token, client or key process', async () => {
    const { stdout } = await stack('status');
    expect(stdout).toMatch(new RegExp(`^${GROUP.replace(/\+/g, '\\+')}: running \\(pid \\d+\\), healthy: yes$`, 'm'));
    expect(stdout).toMatch(/^gateway: running \(pid \d+\), healthy: yes$/m);
    expect(stdout).not.toMatch(/^(token|client|key):/m);
  });

  it('issues a token through Envoy, introspects it as active, and lets it pass ext_authz on an admin call', async () => {
    const issued = await form('/oauth2/token', { grant_type: 'client_credentials', scope: 'authmesh.admin' });
    const token = (await issued.json()) as { access_token?: string; token_type?: string };
    expect(issued.status, JSON.stringify(token)).toBe(200);
    expect(token.token_type).toBe('Bearer');

    const introspected = await form('/oauth2/introspect', { token: token.access_token! });
    const info = (await introspected.json()) as { active?: boolean; client_id?: string; scope?: string };
    expect(introspected.status).toBe(200);
    expect(info).toMatchObject({ active: true, client_id: vars.AUTHMESH_CLIENT_ID, scope: 'authmesh.admin' });

    // /v1/* passes Envoy's ext_authz (the token service, in the group) before the client service (in the group too).
    const listed = await fetch(`${vars.AUTHMESH_URL}/v1/clients`, { headers: { authorization: `Bearer ${token.access_token!}` }, signal: AbortSignal.timeout(15_000) });
    const body = await listed.text();
    expect(listed.status, body).toBe(200);
    expect(body).toContain(`"client_id":"${vars.AUTHMESH_CLIENT_ID}"`);
    // Without a token ext_authz denies it: the 200 above was its decision, not a bypass.
    const denied = await fetch(`${vars.AUTHMESH_URL}/v1/clients`, { signal: AbortSignal.timeout(15_000) });
    expect([401, 403]).toContain(denied.status);
  });

  it('stops the group and everything else with stack.sh down', async () => {
    await stack('down');
    expect(readdirSync(join(dir, 'authmesh')).filter((f) => f.endsWith('.pid'))).toEqual([]);
    for (const port of [ports.envoy, ports.http, ports.sample, ...Array.from({ length: 7 }, (_, i) => ports.grpc + i)]) {
      expect(await isListening(port), `port ${port} still listening`).toBe(false);
    }
  }, 120_000);
});
