// One benchmark run from start to end: start the servers, run the interleaved rounds, sample
// memory after each round, print the tables (and write JSON when BENCH_JSON is set), stop
// everything — also on an error or Ctrl-C.
import { writeFileSync } from 'node:fs';
import { benchConfig, type BenchConfig } from './config.js';
import { formatReport, type ServerMemory } from './report.js';
import { runRows, type RowResult } from './rounds.js';
import { processTreeRss, totalRss, type ProcessRss } from './rss.js';
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
    const peaks = new Map<string, number>();
    const sample = () => {
      for (const w of watched) peaks.set(w.label, Math.max(peaks.get(w.label) ?? 0, totalRss(processTreeRss(w.pids()))));
    };
    sample();
    const rows = await runRows(targets, config, sample, log);
    const memory: ServerMemory[] = watched.map((w) => {
      const names = w.processNames?.() ?? new Map<number, string>();
      const processes: ProcessRss[] = processTreeRss(w.pids()).map((p) => (names.has(p.pid) ? { ...p, command: `[${names.get(p.pid)}] ${p.command}` } : p));
      return { side: w.side, label: w.label, peakMiB: Math.max(peaks.get(w.label) ?? 0, totalRss(processes)), processes };
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
