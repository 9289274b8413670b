// What one side measured in one round of one row.

export interface RoundResult {
  /** Completed requests or calls (successful or not) in the round. */
  requests: number;
  /** Completed requests per second over the round. */
  rps: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  /** Failed requests: transport errors, timeouts, and any status other than the expected one. */
  errors: number;
}
