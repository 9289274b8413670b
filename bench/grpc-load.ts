// One round of gRPC load: `concurrency` calls in flight at all times over one channel (grpc-js
// multiplexes them on one HTTP/2 connection), for a fixed time and at most `maxCalls` calls.
import { quantile } from './stats.js';
import type { RoundResult } from './round-result.js';

/**
 * Calls `call` for `seconds` s with `concurrency` calls in flight, stopping early after
 * `maxCalls`. A rejected call is an error. Latencies in ms.
 */
export async function grpcRound(call: () => Promise<unknown>, seconds: number, concurrency: number, maxCalls = 2_000_000): Promise<RoundResult> {
  const latencies: number[] = [];
  let errors = 0;
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async () => {
    while (started < maxCalls && performance.now() < deadline) {
      started += 1;
      const t = performance.now();
      try {
        await call();
      } catch {
        errors += 1;
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const round2 = (n: number) => Math.round(n * 100) / 100;
  return { requests: latencies.length, rps: latencies.length / elapsed, p50: round2(quantile(latencies, 0.5)), p99: round2(quantile(latencies, 0.99)), errors };
}
