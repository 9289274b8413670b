// Why a protected request failed during the soak (issue 18): what Envoy and the token service
// recorded about each failed call to the sample API through ext_authz, read from the private
// stack before it goes down. Envoy's access log gives the answer's status, response flags
// (UAEX: ext_authz refused or failed) and response code details ("ext_authz_denied": the token
// service answered with a denial, a 503 temporarily_unavailable included; "ext_authz_error":
// the Check call itself failed or timed out); the token service's log names what a Check could
// not reach; Envoy's counters say how often the Check was retried, timed out or failed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { windowOf, type FaultEvent } from './invariants.js';

/** One failed request to a protected route as Envoy logged it. */
export interface EdgeFailure {
  /** ms since the epoch */
  at: number;
  path: string;
  status: number;
  flags: string;
  details: string;
  durationMs: number;
}

/** What the stack recorded about failed protected requests. */
export interface EdgeDiagnostics {
  failures: (EdgeFailure & { window: string })[];
  /** The token service's "check could not be completed" lines: time, instance and reason. */
  checkErrors: { at: number; instance: string; reason: string; window: string }[];
  /** Envoy's ext_authz filter counters and the token cluster's retry and timeout counters. */
  counters: Record<string, number>;
}

/** Lines of Envoy's JSON access log for `pathPrefix` whose status is not `okStatuses`. */
export function failedEdgeRequests(accessLog: string, pathPrefix: string, okStatuses: readonly number[]): EdgeFailure[] {
  const out: EdgeFailure[] = [];
  for (const line of accessLog.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const path = String(entry.path ?? '');
    const status = Number(entry.status);
    if (!path.startsWith(pathPrefix) || okStatuses.includes(status)) continue;
    out.push({
      at: Date.parse(String(entry.time)),
      path,
      status,
      flags: String(entry.flags ?? ''),
      details: String(entry.details ?? ''),
      durationMs: Number(entry.duration_ms),
    });
  }
  return out;
}

/** Envoy's admin counters whose names match `pattern`, e.g. /ext_authz|authmesh_token\.upstream_rq_retry/. */
async function envoyCounters(adminPort: string, pattern: RegExp): Promise<Record<string, number>> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/stats?usedonly`, { signal: AbortSignal.timeout(5_000) });
  const out: Record<string, number> = {};
  for (const line of (await res.text()).split('\n')) {
    const m = /^([\w.:-]+): (\d+)$/.exec(line);
    if (m && pattern.test(m[1]!)) out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** The token service's log lines for Checks that could not be completed (JSON lines, pino). */
function checkErrorsIn(stateDir: string): { at: number; instance: string; reason: string }[] {
  const out: { at: number; instance: string; reason: string }[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(stateDir).filter((f) => /\.log(\.\d+)?$/.test(f));
  } catch {
    return out;
  }
  for (const f of files) {
    let text = '';
    try {
      text = readFileSync(join(stateDir, f), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.includes('ext_authz check could not be completed')) continue;
      try {
        const e = JSON.parse(line) as { time?: number | string; err?: unknown; cause?: unknown };
        out.push({ at: typeof e.time === 'number' ? e.time : Date.parse(String(e.time)), instance: f.replace(/\.log(\.\d+)?$/, ''), reason: [e.err, e.cause].filter((x) => x !== undefined).map(String).join(': ') });
      } catch {
        // not a JSON line
      }
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

/**
 * Collects the diagnostics of failed requests to `/sample/` (the soak's protected route) from the
 * private stack in `stackDir` (its envoy/ and authmesh/ directories) and Envoy's admin port.
 * Never throws: a part that cannot be read is left empty.
 */
export async function edgeDiagnostics(stackDir: string, envoyAdminPort: string | undefined, faults: readonly FaultEvent[], since: number): Promise<EdgeDiagnostics> {
  const ordered = [...faults].sort((a, b) => a.at - b.at);
  let accessLog = '';
  try {
    accessLog = readFileSync(join(stackDir, 'envoy', 'access.log'), 'utf8');
  } catch {
    // no log
  }
  // 401/403 are answers (a revoked token probed, a token revoked meanwhile), not failures.
  const failures = failedEdgeRequests(accessLog, '/sample/', [200, 401, 403])
    .filter((f) => f.at >= since)
    .map((f) => ({ ...f, window: windowOf(ordered, f.at) }));
  const checkErrors = checkErrorsIn(join(stackDir, 'authmesh'))
    .filter((e) => e.at >= since)
    .map((e) => ({ ...e, window: windowOf(ordered, e.at) }));
  let counters: Record<string, number> = {};
  if (envoyAdminPort) {
    try {
      counters = await envoyCounters(envoyAdminPort, /ext_authz\.|cluster\.authmesh_token\.(upstream_rq_retry|upstream_rq_timeout|upstream_rq_per_try_timeout|upstream_cx_connect_fail|upstream_rq_rx_reset|upstream_rq_tx_reset|upstream_cx_destroy_remote_with_active_rq|upstream_rq_pending_failure_eject)/);
    } catch {
      // admin port gone
    }
  }
  return { failures, checkErrors, counters };
}

/** The diagnostics as markdown lines for the soak's report. */
export function edgeDiagnosticsReport(d: EdgeDiagnostics): string[] {
  const lines = ['', `## Protected requests (/sample/*) that failed at the edge: ${d.failures.length}`, ''];
  if (d.failures.length > 0) {
    lines.push('| time | window | status | flags | details | duration (ms) |', '|---|---|---|---|---|---|');
    for (const f of d.failures) lines.push(`| ${new Date(f.at).toISOString()} | ${f.window} | ${f.status} | ${f.flags} | ${f.details} | ${f.durationMs} |`);
  }
  if (d.checkErrors.length > 0) {
    lines.push('', 'Checks the token service could not complete:', '', '| time | window | instance | reason |', '|---|---|---|---|');
    for (const e of d.checkErrors) lines.push(`| ${new Date(e.at).toISOString()} | ${e.window} | ${e.instance} | ${e.reason.slice(0, 160)} |`);
  }
  const counters = Object.entries(d.counters).filter(([, n]) => n > 0);
  if (counters.length > 0) lines.push('', `Envoy counters: ${counters.map(([k, n]) => `${k}=${n}`).join(', ')}`);
  return lines;
}
