// Interleaved rounds: for each row, every side runs once per round, in turn (authmesh, peer,
// limit, authmesh, peer, limit, …), so a slow minute of a shared machine hits every side alike.
// Each side's figures are the medians of its rounds.
import { median } from './stats.js';
import type { RoundResult } from './round-result.js';
import { ROW_IDS, ROW_TITLES, SIDES, type RowId, type SideName, type Target } from './target.js';
import type { BenchConfig } from './config.js';

export interface SideStats {
  /** Medians over the rounds: requests/s and latency percentiles in ms. */
  rps: number;
  p50: number;
  p99: number;
  /** Errors summed over all rounds; requests likewise. */
  errors: number;
  requests: number;
  rounds: RoundResult[];
}

export interface RowResult {
  id: RowId;
  title: string;
  sides: Partial<Record<SideName, SideStats>>;
  notes: string[];
}

/** Summarises one side's rounds (medians of rps, p50 and p99; sums of errors and requests). */
export function summarise(rounds: RoundResult[]): SideStats {
  // Latencies to 0.01 ms: the mean of two middle rounds must not print 236.89999999999998.
  const ms = (n: number) => Math.round(n * 100) / 100;
  return {
    rps: Math.round(median(rounds.map((r) => r.rps))),
    p50: ms(median(rounds.map((r) => r.p50))),
    p99: ms(median(rounds.map((r) => r.p99))),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    requests: rounds.reduce((n, r) => n + r.requests, 0),
    rounds,
  };
}

/**
 * Runs every selected row over every target that has a load for it: an unmeasured warm-up per
 * side, then `config.rounds` interleaved rounds. `afterRound` runs after each measured round (RSS
 * sampling). Progress goes to `log`.
 */
export async function runRows(targets: readonly Target[], config: BenchConfig, afterRound: () => void, log: (line: string) => void): Promise<RowResult[]> {
  const results: RowResult[] = [];
  const ordered = SIDES.map((s) => targets.find((t) => t.side === s)).filter((t): t is Target => t !== undefined);
  for (const id of ROW_IDS) {
    if (config.rows && !config.rows.includes(id)) continue;
    const sides = ordered.filter((t) => t.loads[id]);
    if (sides.length === 0) continue;
    const rounds = new Map<SideName, RoundResult[]>(sides.map((t) => [t.side, []]));
    if (config.warmupSeconds > 0) {
      for (const t of sides) {
        const load = t.loads[id]!;
        await load.prepare?.(config.connections);
        await load.run(config.warmupSeconds, config.connections);
      }
    }
    for (let r = 1; r <= config.rounds; r++) {
      for (const t of sides) {
        const load = t.loads[id]!;
        await load.prepare?.(config.connections);
        const res = await load.run(config.seconds, config.connections);
        rounds.get(t.side)!.push(res);
        afterRound();
        log(`${id} round ${r}/${config.rounds} ${t.side}: ${Math.round(res.rps)} req/s, p50 ${res.p50} ms, p99 ${res.p99} ms, ${res.errors} errors`);
      }
    }
    results.push({
      id,
      title: ROW_TITLES[id],
      sides: Object.fromEntries([...rounds].map(([side, rs]) => [side, summarise(rs)])),
      notes: [...new Set(sides.map((t) => t.loads[id]!.note).filter((n): n is string => n !== undefined))],
    });
  }
  return results;
}
