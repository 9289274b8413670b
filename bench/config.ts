// The harness's settings, from the environment, checked once. One profile for a real run and a
// `smoke` profile (BENCH_PROFILE=smoke) that only proves every row works end to end.
//
//   BENCH_PROFILE      full (default) | smoke: smoke defaults to 1 round of 2 s after a 1 s warm-up
//   BENCH_ROUNDS       rounds per row; each round runs every side once, interleaved (default 5)
//   BENCH_SECONDS      seconds of load per side per round (default 10)
//   BENCH_WARMUP       seconds of unmeasured load per side before a row's first round (default 2)
//   BENCH_CONNECTIONS  concurrent connections (HTTP) or calls in flight (gRPC) (default 32)
//   BENCH_ROWS         comma-separated row ids to run (default all; ROW_IDS in bench/target.ts)
//   BENCH_JSON         also write the results as JSON to this file
//   BENCH_PEERS        comma-separated peers to run: oidc-provider, hydra, or none (default
//                      oidc-provider, plus hydra when scripts/peers.sh installed it). Naming hydra
//                      when it is not installed is an error, never a silent skip.
//   BENCH_PEER         0 to leave node-oidc-provider out of the default (kept for old commands)
//   BENCH_IDLE_SECONDS seconds the started servers sit before their idle RSS is read (default 2;
//                      V8's memory reducer shrinks an idle heap only after ~30 s: 40 reads that)

export interface BenchConfig {
  profile: 'full' | 'smoke';
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  rows: string[] | undefined;
  json: string | undefined;
  /** The peers to run; undefined = the default (oidc-provider, plus hydra when installed). */
  peers: PeerName[] | undefined;
  /** BENCH_PEER=0: leave node-oidc-provider out of the default set. */
  peer: boolean;
  /** Seconds between the last server's start and the idle RSS reading. */
  idleSeconds: number;
}

export const PEER_NAMES = ['oidc-provider', 'hydra'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/**
 * Reads the BENCH_* variables. Throws an Error listing every bad value (a number out of range, an
 * unknown profile), so a typo never silently becomes a default.
 */
export function benchConfig(env: NodeJS.ProcessEnv = process.env): BenchConfig {
  const problems: string[] = [];
  const profile = env.BENCH_PROFILE ?? 'full';
  if (profile !== 'full' && profile !== 'smoke') problems.push(`BENCH_PROFILE=${JSON.stringify(profile)}: expected full or smoke`);
  const smoke = profile === 'smoke';
  const num = (name: string, fallback: number, min: number, max: number, integer: boolean) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  let peers: PeerName[] | undefined;
  if (env.BENCH_PEERS !== undefined && env.BENCH_PEERS !== '') {
    const names = env.BENCH_PEERS.split(',').map((p) => p.trim()).filter(Boolean);
    const bad = names.filter((p) => p !== 'none' && !(PEER_NAMES as readonly string[]).includes(p));
    if (bad.length > 0) problems.push(`BENCH_PEERS=${JSON.stringify(env.BENCH_PEERS)}: unknown peer(s) ${bad.join(', ')}; expected ${PEER_NAMES.join(', ')} or none`);
    peers = [...new Set(names.filter((p): p is PeerName => p !== 'none' && (PEER_NAMES as readonly string[]).includes(p)))];
  }
  const config: BenchConfig = {
    profile: smoke ? 'smoke' : 'full',
    rounds: num('BENCH_ROUNDS', smoke ? 1 : 5, 1, 100, true),
    seconds: num('BENCH_SECONDS', smoke ? 2 : 10, 0.5, 600, false),
    warmupSeconds: num('BENCH_WARMUP', smoke ? 1 : 2, 0, 60, false),
    connections: num('BENCH_CONNECTIONS', 32, 1, 1024, true),
    rows: env.BENCH_ROWS ? env.BENCH_ROWS.split(',').map((r) => r.trim()).filter(Boolean) : undefined,
    json: env.BENCH_JSON || undefined,
    peers,
    peer: env.BENCH_PEER !== '0',
    idleSeconds: num('BENCH_IDLE_SECONDS', 2, 0, 300, false),
  };
  if (problems.length > 0) throw new Error(`bad benchmark settings:\n  ${problems.join('\n  ')}`);
  return config;
}
