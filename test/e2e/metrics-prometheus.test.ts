// A real Prometheus (Debian's package, scripts/prometheus.sh install) scrapes a running stack
// (issue 16): scripts/stack.sh up on private ports and a private state directory, as the other
// stack suites do; a prometheus.yml with every authmesh process's /metrics (from
// `scripts/stack.sh metrics`) and Envoy's admin /stats/prometheus; Prometheus on a free loopback
// port until every target is up and a token counter is above zero after token requests through
// Envoy; and `promtool check metrics` on what each endpoint serves. `scripts/stack.sh down --all`
// with the same environment stops everything afterwards.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../services/core/rpc/index.js';
import { envoySkipReason } from '../support/envoy.js';
import { freePort, freePortRange } from '../support/ports.js';
import { eventually, startTestPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { envWithoutStackSettings, stackBackends } from '../support/stack.js';

const run = promisify(execFile);
const stackSh = join(repoRoot, 'scripts', 'stack.sh');
// Bounds: the stack's own health wait, the whole `up`, and how long Prometheus may take to see
// every target up and the counter (its scrape interval is 1 s).
const STACK_WAIT_S = 300;
const UP_TIMEOUT_MS = 600_000;
const SCRAPE_WAIT_MS = 60_000;

const installed = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

function skipReason(): string | undefined {
  const prometheus = installed('prometheus') && installed('promtool') ? undefined : 'prometheus/promtool are not installed: run scripts/prometheus.sh install';
  const reason = prometheus ?? envoySkipReason() ?? stackBackends().skip;
  if (reason !== undefined && process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${reason}`);
  return reason;
}
const skip = skipReason();
if (skip) console.warn(`metrics-prometheus.test.ts skipped: ${skip}`);


interface Target {
  scrapeUrl: string;
  health: string;
  lastError: string;
}

describe.skipIf(skip !== undefined)('Prometheus scrapes a running stack', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let urls: string[] = [];
  let vars: Record<string, string> = {};
  let prometheus: TestPrometheus | undefined;
  let prometheusUrl = '';
  const stack = (...args: string[]) => run('bash', [stackSh, ...args], { cwd: repoRoot, env, timeout: UP_TIMEOUT_MS, maxBuffer: 1 << 24 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'authmesh-metrics-prometheus-'));
    // PostgreSQL runs as its own OS user when we are root: it must reach its directory under ours.
    chmodSync(dir, 0o755);
    env = {
      ...envWithoutStackSettings(),
      AUTHMESH_STACK_DIR: dir,
      AUTHMESH_PG_PORT: String(await freePort()),
      HAZELCAST_PORT: String(await freePortRange(2)),
      AUTHMESH_STACK_GRPC_PORT: String(await freePortRange(7)),
      AUTHMESH_STACK_METRICS_PORT: String(await freePortRange(8)),
      AUTHMESH_HTTP_PORT: String(await freePort()),
      AUTHMESH_SAMPLE_API_PORT: String(await freePort()),
      AUTHMESH_ENVOY_PORT: String(await freePort()),
      AUTHMESH_ENVOY_ADMIN_PORT: String(await freePort()),
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
    await stack('up');
    urls = (await stack('metrics')).stdout.trim().split('\n');
    const { stdout } = await stack('env');
    vars = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'(.*)'$/, '$1')]));

    // A few tokens through Envoy, so the token counters have something to count.
    const basic = `Basic ${Buffer.from(`${vars.AUTHMESH_CLIENT_ID}:${vars.AUTHMESH_CLIENT_SECRET}`).toString('base64')}`;
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${vars.AUTHMESH_URL}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&scope=authmesh.admin',
        signal: AbortSignal.timeout(15_000),
      });
      expect(res.status).toBe(200);
    }

    // The configuration a newcomer writes (README "Metrics"): one job for authmesh, one for Envoy.
    const hostPort = (u: string) => new URL(u).host;
    const authmeshTargets = urls.filter((u) => u.endsWith('/metrics')).map(hostPort);
    const envoyTarget = hostPort(urls.find((u) => u.endsWith('/stats/prometheus'))!);
    prometheus = await startTestPrometheus([
      { name: 'authmesh', targets: authmeshTargets },
      { name: 'envoy', metricsPath: '/stats/prometheus', targets: [envoyTarget] },
    ]);
    prometheusUrl = prometheus.url;
  }, UP_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    if (env) await run('bash', [stackSh, 'down', '--all'], { cwd: repoRoot, env, timeout: 180_000 }).catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 200_000);

  it('lists one scrape URL per authmesh process plus Envoy, each on its own loopback port', () => {
    expect(urls).toHaveLength(9);
    expect(new Set(urls.map((u) => new URL(u).port)).size).toBe(9);
    for (const u of urls) expect(new URL(u).hostname).toBe('127.0.0.1');
    expect(urls.at(-1)).toBe(`http://127.0.0.1:${env.AUTHMESH_ENVOY_ADMIN_PORT}/stats/prometheus`);
  });

  it('sees every target up', async () => {
    const targets = await eventually('every target up', SCRAPE_WAIT_MS, async () => {
      const res = await fetch(`${prometheusUrl}/api/v1/targets`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as { data: { activeTargets: Target[] } };
      const active = body.data.activeTargets;
      return active.length === urls.length && active.every((t) => t.health === 'up') ? active : undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- prometheus log (last 3000):\n${(prometheus?.log() ?? '').slice(-3000)}`);
    });
    expect(targets.map((t) => t.scrapeUrl).sort()).toEqual([...urls].sort());
  });

  it('has scraped the tokens issued through Envoy', async () => {
    const issued = await eventually('sum(authmesh_tokens_issued_total) > 0', SCRAPE_WAIT_MS, async () => {
      const q = encodeURIComponent('sum(authmesh_tokens_issued_total{grant_type="client_credentials",client_type="confidential"})');
      const res = await fetch(`${prometheusUrl}/api/v1/query?query=${q}`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      const v = Number(body.data.result[0]?.value[1] ?? 0);
      return v >= 3 ? v : undefined;
    });
    expect(issued).toBeGreaterThanOrEqual(3);
    // And the token service's own RPC metrics, from its process alone.
    const q = encodeURIComponent('sum by (job) (authmesh_rpc_server_requests_total{service="authmesh.token.v1.TokenService",method="Token",code="OK"})');
    const body = (await (await fetch(`${prometheusUrl}/api/v1/query?query=${q}`)).json()) as { data: { result: { metric: { job: string }; value: [number, string] }[] } };
    expect(body.data.result.map((r) => r.metric.job)).toEqual(['authmesh']);
  });

  it('promtool check metrics finds nothing to report on any authmesh endpoint', async () => {
    for (const url of urls.filter((u) => u.endsWith('/metrics'))) {
      const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
      expect(text).toContain('process_cpu_seconds_total');
      const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
      expect(`${res.stdout}${res.stderr}`, url).toBe('');
      expect(res.status, url).toBe(0);
    }
  });

  it("README's check command (promtool on every authmesh process of the stack) exits 0 and reports nothing", async () => {
    const res = await run('bash', ['-c', "scripts/stack.sh metrics | grep '/metrics$' | xargs -n1 scripts/prometheus.sh check"], { cwd: repoRoot, env, timeout: 120_000 }).catch(
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
    );
    expect('code' in res ? res.code : 0, `${res.stdout}${res.stderr}`).toBe(0);
    expect(res.stdout).toBe('');
  });

  it("promtool parses Envoy's /stats/prometheus (its names are Envoy's own: only naming lint remains)", async () => {
    const url = urls.at(-1)!;
    const text = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
    expect(text).toMatch(/^envoy_server_live\b/m);
    const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    // Exit 1 is a parse error; 3 means it parsed and only lint findings about Envoy's own metric
    // names (no HELP, counters without _total, abbreviated units) remain, which we cannot rename.
    expect([0, 3], `${res.stdout}${res.stderr}`.slice(0, 2000)).toContain(res.status);
    const findings = `${res.stdout}${res.stderr}`.split('\n').filter((l) => l.trim() !== '');
    for (const line of findings) {
      expect(line).toMatch(/^envoy_\S+ (no help text|counter metrics should have "_total" suffix|metric names should not contain abbreviated units|non-histogram and non-summary metrics should not have "_count" suffix|use base unit "seconds" instead of "\w+"|non-counter metrics should not have "_total" suffix)$/);
    }
  });
});
