// One round of HTTP load with autocannon: a fixed number of keep-alive connections, one request in
// flight on each, for a fixed time (bounded in time; autocannon stops by itself).
import autocannon from 'autocannon';
import type { RoundResult } from './round-result.js';

export interface HttpLoad {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Headers chosen anew for every request (e.g. a different client's credentials each time). */
  perRequestHeaders?: () => Record<string, string>;
}

/**
 * Loads `load.url` for `seconds` s over `connections` connections. Every answer other than 200
 * counts as an error, as do connection errors and timeouts (10 s). Latencies in ms.
 */
export async function httpRound(load: HttpLoad, seconds: number, connections: number): Promise<RoundResult> {
  const base: autocannon.Options = {
    url: load.url,
    method: load.method ?? 'GET',
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    ...(load.headers ? { headers: load.headers } : {}),
    ...(load.body !== undefined ? { body: load.body } : {}),
  };
  const pick = load.perRequestHeaders;
  const r = await autocannon(pick ? { ...base, requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...pick() } }) }] } : base);
  const requests = r.requests.total;
  return {
    requests,
    rps: requests / seconds,
    p50: r.latency.p50,
    p99: r.latency.p99,
    // autocannon's errors already include its timeouts. A round in which no request completed
    // (each took longer than the round) is a failure too, never a quiet 0 req/s with 0 errors.
    errors: r.non2xx + r.errors + (requests === 0 ? 1 : 0),
  };
}
