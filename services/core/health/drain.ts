// Graceful drain of one process (issue 18): the order that lets a rolling restart lose no call.
//   1. notServing(): every health answer says NOT_SERVING (gRPC per-service names and `readiness`,
//      GET /readyz 503), so Envoy's active health checks take the instance out of rotation.
//   2. The drain delay: the process still serves everything that arrives meanwhile (calls Envoy or
//      a peer sent before it noticed), for `delayMs`.
//   3. close(): the listeners stop accepting; calls in flight finish (each server bounds this and
//      then cancels what is left: RpcServer.shutdown's grace, fastify's close).

export interface DrainSteps {
  /** Step 1: mark every health answer of this process NOT_SERVING. Synchronous. */
  notServing(): void;
  /** Step 2: how long to keep serving after that, ms (AUTHMESH_DRAIN_SECONDS × 1000; 0 = none). */
  delayMs: number;
  /** Step 3: stop accepting, let in-flight calls finish (bounded by the servers themselves). */
  close(): Promise<void>;
  /** Told when each step begins, for the log line and for tests. */
  onStep?: (step: 'not_serving' | 'delay' | 'close') => void;
}

/**
 * Runs the drain steps in order: NOT_SERVING, the delay while still serving, then close.
 *
 * @returns when close() resolved; rejects only if close() does.
 */
export async function drainProcess(steps: DrainSteps): Promise<void> {
  steps.onStep?.('not_serving');
  steps.notServing();
  if (steps.delayMs > 0) {
    steps.onStep?.('delay');
    await new Promise((resolve) => setTimeout(resolve, steps.delayMs));
  }
  steps.onStep?.('close');
  await steps.close();
}
