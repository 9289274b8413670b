// One benchmark run from start to end: start the servers, read their memory idle, run the
// interleaved rounds, sample memory after each round and after the load, print the tables (and
// write JSON when BENCH_JSON is set), stop everything — also on an error or Ctrl-C. Memory is
// always the sum over every process of what was started (wrappers such as npm, sh and tsx, the
// servers, their children), read from /proc (bench/rss.ts).
import { writeFileSync } from 'node:fs';
import { benchConfig, type BenchConfig } from './config.js';
import { formatReport, type ServerMemory } from './report.js';
import { runRows, type RowResult } from './rounds.js';
import { processTreeRss, totalRss } from './rss.js';
import type { SideName, Target } from './target.js';

export interface ExtraProcesses {
  /** Processes to report that are not a Target (stack mode: Postgres, Hazelcast, Envoy). */
  label: string;
  pids(): number[];
}

export interface BenchResult {
  heading: string;
  config: BenchConfig;
  labels: Partial<Record<SideName, string>>;
  rows: RowResult[];
  memory: ServerMemory[];
}

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

/**
 * Starts the targets one after the other (`starters`, in order), runs the rows and prints the
 * report to stdout. Always stops what it started. Returns the results (also written to BENCH_JSON).
 */
export async function runBenchmark(
  heading: string,
  starters: Array<() => Promise<Target>>,
  extra: ExtraProcesses[] = [],
  config: BenchConfig = benchConfig(),
): Promise<BenchResult> {
  const targets: Target[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => (stopping ??= Promise.allSettled(targets.map((t) => t.stop())).then(() => undefined));
  const onSignal = () => {
    log('interrupted: stopping the servers');
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    for (const start of starters) {
      const t = await start();
      targets.push(t);
      log(`started ${t.label}`);
    }
    const watched: Array<{ side: string; label: string; pids(): number[]; processNames?(): Map<number, string> }> = [
      ...targets,
      ...extra.map((e) => ({ side: e.label, ...e })),
    ];
    // Idle after start: every server up and set up (its client registered), before any load,
    // config.idleSeconds after the last one started (BENCH_IDLE_SECONDS).
    await new Promise((r) => setTimeout(r, config.idleSeconds * 1000));
    const idle = new Map(watched.map((w) => [w.label, processTreeRss(w.pids())]));
    const peaks = new Map<string, number>();
    const sample = () => {
      for (const w of watched) peaks.set(w.label, Math.max(peaks.get(w.label) ?? 0, totalRss(processTreeRss(w.pids()))));
    };
    const rows = await runRows(targets, config, sample, log);
    const memory: ServerMemory[] = watched.map((w) => {
      const names = w.processNames?.() ?? new Map<number, string>();
      const idleOf = new Map((idle.get(w.label) ?? []).map((p) => [p.pid, p.rssMiB]));
      const atEnd = processTreeRss(w.pids());
      const processes: ServerMemory['processes'] = atEnd.map((p) => ({
        ...p,
        // A child (tsx's esbuild, a worker) carries the name of the service whose tree it is in.
        ...(names.has(p.root) ? { command: `[${names.get(p.root)}] ${p.command}` } : {}),
        ...(idleOf.has(p.pid) ? { idleMiB: idleOf.get(p.pid)! } : {}),
      }));
      const idleMiB = totalRss(idle.get(w.label) ?? []);
      const endMiB = totalRss(atEnd);
      return { side: w.side, label: w.label, idleMiB, peakMiB: Math.max(peaks.get(w.label) ?? 0, endMiB), endMiB, processes };
    });
    const labels = Object.fromEntries(targets.map((t) => [t.side, t.label])) as Partial<Record<SideName, string>>;
    const result: BenchResult = { heading, config, labels, rows, memory };
    console.log(`\n${formatReport(heading, config, labels, rows, memory)}\n`);
    if (config.json) writeFileSync(config.json, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await stopAll();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}
