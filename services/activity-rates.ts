// The console overview's rates (AuditService.GetActivityRates): the token issuance rate and the
// error rates of the token endpoint and of the RPCs, read from the Prometheus that scrapes this
// deployment (AUTHMESH_CONSOLE_PROMETHEUS_URL). In stack mode the counters are spread over every
// process's /metrics, so only a Prometheus sees them all; in embedded mode it is the same question
// asked of one target.
//
// Server-side request forgery: the server asks Prometheus the fixed queries below at the configured
// URL, and nothing else. No part of the caller's request (it has no fields; unknown fields are
// dropped by the decoder) reaches the URL or a query. Redirects are refused (a redirect would send
// the server elsewhere), the answer is read up to PROMETHEUS_MAX_BYTES, within one deadline of
// PROMETHEUS_TIMEOUT_MS for all queries, and one answer serves every caller for
// RATES_CACHE_MS, so callers cannot multiply the load on Prometheus.
import { ActivityRatesState, GetActivityRatesResponse, type GrantTypeRate } from '../gen/ts/authmesh/audit/v1/audit.js';

/** The window every rate is averaged over, seconds (the `[5m]` of the queries). */
export const RATE_WINDOW_SECONDS = 300;
/** One deadline for all of a read's queries, ms. */
export const PROMETHEUS_TIMEOUT_MS = 2_000;
/** Largest answer read from Prometheus per query, bytes. */
export const PROMETHEUS_MAX_BYTES = 256 * 1024;
/** How long one read's answer (available or not) serves every caller, ms. */
export const RATES_CACHE_MS = 5_000;
/** Most series of a query result taken into account (the label values are bounded by code). */
const MAX_SERIES = 200;
/** Most grant types listed. */
const MAX_GRANT_TYPES = 32;

/**
 * The only PromQL the server sends (instant queries at Prometheus's "now"), each a sum of rates
 * over RATE_WINDOW_SECONDS, grouped by one label of authmesh's own metrics (README "Metrics").
 */
export const ACTIVITY_QUERIES = {
  tokensByGrantType: 'sum by (grant_type) (rate(authmesh_tokens_issued_total[5m]))',
  tokenEndpointByStatus: 'sum by (status_code) (rate(authmesh_http_server_requests_total{route="/oauth2/token"}[5m]))',
  rpcByCode: 'sum by (code) (rate(authmesh_rpc_server_requests_total[5m]))',
} as const;

/** Why a read gave no figures, in plain words (never the URL, never what Prometheus sent). */
class RatesUnavailable extends Error {}

interface Sample {
  labels: Record<string, string>;
  value: number;
  /** Evaluation time, seconds since the epoch. */
  at: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A label value as shown: printable ASCII, at most 128 characters; anything else is dropped. */
const labelValue = (v: unknown): string | undefined => (typeof v === 'string' && /^[\x20-\x7e]{1,128}$/.test(v) ? v : undefined);

/** The body of `res`, refused beyond `max` bytes (read no further). @throws RatesUnavailable */
async function boundedText(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > max) throw new RatesUnavailable(`Prometheus's answer is larger than ${max / 1024} KiB`);
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new RatesUnavailable(`Prometheus's answer is larger than ${max / 1024} KiB`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The samples of an instant-vector answer of Prometheus's HTTP API (`/api/v1/query`):
 * `{status:"success", data:{resultType:"vector", result:[{metric:{…}, value:[t, "v"]}]}}`.
 * A value that is not a finite number ≥ 0 counts as 0. @throws RatesUnavailable for another shape.
 */
export function parseVector(text: string): Sample[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RatesUnavailable("Prometheus's answer is not JSON");
  }
  if (!isRecord(body) || body.status !== 'success' || !isRecord(body.data) || body.data.resultType !== 'vector' || !Array.isArray(body.data.result)) {
    throw new RatesUnavailable("Prometheus's answer is not a query result");
  }
  return body.data.result.slice(0, MAX_SERIES).flatMap((series: unknown): Sample[] => {
    if (!isRecord(series) || !isRecord(series.metric) || !Array.isArray(series.value) || series.value.length !== 2) return [];
    const [at, raw] = series.value as unknown[];
    if (typeof at !== 'number' || !Number.isFinite(at) || typeof raw !== 'string') return [];
    const n = Number(raw);
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(series.metric)) {
      const shown = labelValue(v);
      if (shown !== undefined) labels[k] = shown;
    }
    return [{ labels, value: Number.isFinite(n) && n > 0 ? n : 0, at }];
  });
}

/** GET <base>/api/v1/query?query=<one of ACTIVITY_QUERIES>. @throws RatesUnavailable */
async function query(base: string, promql: string, signal: AbortSignal): Promise<Sample[]> {
  let res: Response;
  try {
    res = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: promql })}`, {
      signal,
      // A redirect would take the server's request somewhere the operator did not configure.
      redirect: 'error',
      headers: { accept: 'application/json' },
    });
  } catch {
    throw new RatesUnavailable(signal.aborted ? `Prometheus did not answer within ${PROMETHEUS_TIMEOUT_MS / 1000} s` : 'Prometheus could not be reached');
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new RatesUnavailable(`Prometheus answered HTTP ${res.status}`);
  }
  try {
    return parseVector(await boundedText(res, PROMETHEUS_MAX_BYTES));
  } catch (err) {
    if (err instanceof RatesUnavailable) throw err;
    throw new RatesUnavailable(signal.aborted ? `Prometheus did not answer within ${PROMETHEUS_TIMEOUT_MS / 1000} s` : "Prometheus's answer could not be read");
  }
}

const sum = (samples: Sample[]) => samples.reduce((n, s) => n + s.value, 0);
const ratio = (part: number, whole: number) => (whole > 0 ? Math.min(1, part / whole) : 0);

/** The figures of the three answers (ACTIVITY_QUERIES' order). */
function figures(tokens: Sample[], endpoint: Sample[], rpc: Sample[]): GetActivityRatesResponse {
  const byGrant = new Map<string, number>();
  for (const s of tokens) {
    const grant = s.labels.grant_type ?? 'other';
    byGrant.set(grant, (byGrant.get(grant) ?? 0) + s.value);
  }
  const grants: GrantTypeRate[] = [...byGrant]
    .map(([grantType, perSecond]) => ({ grantType, perSecond }))
    .sort((a, b) => b.perSecond - a.perSecond || a.grantType.localeCompare(b.grantType))
    .slice(0, MAX_GRANT_TYPES);
  const responses = sum(endpoint);
  const withStatus = (first: string) => sum(endpoint.filter((s) => (s.labels.status_code ?? '').startsWith(first)));
  const calls = sum(rpc);
  const notOk = sum(rpc.filter((s) => s.labels.code !== 'OK'));
  const at = Math.max(0, ...[...tokens, ...endpoint, ...rpc].map((s) => s.at));
  return GetActivityRatesResponse.fromPartial({
    state: ActivityRatesState.ACTIVITY_RATES_STATE_AVAILABLE,
    windowSeconds: RATE_WINDOW_SECONDS,
    evaluatedAt: new Date(at > 0 ? at * 1000 : Date.now()),
    tokensIssuedPerSecond: sum(tokens),
    tokensIssuedByGrantType: grants,
    tokenEndpointResponsesPerSecond: responses,
    tokenEndpointClientErrorRatio: ratio(withStatus('4'), responses),
    tokenEndpointServerErrorRatio: ratio(withStatus('5'), responses),
    rpcRequestsPerSecond: calls,
    rpcErrorRatio: ratio(notOk, calls),
  });
}

export interface ActivityRates {
  /**
   * The current figures: state AVAILABLE with the rates (per second over RATE_WINDOW_SECONDS)
   * and shares (0 to 1); NOT_CONFIGURED without a Prometheus URL; UNAVAILABLE with a plain-words
   * reason when Prometheus did not answer within PROMETHEUS_TIMEOUT_MS, answered other than 200,
   * more than PROMETHEUS_MAX_BYTES, or not a query result. Never throws.
   */
  read(): Promise<GetActivityRatesResponse>;
}

/**
 * The rates reader for the Prometheus at `prometheusUrl` (Config.consolePrometheusUrl: checked
 * at start, no trailing slash); undefined: always NOT_CONFIGURED. `now` is for tests of the cache.
 */
export function createActivityRates(prometheusUrl: string | undefined, now: () => number = Date.now): ActivityRates {
  let cached: { at: number; answer: Promise<GetActivityRatesResponse> } | undefined;
  const fresh = async (base: string): Promise<GetActivityRatesResponse> => {
    const signal = AbortSignal.timeout(PROMETHEUS_TIMEOUT_MS);
    try {
      const [tokens, endpoint, rpc] = await Promise.all([
        query(base, ACTIVITY_QUERIES.tokensByGrantType, signal),
        query(base, ACTIVITY_QUERIES.tokenEndpointByStatus, signal),
        query(base, ACTIVITY_QUERIES.rpcByCode, signal),
      ]);
      return figures(tokens, endpoint, rpc);
    } catch (err) {
      return GetActivityRatesResponse.fromPartial({
        state: ActivityRatesState.ACTIVITY_RATES_STATE_UNAVAILABLE,
        unavailableReason: err instanceof RatesUnavailable ? err.message : 'Prometheus could not be read',
        windowSeconds: RATE_WINDOW_SECONDS,
      });
    }
  };
  return {
    read() {
      if (prometheusUrl === undefined) {
        return Promise.resolve(
          GetActivityRatesResponse.fromPartial({
            state: ActivityRatesState.ACTIVITY_RATES_STATE_NOT_CONFIGURED,
            unavailableReason: 'no Prometheus is configured (AUTHMESH_CONSOLE_PROMETHEUS_URL)',
            windowSeconds: RATE_WINDOW_SECONDS,
          }),
        );
      }
      const t = now();
      if (cached === undefined || t - cached.at >= RATES_CACHE_MS || t < cached.at) cached = { at: t, answer: fresh(prometheusUrl) };
      return cached.answer;
    },
  };
}
