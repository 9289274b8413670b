// Envoy in production shape (issue 16), on the real Envoy binary with envoy/envoy.yaml rendered as
// the stack renders it: a clean start (no warning: the overload manager caps downstream
// connections), the connection cap and heap-based load shedding actually acting, and an access log
// line of JSON that carries no credential, cookie, DPoP proof or query string. The upstreams are
// deliberately absent: these are Envoy's own behaviours, answered before any upstream.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderEnvoyConfig } from '../../scripts/envoy-render.mjs';
import { envoySkipReason, findEnvoy } from '../support/envoy.js';
import { freePort } from '../support/ports.js';

const skip = envoySkipReason();
const repoRoot = join(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface RunningEnvoy {
  port: number;
  adminPort: number;
  accessLog: string;
  /** Everything Envoy printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** One HTTP/1.1 request on a fresh connection (no agent: nothing lingers to count against the cap). */
function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timed out')));
  });
}

const running: RunningEnvoy[] = [];
const dirs: string[] = [];

async function startEnvoy(extraEnv: Record<string, string> = {}): Promise<RunningEnvoy> {
  const work = mkdtempSync(join(tmpdir(), 'authmesh-envoy-prod-'));
  dirs.push(work);
  const [port, adminPort, dead] = [await freePort(), await freePort(), await freePort()];
  const accessLog = join(work, 'access.log');
  const env: Record<string, string> = {
    AUTHMESH_ISSUER: `http://127.0.0.1:${port}`,
    AUTHMESH_ENVOY_PORT: String(port),
    AUTHMESH_ENVOY_ADMIN_PORT: String(adminPort),
    AUTHMESH_ENVOY_ACCESS_LOG: accessLog,
    AUTHMESH_ENVOY_DESCRIPTOR: join(repoRoot, 'build', 'descriptor.binpb'),
    AUTHMESH_SAMPLE_API_AUDIENCE: 'https://sample-api.authmesh.test',
    AUTHMESH_GATEWAY_UPSTREAMS: `127.0.0.1:${dead}`,
    AUTHMESH_SAMPLE_API_UPSTREAMS: `127.0.0.1:${dead}`,
    ...Object.fromEntries(['CLIENT', 'SERVICE', 'USER', 'KEY', 'CODE', 'TOKEN', 'REFRESH_TOKEN'].map((s) => [`AUTHMESH_${s}_UPSTREAMS`, `127.0.0.1:${dead}`])),
    ...extraEnv,
  };
  const configPath = join(work, 'envoy.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(configPath, renderEnvoyConfig(readFileSync(join(repoRoot, 'envoy', 'envoy.yaml'), 'utf8'), env));
  // --log-level info: a warning must not hide below the level the stack runs at.
  const child: ChildProcess = spawn(findEnvoy()!, ['-c', configPath, '--disable-hot-restart', '--log-level', 'info', '--concurrency', '1', '--file-flush-interval-msec', '100'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const envoy: RunningEnvoy = {
    port,
    adminPort,
    accessLog,
    output: () => out,
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(3_000)]);
      child.kill('SIGKILL');
    },
  };
  running.push(envoy);
  for (let i = 0; i < 150; i++) {
    const ready = await httpGet(adminPort, '/ready').catch(() => undefined);
    if (ready?.status === 200) return envoy;
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  throw new Error(`envoy did not become ready:\n${out}`);
}

async function stat(envoy: RunningEnvoy, name: string): Promise<number | undefined> {
  const { body } = await httpGet(envoy.adminPort, `/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, '\\.')}$`)}`);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)`, 'm').exec(body);
  return m ? Number(m[1]) : undefined;
}

afterAll(async () => {
  for (const e of running) await e.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(skip !== undefined)('Envoy in production shape', () => {
  it('starts without a warning: downstream connections are capped by the overload manager', async () => {
    const envoy = await startEnvoy();
    const warnings = envoy
      .output()
      .split('\n')
      .filter((l) => /\]\[(warning|error|critical)\]/.test(l));
    expect(warnings).toStrictEqual([]);
    // Both resource monitors run (each publishes its pressure gauge).
    const { body } = await httpGet(envoy.adminPort, '/stats?filter=^overload\\.');
    expect(body).toMatch(/overload\.envoy\.resource_monitors\.global_downstream_max_connections\./);
    expect(body).toMatch(/overload\.envoy\.resource_monitors\.fixed_heap\.pressure: \d+/);
  });

  it('access_log_has_no_credentials: one JSON line per request, without Authorization, Cookie, DPoP or the query string', async () => {
    const envoy = running[0] ?? (await startEnvoy());
    const secrets = {
      bearer: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViIn0.c2VjcmV0LXNpZ25hdHVyZQ',
      cookie: 'authmesh_session=cookie-secret-4f1d',
      dpop: 'eyJ0eXAiOiJkcG9wK2p3dCJ9.dpop-secret-payload.dpop-secret-sig',
      code: 'code-secret-9a7c',
    };
    const res = await httpGet(envoy.port, `/oauth2/authorize?response_type=code&code=${secrets.code}&state=state-secret-1`, {
      authorization: `Bearer ${secrets.bearer}`,
      cookie: secrets.cookie,
      dpop: secrets.dpop,
    });
    // No gateway behind it: Envoy answers itself.
    expect(res.status).toBe(503);
    let lines: Record<string, unknown>[] = [];
    let text = '';
    for (let i = 0; i < 50 && lines.length === 0; i++) {
      await sleep(100);
      text = (() => {
        try {
          return readFileSync(envoy.accessLog, 'utf8');
        } catch {
          return '';
        }
      })();
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      lines = complete.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    }
    const line = lines.find((l) => l.path === '/oauth2/authorize');
    expect(line, text).toMatchObject({ method: 'GET', path: '/oauth2/authorize', status: 503 });
    for (const secret of [...Object.values(secrets), 'state-secret-1', 'secret-sub', '?']) expect(text).not.toContain(secret);
  });

  it('envoy_connection_cap: a connection past AUTHMESH_ENVOY_MAX_CONNECTIONS is refused, the ones inside it are served', async () => {
    const cap = 3;
    const envoy = await startEnvoy({ AUTHMESH_ENVOY_MAX_CONNECTIONS: String(cap) });
    const open: Socket[] = [];
    /** Opens a connection and sends one keep-alive request; resolves with what came back before it closed or answered. */
    const exchange = (): Promise<{ socket: Socket; answered: boolean }> =>
      new Promise((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: envoy.port });
        open.push(socket);
        let settled = false;
        const done = (answered: boolean) => {
          if (!settled) {
            settled = true;
            resolve({ socket, answered });
          }
        };
        socket.once('connect', () => socket.write(`GET /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`));
        socket.once('data', () => done(true));
        socket.once('close', () => done(false));
        socket.once('error', () => done(false));
        socket.setTimeout(5_000, () => done(false));
      });
    try {
      for (let i = 0; i < cap; i++) expect((await exchange()).answered).toBe(true);
      expect((await exchange()).answered).toBe(false);
    } finally {
      for (const s of open) s.destroy();
    }
    await sleep(200);
    // Once the held connections are gone, new ones are served again.
    expect((await httpGet(envoy.port, '/.well-known/openid-configuration')).status).toBe(503);
  });

  it('envoy_heap_load_shedding: past the heap limit Envoy answers 503 itself instead of growing toward an OOM kill', async () => {
    // A limit far below what Envoy itself uses: the heap monitor is saturated from the start.
    const envoy = await startEnvoy({ AUTHMESH_ENVOY_MAX_HEAP_BYTES: String(1024 * 1024) });
    let active: number | undefined;
    for (let i = 0; i < 50 && active !== 1; i++) {
      active = await stat(envoy, 'overload.envoy.overload_actions.stop_accepting_requests.active').catch(() => undefined);
      if (active !== 1) await sleep(100);
    }
    expect(active).toBe(1);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: envoy.port, path: '/oauth2/token', method: 'POST', agent: false }, (r) => {
        let body = '';
        r.on('data', (d: Buffer) => (body += d.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end('grant_type=client_credentials');
    });
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/overload/i);
  });
});
