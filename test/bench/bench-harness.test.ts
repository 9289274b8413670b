// The benchmark harness (npm run bench) in its smoke profile, cut down to 2 connections and 1 s
// rounds: it must start every server (authmesh, node-oidc-provider, Ory Hydra when
// scripts/peers.sh installed it, the limit), produce every row for every side that has the
// endpoint, with no failed request, and count memory idle and after the load for each server.
// It asserts completeness and correctness only, never a rate or a latency (those depend on the
// machine). Not cheap: four servers, seven rows and password hashes take about a minute on a
// 2-core machine, so it runs only with AUTHMESH_BENCH_SMOKE=1 (CI sets it); the statistics, the
// settings, the process-tree memory count and the scale seeding always run.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/harness.js';
import { median, quantile, ratio } from '../../bench/stats.js';
import { summarise, type RowResult } from '../../bench/rounds.js';
import { benchConfig } from '../../bench/config.js';
import { ceilingNotes } from '../../bench/report.js';
import { processTreeRss, totalRss } from '../../bench/rss.js';
import { seedScaleData } from '../../bench/scale-seed.js';
import { hashToken } from '../../services/core/oauth/secrets.js';
import { durableBackends } from '../../bench/authmesh-durable.js';
import { repoRoot } from '../../services/core/rpc/index.js';
import { createPgliteStore } from '../../services/core/store/pglite-store.js';
import { verifyPassword } from '../../services/user/password-hash.js';

const dir = mkdtempSync(join(tmpdir(), 'bench-harness-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench statistics', () => {
  it('takes medians of rounds and nearest-rank quantiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
    expect(ratio(300, 200)).toBe(1.5);
    expect(ratio(1, 0)).toBeUndefined();
    expect(ratio(undefined, 2)).toBeUndefined();
  });

  it('summarises a side as medians of its rounds and sums of its errors', () => {
    const s = summarise([
      { requests: 100, rps: 50, p50: 10, p99: 40, errors: 0 },
      { requests: 300, rps: 150, p50: 30, p99: 90, errors: 2 },
      { requests: 200, rps: 100, p50: 20, p99: 60, errors: 1 },
    ]);
    expect(s).toMatchObject({ rps: 100, p50: 20, p99: 60, errors: 3, requests: 600 });
  });

  it('refuses a bad setting instead of falling back to a default', () => {
    expect(() => benchConfig({ BENCH_SECONDS: 'ten' })).toThrow(/BENCH_SECONDS/);
    expect(() => benchConfig({ BENCH_PROFILE: 'quick' })).toThrow(/BENCH_PROFILE/);
    expect(benchConfig({ BENCH_PROFILE: 'smoke' })).toMatchObject({ rounds: 1, connections: 32 });
    expect(benchConfig({})).toMatchObject({ rounds: 5, seconds: 10, connections: 32 });
    // The idle RSS reading waits 2 s by default; BENCH_IDLE_SECONDS lets V8's memory reducer run first.
    expect(benchConfig({}).idleSeconds).toBe(2);
    expect(benchConfig({ BENCH_IDLE_SECONDS: '40' }).idleSeconds).toBe(40);
    expect(() => benchConfig({ BENCH_IDLE_SECONDS: '-1' })).toThrow(/BENCH_IDLE_SECONDS/);
  });

  it('takes the peers to run from BENCH_PEERS and refuses an unknown one', () => {
    expect(benchConfig({}).peers).toBeUndefined();
    expect(benchConfig({ BENCH_PEERS: 'hydra' }).peers).toEqual(['hydra']);
    expect(benchConfig({ BENCH_PEERS: 'oidc-provider, hydra,hydra' }).peers).toEqual(['oidc-provider', 'hydra']);
    expect(benchConfig({ BENCH_PEERS: 'none' }).peers).toEqual([]);
    expect(() => benchConfig({ BENCH_PEERS: 'keycloak' })).toThrow(/BENCH_PEERS.*keycloak/);
  });

  it('reads the gRPC rows as a fraction of the grpc-js ceiling measured in the same run', () => {
    const side = (rps: number) => ({ rps, p50: 1, p99: 2, errors: 0, requests: rps, rounds: [] });
    const rows: RowResult[] = [
      { id: 'grpc_token', title: 'gRPC Token', sides: { authmesh: side(2_000), limit: side(6_000) }, notes: [] },
      { id: 'ext_authz', title: 'gRPC Check', sides: { authmesh: side(5_000), limit: side(8_000) }, notes: [] },
      { id: 'grpc_unary', title: 'trivial', sides: { limit: side(10_000) }, notes: [] },
    ];
    expect(ceilingNotes(rows)).toEqual([
      '- gRPC Token: authmesh 2000 calls/s = 0.2 of the grpc-js ceiling here (10000 trivial calls/s)',
      '- gRPC Check: authmesh 5000 calls/s = 0.5 of the grpc-js ceiling here (10000 trivial calls/s)',
    ]);
    // No ceiling row in the run (BENCH_ROWS left it out): no claim about it.
    expect(ceilingNotes(rows.slice(0, 2))).toEqual([]);
  });

  it('runs authmesh on durable backends only when both are named, never on half of them', () => {
    expect(durableBackends({})).toBeUndefined();
    expect(durableBackends({ BENCH_POSTGRES_URL: 'postgres://u:p@127.0.0.1:5432/db', BENCH_HAZELCAST_MEMBERS: '127.0.0.1:5701' })).toEqual({
      postgresUrl: 'postgres://u:p@127.0.0.1:5432/db',
      hazelcastMembers: '127.0.0.1:5701',
    });
    expect(() => durableBackends({ BENCH_POSTGRES_URL: 'postgres://u:p@127.0.0.1:5432/db' })).toThrow(/BENCH_HAZELCAST_MEMBERS/);
    expect(() => durableBackends({ BENCH_HAZELCAST_MEMBERS: '127.0.0.1:5701' })).toThrow(/BENCH_POSTGRES_URL/);
  });
});

describe('bench memory', () => {
  it('counts every process of a server: the wrapper it started and all of their children', async () => {
    // A wrapper shell with two children, like npm → sh → node: RSS must sum the whole tree.
    // In a process group of its own, so the cleanup ends exactly these three processes.
    const wrapper = spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { stdio: 'ignore', detached: true });
    try {
      // A forked child is still `sh` until it execs `sleep`: wait (bounded) for both sleeps.
      const sleeps = (t: typeof tree) => t.filter((p) => p.command.startsWith('sleep')).length;
      let tree = processTreeRss([wrapper.pid!]);
      for (let i = 0; i < 100 && sleeps(tree) < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        tree = processTreeRss([wrapper.pid!]);
      }
      expect(tree.map((p) => p.pid)).toContain(wrapper.pid);
      expect(sleeps(tree)).toBe(2);
      expect(tree).toHaveLength(3);
      for (const p of tree) {
        expect(p.rssMiB).toBeGreaterThan(0);
        // Each child is attributed to the root it was started under (stack mode names it).
        expect(p.root).toBe(wrapper.pid);
      }
      expect(totalRss(tree)).toBeCloseTo(tree.reduce((n, p) => n + p.rssMiB, 0), 1);
    } finally {
      process.kill(-wrapper.pid!, 'SIGKILL');
    }
  });
});

describe('bench:scale seeding', () => {
  it('seeds users sharing one password hash and clients whose secret is scale-secret-<i>, and reuses a finished seed', async () => {
    const dataDir = join(dir, 'scale');
    const log: string[] = [];
    await seedScaleData({ store: 'embedded', dataDir }, { users: 3, clients: 2 }, (l) => log.push(l));
    // A second call with the same counts reuses the set; other counts are refused, not mixed in.
    expect(await seedScaleData({ store: 'embedded', dataDir }, { users: 3, clients: 2 }, () => undefined)).toBe(0);
    await expect(seedScaleData({ store: 'embedded', dataDir }, { users: 4, clients: 2 }, () => undefined)).rejects.toThrow(/BENCH_SCALE_DIR/);
    const store = await createPgliteStore({ dataDir: join(dataDir, 'pglite') });
    try {
      const template = await store.users.get('scale-template-user');
      const user = await store.users.get('scale-user-3');
      expect(user.username).toBe('scale-user-3');
      expect(user.passwordHash).toBe(template.passwordHash);
      expect((await verifyPassword('scale-template-password', user.passwordHash)).ok).toBe(true);
      expect(await store.users.getByUsername('scale-user-4')).toBeUndefined();
      const client = await store.clients.get('scale-client-2');
      expect(client.secretHash).toBe(hashToken('scale-secret-2'));
      expect(client.grantTypes).toEqual(['client_credentials']);
      expect((await store.clients.get('scale-client-1')).secretHash).toBe(hashToken('scale-secret-1'));
    } finally {
      await store.close();
    }
  }, 60_000);
});

/** Whether scripts/peers.sh has installed Hydra (then the smoke run includes it). */
function hydraInstalled(): boolean {
  try {
    execFileSync(join(repoRoot, 'scripts', 'peers.sh'), ['hydra', 'path'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const smoke = process.env.AUTHMESH_BENCH_SMOKE === '1';
describe.skipIf(!smoke)('npm run bench, smoke profile (AUTHMESH_BENCH_SMOKE=1)', () => {
  it('produces complete rows for authmesh, the peers and the limit, with no failed request, and memory idle and after the load', async () => {
    const json = join(dir, 'smoke.json');
    const hydra = hydraInstalled();
    const child = spawn(join(repoRoot, 'node_modules', '.bin', 'tsx'), ['bench/run.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        BENCH_PROFILE: 'smoke',
        BENCH_CONNECTIONS: '2',
        BENCH_SECONDS: '1',
        BENCH_WARMUP: '0.5',
        BENCH_JSON: json,
        BENCH_PEERS: hydra ? 'oidc-provider,hydra' : 'oidc-provider',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, out).toBe(0);

    const result = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    const sidesOf = Object.fromEntries(result.rows.map((r) => [r.id, Object.keys(r.sides).sort()]));
    const withHydra = (sides: string[]) => (hydra ? [...sides, 'hydra'] : sides).sort();
    expect(sidesOf).toEqual({
      client_credentials: withHydra(['authmesh', 'limit', 'peer']),
      introspection: withHydra(['authmesh', 'limit', 'peer']),
      jwks: withHydra(['authmesh', 'limit', 'peer']),
      refresh: ['authmesh', 'peer'],
      grpc_token: ['authmesh', 'limit'],
      ext_authz: ['authmesh', 'limit'],
      // RFC 9449 rows: node-oidc-provider issues DPoP tokens too; ext_authz with proofs is authmesh's alone.
      dpop_client_credentials: ['authmesh', 'peer'],
      dpop_ext_authz: ['authmesh'],
      grpc_unary: ['limit'],
    });
    for (const row of result.rows) {
      for (const [side, stats] of Object.entries(row.sides)) {
        expect(stats.errors, `${row.id} ${side}`).toBe(0);
        expect(stats.requests, `${row.id} ${side}`).toBeGreaterThan(0);
      }
    }
    expect(result.memory.map((m) => m.side).sort()).toEqual(withHydra(['authmesh', 'limit', 'peer']));
    // authmesh runs as production does: node on the compiled entry point, no loader or wrapper.
    const authmeshCommands = result.memory.find((m) => m.side === 'authmesh')!.processes.map((p) => p.command);
    expect(authmeshCommands).toContainEqual(expect.stringContaining('services/main.js'));
    expect(authmeshCommands.filter((c) => /\b(tsx|npm)\b/.test(c))).toEqual([]);
    for (const m of result.memory) {
      for (const p of m.processes) expect(p.rssMiB).toBeGreaterThan(0);
      expect(m.idleMiB, m.label).toBeGreaterThan(0);
      expect(m.endMiB, m.label).toBeCloseTo(totalRss(m.processes), 1);
      expect(m.peakMiB, m.label).toBeGreaterThanOrEqual(m.endMiB);
    }
    expect(out).toContain('| row | side | req/s |');
    expect(out).toContain('of the grpc-js ceiling here');
  }, 300_000);
});
