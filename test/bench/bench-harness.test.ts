// The benchmark harness (npm run bench) in its smoke profile, cut down to 2 connections and 1 s
// rounds: it must start all three servers, produce every row for every side that has the
// endpoint, with no failed request, and count memory for each server. It asserts completeness
// and correctness only, never a rate or a latency (those depend on the machine).
// Not cheap: three servers, six rows and password hashes take 30 s on an idle 2-core machine and
// minutes on a busy one, so it runs only with AUTHMESH_BENCH_SMOKE=1; the statistics always run.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench/harness.js';
import { median, quantile, ratio } from '../../bench/stats.js';
import { summarise } from '../../bench/rounds.js';
import { benchConfig } from '../../bench/config.js';
import { durableBackends } from '../../bench/authmesh-durable.js';
import { repoRoot } from '../../services/core/rpc/index.js';

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

const smoke = process.env.AUTHMESH_BENCH_SMOKE === '1';
describe.skipIf(!smoke)('npm run bench, smoke profile (AUTHMESH_BENCH_SMOKE=1)', () => {
  it('produces complete rows for authmesh, node-oidc-provider and the limit, with no failed request', async () => {
    const json = join(dir, 'smoke.json');
    const child = spawn(join(repoRoot, 'node_modules', '.bin', 'tsx'), ['bench/run.ts'], {
      cwd: repoRoot,
      env: { ...process.env, BENCH_PROFILE: 'smoke', BENCH_CONNECTIONS: '2', BENCH_SECONDS: '1', BENCH_WARMUP: '0.5', BENCH_JSON: json },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, out).toBe(0);

    const result = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    const sidesOf = Object.fromEntries(result.rows.map((r) => [r.id, Object.keys(r.sides).sort()]));
    expect(sidesOf).toEqual({
      client_credentials: ['authmesh', 'limit', 'peer'],
      introspection: ['authmesh', 'limit', 'peer'],
      jwks: ['authmesh', 'limit', 'peer'],
      refresh: ['authmesh', 'peer'],
      grpc_token: ['authmesh'],
      ext_authz: ['authmesh'],
    });
    for (const row of result.rows) {
      for (const [side, stats] of Object.entries(row.sides)) {
        expect(stats.errors, `${row.id} ${side}`).toBe(0);
        expect(stats.requests, `${row.id} ${side}`).toBeGreaterThan(0);
      }
    }
    expect(result.memory.map((m) => m.side).sort()).toEqual(['authmesh', 'limit', 'peer']);
    // authmesh runs as npm start does: the tsx wrapper and the node process it starts.
    expect(result.memory.find((m) => m.side === 'authmesh')!.processes.length).toBeGreaterThanOrEqual(2);
    for (const m of result.memory) for (const p of m.processes) expect(p.rssMiB).toBeGreaterThan(0);
    expect(out).toContain('| row | side | req/s |');
  }, 240_000);
});
