// A real Prometheus (Debian's package: scripts/prometheus.sh install) on a free loopback port,
// scraping the given targets every second, in a private directory removed on stop. For tests of
// what authmesh reads back from a Prometheus (the console's rates).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface TestPrometheus {
  /** e.g. http://127.0.0.1:12345 */
  url: string;
  /** What it printed (the last 4000 characters), to explain a failure. */
  log(): string;
  stop(): Promise<void>;
}

/** Why Prometheus tests cannot run here (undefined: they can); throws under AUTHMESH_REQUIRE_STACK=1. */
export function prometheusSkipReason(): string | undefined {
  const ok = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;
  const reason = ok ? undefined : 'prometheus is not installed: run scripts/prometheus.sh install';
  if (reason !== undefined && process.env.AUTHMESH_REQUIRE_STACK === '1') throw new Error(`AUTHMESH_REQUIRE_STACK=1 but ${reason}`);
  return reason;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One scrape job of the test Prometheus: its targets (host:port) and path (default /metrics). */
export interface ScrapeJob {
  name: string;
  targets: string[];
  metricsPath?: string;
}

/**
 * Starts Prometheus on 127.0.0.1:`port` (default: a free one) scraping every second either
 * `targets` (host:port, path /metrics) as the job `authmesh`, or the given jobs. Resolves once its
 * HTTP API answers /-/ready (at most 60 s).
 */
export async function startTestPrometheus(scrape: string[] | ScrapeJob[], port?: number): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'authmesh-prometheus-'));
  const jobs: ScrapeJob[] = scrape.every((j) => typeof j === 'string') ? [{ name: 'authmesh', targets: scrape as string[] }] : (scrape as ScrapeJob[]);
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    ...jobs.flatMap((j) => [
      `  - job_name: ${j.name}`,
      ...(j.metricsPath === undefined ? [] : [`    metrics_path: ${j.metricsPath}`]),
      `    static_configs: [{ targets: [${j.targets.map((t) => `"${t}"`).join(', ')}] }]`,
    ]),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const p = port ?? (await freePort());
  const url = `http://127.0.0.1:${p}`;
  let output = '';
  const child: ChildProcess = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${p}`],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // gone already
      }
      await Promise.race([exited, sleep(10_000)]);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // stopped
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited at start (${child.exitCode}):\n${output}`);
    }
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 60 s:\n${output}`);
    }
    await sleep(250);
  }
  return { url, log: () => output, stop };
}

/** Polls `probe` (every 500 ms, at most `ms`) until it returns a value; the last failure explains a timeout. */
export async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(500);
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${String(last)})` : ''}`);
}
