// One round of chained HTTP load: each of `connections` workers sends a request, waits for the
// answer, and builds its next request from that answer (refresh-token rotation: each answer
// carries the token for the next request). Unlike autocannon, a round ends only between a
// worker's requests, never with one in flight, so no token is left spent-but-unknown: the
// chains carry on into the next round, and a spent token is never sent again (a replay revokes
// the whole family, RFC 9700 §4.14.2, which would measure that instead).
import { Agent, request } from 'node:http';
import { quantile } from './stats.js';
import type { RoundResult } from './round-result.js';

export interface ChainLoad {
  url: string;
  headers: Record<string, string>;
  /** The body of a worker's next request, or undefined when it has nothing left to send. */
  next(): string | undefined;
  /** Every answer (status and body), in order of arrival. */
  onResponse(status: number, body: string): void;
}

function post(agent: Agent, url: URL, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: 10_000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Runs `connections` chained workers over keep-alive connections for `seconds` s (each stops at
 * the first request it would start after the deadline, or when `next` has nothing). Any answer
 * other than 200, and any transport error, is an error. Latencies in ms.
 */
export async function chainRound(load: ChainLoad, seconds: number, connections: number): Promise<RoundResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL(load.url);
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const body = load.next();
      if (body === undefined) {
        errors += 1;
        return;
      }
      const t = performance.now();
      try {
        const res = await post(agent, url, load.headers, body);
        load.onResponse(res.status, res.body);
        if (res.status !== 200) errors += 1;
      } catch {
        errors += 1;
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const round2 = (n: number) => Math.round(n * 100) / 100;
  return { requests: latencies.length, rps: latencies.length / elapsed, p50: round2(quantile(latencies, 0.5)), p99: round2(quantile(latencies, 0.99)), errors };
}
