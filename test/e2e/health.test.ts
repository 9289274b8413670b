// Liveness and readiness of a real mesh + gateway whose store and grid really go away: a private
// PostgreSQL and a private one-member Hazelcast cluster on free ports (scripts/postgres.sh and
// scripts/hazelcast.sh with their own directories), stopped and started again here. The shared
// backends are never touched. Also: a restarted Hazelcast member keeps its previous log.
//
// Readiness (gRPC health `readiness`, GET /readyz) must follow the store and grid; liveness (gRPC
// `liveness`, GET /livez) must not, or Kubernetes would restart every pod during a database
// outage. The per-service names Envoy checks stay SERVING through a dependency outage (README
// "Health": with Envoy's panic threshold 0, flipping them on every instance at once would route
// nothing, where the services can still answer from the grid and their caches).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials, makeClientConstructor } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIVENESS, READINESS } from '../../services/core/rpc/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { freePort, freePortRange } from '../support/ports.js';
import { stackBackends } from '../support/stack.js';

const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, '../..');
const POSTGRES = join(repoRoot, 'scripts/postgres.sh');
const HAZELCAST = join(repoRoot, 'scripts/hazelcast.sh');
const HAZELCAST_VERSION = '5.6.0';
const TOKEN_SERVICE = 'authmesh.token.v1.TokenService';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retries `check` every 250 ms until it passes; bounded by `tries` (count, not time). */
async function eventually(check: () => Promise<void>, tries = 120): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await check();
      return;
    } catch (err) {
      if (i >= tries) throw err;
      await sleep(250);
    }
  }
}

type HealthClient = { check(req: { service: string }, cb: (e: Error | null, r: { status: string }) => void): void; close(): void };

// The private servers come from the same installs as the shared stack: where that is not up
// (PostgreSQL binaries, Java and the Hazelcast jar), skip with its reason — fail under
// AUTHMESH_REQUIRE_STACK=1, as CI sets.
const skip = stackBackends().skip;

describe.skipIf(skip !== undefined)('health: liveness vs readiness against a store and grid that go away', () => {
  let pgDir: string;
  let pgEnv: NodeJS.ProcessEnv;
  let hzDir: string;
  let hzEnv: NodeJS.ProcessEnv;
  let t: TestGateway;
  let health: HealthClient;

  const postgres = (cmd: string) => run('bash', [POSTGRES, cmd], { env: pgEnv, timeout: 120_000 });
  const hazelcast = (...args: string[]) => run('bash', [HAZELCAST, ...args], { env: hzEnv, timeout: 180_000 });
  const grpcStatus = (service: string) =>
    new Promise<string>((resolve, reject) => health.check({ service }, (e, r) => (e ? reject(e) : resolve(r.status))));
  const http = async (path: string) => {
    const res = await fetch(`${t.baseUrl}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, cacheControl: res.headers.get('cache-control') };
  };

  beforeAll(async () => {
    pgDir = mkdtempSync(join(tmpdir(), 'authmesh-health-pg-'));
    // The server runs as the postgres OS user when we are root; it must reach its directory.
    chmodSync(pgDir, 0o755);
    pgEnv = { ...process.env, AUTHMESH_STACK_DIR: pgDir, AUTHMESH_PG_PORT: String(await freePort()) };
    const url = (await postgres('up')).stdout.trim();

    hzDir = mkdtempSync(join(tmpdir(), 'authmesh-health-hz-'));
    // The jar `scripts/hazelcast.sh up` already fetched for the shared cluster; without it the script fetches its own.
    const jar = join(repoRoot, '.stack', 'hazelcast', `hazelcast-${HAZELCAST_VERSION}.jar`);
    if (existsSync(jar)) symlinkSync(jar, join(hzDir, `hazelcast-${HAZELCAST_VERSION}.jar`));
    const hzPort = await freePortRange(1);
    hzEnv = { ...process.env, HAZELCAST_PORT: String(hzPort), HAZELCAST_DIR: hzDir, HAZELCAST_MEMBERS: '1', HAZELCAST_LOG_KEEP: '1' };
    await hazelcast('up', '1');

    t = await startTestGateway({
      AUTHMESH_STORE: 'postgres',
      AUTHMESH_DATABASE_URL: url,
      AUTHMESH_GRID: 'hazelcast',
      AUTHMESH_HAZELCAST_MEMBERS: `127.0.0.1:${hzPort}`,
    });
    const Health = makeClientConstructor(healthService, 'grpc.health.v1.Health');
    health = new Health(`127.0.0.1:${t.mesh.port}`, credentials.createInsecure()) as unknown as HealthClient;
  }, 240_000);

  afterAll(async () => {
    health?.close();
    await t?.close().catch(() => undefined);
    if (hzEnv) await hazelcast('down').catch(() => undefined);
    if (pgEnv) await postgres('down').catch(() => undefined);
    for (const dir of [pgDir, hzDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  async function expectReady(): Promise<void> {
    await eventually(async () => {
      expect(await grpcStatus(READINESS)).toBe('SERVING');
      const ready = await http('/readyz');
      expect(ready).toStrictEqual({ status: 200, body: { status: 'ready', checks: { store: 'ok', grid: 'ok' } }, cacheControl: 'no-store' });
    });
  }

  async function expectAliveAndRouted(): Promise<void> {
    expect(await grpcStatus(LIVENESS)).toBe('SERVING');
    expect(await http('/livez')).toStrictEqual({ status: 200, body: { status: 'ok' }, cacheControl: 'no-store' });
    // What Envoy checks: started and not draining, whatever the dependencies do.
    expect(await grpcStatus(TOKEN_SERVICE)).toBe('SERVING');
    expect(await grpcStatus('')).toBe('SERVING');
  }

  it('is ready with both dependencies up, and alive', async () => {
    await expectReady();
    await expectAliveAndRouted();
  });

  it('readiness_reflects_store_reachability: NOT_SERVING and 503 naming the store while PostgreSQL is down, liveness untouched, ready again once it is back', async () => {
    await expectReady();
    await postgres('down');
    try {
      await eventually(async () => {
        expect(await grpcStatus(READINESS)).toBe('NOT_SERVING');
        const res = await http('/readyz');
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({ status: 'not_ready', draining: false, checks: { grid: 'ok' } });
        expect(['unreachable', 'timeout']).toContain((res.body.checks as Record<string, string>).store);
      });
      // Nothing about where the store is or how to log in to it.
      const res = await http('/readyz');
      expect(JSON.stringify(res.body)).not.toMatch(/postgres:|127\.0\.0\.1|password|authmesh@/);
      await expectAliveAndRouted();
    } finally {
      await postgres('up');
    }
    await expectReady();
  }, 120_000);

  it('readiness_reflects_grid_reachability: NOT_SERVING and 503 naming the grid while the only Hazelcast member is down, liveness untouched, ready again once it is back', async () => {
    await expectReady();
    await hazelcast('stop-member', '1', '--kill');
    try {
      await eventually(async () => {
        expect(await grpcStatus(READINESS)).toBe('NOT_SERVING');
        const res = await http('/readyz');
        expect(res.status).toBe(503);
        expect(res.body).toMatchObject({ status: 'not_ready', draining: false, checks: { store: 'ok' } });
        expect(['unreachable', 'timeout']).toContain((res.body.checks as Record<string, string>).grid);
      });
      await expectAliveAndRouted();
    } finally {
      await hazelcast('start-member', '1');
    }
    await expectReady();
  }, 180_000);

  it('hazelcast_member_restart_keeps_previous_log: member-N.log.1 is the previous run, and only HAZELCAST_LOG_KEEP generations stay', async () => {
    const log = join(hzDir, 'member-1.log');
    // Each run logs its own member UUID: "Member [127.0.0.1]:port - <uuid> this".
    const uuidOf = (file: string) => /- ([0-9a-f-]{36}) this/.exec(readFileSync(file, 'utf8'))?.[1];
    const before = uuidOf(log);
    expect(before).toBeDefined();
    await hazelcast('stop-member', '1');
    await hazelcast('start-member', '1');
    const after = uuidOf(log);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(uuidOf(`${log}.1`)).toBe(before);
    // HAZELCAST_LOG_KEEP=1 here: one earlier generation, never a second.
    expect(existsSync(`${log}.2`)).toBe(false);
    await expectReady();
  }, 180_000);

  it('drains first: once shutdown begins, readiness and the names Envoy checks say NOT_SERVING and /readyz 503 while liveness stays SERVING', async () => {
    await expectReady();
    // What SIGTERM does in services/main.ts before any listener closes.
    t.mesh.readiness.drain();
    t.mesh.rpc.setServing(false);
    expect(await grpcStatus(READINESS)).toBe('NOT_SERVING');
    expect(await grpcStatus(TOKEN_SERVICE)).toBe('NOT_SERVING');
    expect(await http('/readyz')).toMatchObject({ status: 503, body: { status: 'not_ready', draining: true, checks: { store: 'ok', grid: 'ok' } } });
    expect(await grpcStatus(LIVENESS)).toBe('SERVING');
    expect((await http('/livez')).status).toBe(200);
  });
});
