// The printed results: one table of rows (each side's medians, errors, and authmesh's ratio to
// the peer and to the limit) and one table of memory per process.
import { ratio } from './stats.js';
import type { RowResult } from './rounds.js';
import type { ProcessRss } from './rss.js';
import { GRPC_ROWS, SIDES, type SideName } from './target.js';
import type { BenchConfig } from './config.js';

export interface ServerMemory {
  side: SideName | string;
  label: string;
  /** Total RSS (MiB) of all its processes idle after start, before any load. */
  idleMiB: number;
  /** The largest total RSS (MiB) seen after a round (or at the end). */
  peakMiB: number;
  /** Total RSS (MiB) of all its processes after the load (the end of the run). */
  endMiB: number;
  /** Each process at the end of the run, with its idle RSS when it was already running then. */
  processes: Array<ProcessRss & { idleMiB?: number }>;
}

const fmt = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? 'n/a' : String(n));

/**
 * authmesh's gRPC rows as a fraction of the grpc-js ceiling (the limit's trivial unary call in
 * the same run), one line per row that both have.
 */
export function ceilingNotes(rows: readonly RowResult[]): string[] {
  const ceiling = rows.find((r) => r.id === 'grpc_unary')?.sides.limit?.rps;
  if (ceiling === undefined) return [];
  return rows
    .filter((r) => GRPC_ROWS.includes(r.id) && r.sides.authmesh)
    .map((r) => `- ${r.title}: authmesh ${r.sides.authmesh!.rps} calls/s = ${fmt(ratio(r.sides.authmesh!.rps, ceiling))} of the grpc-js ceiling here (${ceiling} trivial calls/s)`);
}

/** The results as markdown tables, ready to paste into a README or a report. */
export function formatReport(heading: string, config: BenchConfig, labels: Partial<Record<SideName, string>>, rows: RowResult[], memory: ServerMemory[]): string {
  const out: string[] = [];
  out.push(`## ${heading}`, '');
  out.push(
    `${config.connections} connections (HTTP) / calls in flight (gRPC); ${config.rounds} interleaved round(s) of ${config.seconds} s per side per row` +
      `${config.warmupSeconds > 0 ? ` after ${config.warmupSeconds} s warm-up` : ''}; figures are medians of rounds; profile ${config.profile}.`,
  );
  out.push(`Sides: ${SIDES.filter((s) => labels[s]).map((s) => `${s} = ${labels[s]}`).join('; ')}.`, '');
  // authmesh's ratio to every other side in the run.
  const others = SIDES.filter((s) => s !== 'authmesh' && rows.some((r) => r.sides[s]));
  out.push(`| row | side | req/s | p50 ms | p99 ms | errors |${others.map((o) => ` authmesh ÷ ${o} |`).join('')}`);
  out.push(`|---|---|---:|---:|---:|---:|${others.map(() => '---:|').join('')}`);
  for (const row of rows) {
    const a = row.sides.authmesh?.rps;
    let first = true;
    for (const side of SIDES) {
      const s = row.sides[side];
      // A side that cannot run the row (no such endpoint) is left out; its ratio reads n/a.
      if (!s) continue;
      const ratios = others.map((o) => ` ${side === 'authmesh' ? fmt(ratio(a, row.sides[o]?.rps)) : ''} |`).join('');
      out.push(`| ${first ? row.title : ''} | ${side} | ${s.rps} | ${s.p50} | ${s.p99} | ${s.errors} |${ratios}`);
      first = false;
    }
  }
  const notes = rows.flatMap((r) => r.notes.map((n) => `- ${r.title}: ${n}`));
  notes.push(...ceilingNotes(rows));
  if (notes.length > 0) out.push('', ...notes);
  out.push(
    '',
    'Memory: RSS summed over every process each server runs (wrappers included), idle after start and after the load.',
    '',
    '| server | pid | process | RSS MiB idle | RSS MiB after load |',
    '|---|---:|---|---:|---:|',
  );
  for (const m of memory) {
    for (const p of m.processes) out.push(`| ${m.label} | ${p.pid} | ${p.command.replaceAll('|', '\\|')} | ${fmt(p.idleMiB)} | ${p.rssMiB} |`);
    out.push(`| **${m.label} total** | | ${m.processes.length} process(es); peak after a round ${m.peakMiB} | **${m.idleMiB}** | **${m.endMiB}** |`);
  }
  return out.join('\n');
}
