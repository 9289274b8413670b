// The soak's verdict (issue 18), from what the driver recorded (driver.ts), what the chaos
// schedule did (chaos.ts) and what the stack holds at the end: the invariants as numbers, and the
// failed requests by kind and by fault window with the time each fault took to recover from.
import type { OperationKind, Outcome, SoakLedger } from './driver.js';

/** A fault the schedule injected at `at` (ms since the epoch), e.g. "kill -9 hazelcast member 2". */
export interface FaultEvent {
  label: string;
  at: number;
}

export interface WindowFigures {
  /** "steady" before the first fault, else the fault's label. */
  window: string;
  requests: number;
  failed: number;
  /** Failures by operation kind and reason, e.g. {"ext_authz 503": 3}. */
  failures: Record<string, number>;
  /** From the fault to the end of the last failed request of its window (ms); 0 when none failed. */
  recoveryMs: number;
}

export interface SoakVerdict {
  requests: number;
  failed: number;
  byKind: Record<string, { requests: number; failed: number }>;
  windows: WindowFigures[];
  tokensIssued: number;
  acknowledgedWrites: number;
  /** Acknowledged writes missing at the end: must be 0. */
  lostWrites: number;
  codesRedeemedTwice: number;
  refreshRotatedTwice: number;
  acceptedAfterRevocation: number;
}

/** Which window an outcome started in: the latest fault at or before it, "steady" before any. */
export function windowOf(faults: readonly FaultEvent[], at: number): string {
  let label = 'steady';
  for (const f of faults) if (f.at <= at) label = f.label;
  return label;
}

/**
 * Folds the ledger into the verdict. `missing` is the number of acknowledged writes the stack no
 * longer has (read back after the run). Outcomes of the races (code_replay, refresh_race) count
 * in the invariants, not as requests.
 */
export function soakVerdict(ledger: SoakLedger, faults: readonly FaultEvent[], missing: number): SoakVerdict {
  const ordered = [...faults].sort((a, b) => a.at - b.at);
  const requests = ledger.outcomes.filter((o) => o.kind !== 'code_replay' && o.kind !== 'refresh_race');
  const byKind: SoakVerdict['byKind'] = {};
  const windows = new Map<string, WindowFigures>([['steady', { window: 'steady', requests: 0, failed: 0, failures: {}, recoveryMs: 0 }]]);
  for (const f of ordered) windows.set(f.label, { window: f.label, requests: 0, failed: 0, failures: {}, recoveryMs: 0 });
  const faultAt = new Map(ordered.map((f) => [f.label, f.at]));
  for (const o of requests) {
    const k = (byKind[o.kind] ??= { requests: 0, failed: 0 });
    k.requests++;
    const w = windows.get(windowOf(ordered, o.startedAt))!;
    w.requests++;
    if (o.ok) continue;
    k.failed++;
    w.failed++;
    const reason = `${o.kind} ${o.failure ?? 'failed'}`;
    w.failures[reason] = (w.failures[reason] ?? 0) + 1;
    const at = faultAt.get(w.window);
    if (at !== undefined) w.recoveryMs = Math.max(w.recoveryMs, o.endedAt - at);
  }
  return {
    requests: requests.length,
    failed: requests.filter((o) => !o.ok).length,
    byKind,
    windows: [...windows.values()],
    tokensIssued: ledger.tokensIssued,
    acknowledgedWrites: ledger.acknowledged.length,
    lostWrites: missing,
    codesRedeemedTwice: ledger.codesRedeemedTwice.length,
    refreshRotatedTwice: ledger.refreshRotatedTwice.length,
    acceptedAfterRevocation: ledger.acceptedAfterRevocation.length,
  };
}

/** The invariants that must hold whatever the faults (issue 18): names of those broken. */
export function brokenInvariants(v: SoakVerdict): string[] {
  const broken: string[] = [];
  if (v.lostWrites > 0) broken.push(`${v.lostWrites} acknowledged write(s) lost`);
  if (v.codesRedeemedTwice > 0) broken.push(`${v.codesRedeemedTwice} code(s) redeemed twice`);
  if (v.refreshRotatedTwice > 0) broken.push(`${v.refreshRotatedTwice} refresh token(s) rotated twice`);
  if (v.acceptedAfterRevocation > 0) broken.push(`${v.acceptedAfterRevocation} token(s) accepted after their revocation was acknowledged`);
  return broken;
}

export type { OperationKind, Outcome };
