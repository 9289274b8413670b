// Readiness: whether this process can do its work now, i.e. whether the store and the grid it
// holds answer. Liveness is the other question (does the event loop answer at all) and never
// looks at them: a database outage must take instances out of rotation, not get them restarted.
//
// A probe is cheap (SELECT 1, one grid read) but a burst of health checks (kubelet, Envoy, a
// load balancer, each on every instance) must not become a burst of database round trips: a
// result is reused for `cacheMs`, concurrent askers share one probe in flight, and each probe is
// bounded by `timeoutMs`.

/** What one dependency answered; never an address, a URL or an error text that might carry one. */
export type DependencyState = 'ok' | 'unreachable' | 'timeout';

export interface ReadinessReport {
  /** True when every dependency answered and the process is not draining. */
  ready: boolean;
  /** True once shutdown began: the process finishes running calls and takes no new ones. */
  draining: boolean;
  /** One entry per dependency, by name (`store`, `grid`). */
  checks: Record<string, DependencyState>;
}

export interface DependencyProbe {
  name: string;
  /** Resolves when the dependency answers; any rejection counts as unreachable. */
  check(): Promise<void>;
}

export interface ReadinessOptions {
  probes: DependencyProbe[];
  /** Longest a probe may take before it counts as `timeout`, ms. Default 1000. */
  timeoutMs?: number;
  /** How long a result is reused, ms. Default 1000. */
  cacheMs?: number;
  /**
   * When set, probes also run on this period (ms) in the background, so that push-style health
   * (gRPC health's status map, Watch) follows the dependencies without anyone asking.
   */
  intervalMs?: number;
  /** Told each time the overall readiness changes (and once after the first probe). */
  onChange?: (report: ReadinessReport) => void;
  now?: () => number;
}

export interface Readiness {
  /** The latest report, probing first when the cached one is older than cacheMs. Never rejects. */
  check(): Promise<ReadinessReport>;
  /** From now on the process is draining: every report says not ready (shutdown step one). */
  drain(): void;
  /** Stops the background probes. Idempotent. */
  close(): void;
}

/**
 * A readiness tracker over the given dependencies.
 *
 * @returns check() resolving to {ready, draining, checks}; with no probes (a gateway-only
 *   process holds no store or grid) ready is simply "not draining".
 */
export function createReadiness(options: ReadinessOptions): Readiness {
  const timeoutMs = options.timeoutMs ?? 1_000;
  const cacheMs = options.cacheMs ?? 1_000;
  const now = options.now ?? Date.now;
  let draining = false;
  let closed = false;
  let last: { at: number; checks: Record<string, DependencyState> } | undefined;
  let inFlight: Promise<Record<string, DependencyState>> | undefined;
  let lastReady: boolean | undefined;

  const report = (checks: Record<string, DependencyState>): ReadinessReport => ({
    ready: !draining && Object.values(checks).every((s) => s === 'ok'),
    draining,
    checks: { ...checks },
  });

  const notify = (checks: Record<string, DependencyState>) => {
    const r = report(checks);
    if (r.ready !== lastReady) {
      lastReady = r.ready;
      options.onChange?.(r);
    }
  };

  const probeOne = async (probe: DependencyProbe): Promise<DependencyState> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DependencyState>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      return await Promise.race([
        probe.check().then(
          () => 'ok' as const,
          () => 'unreachable' as const,
        ),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  const probeAll = (): Promise<Record<string, DependencyState>> => {
    inFlight ??= (async () => {
      try {
        const states = await Promise.all(options.probes.map(probeOne));
        const checks = Object.fromEntries(options.probes.map((p, i) => [p.name, states[i]!]));
        last = { at: now(), checks };
        notify(checks);
        return checks;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  const check = async (): Promise<ReadinessReport> => {
    if (last !== undefined && now() - last.at < cacheMs) return report(last.checks);
    return report(await probeAll());
  };

  let timer: NodeJS.Timeout | undefined;
  if (options.intervalMs !== undefined) {
    const tick = () => {
      if (closed) return;
      void probeAll().finally(() => {
        if (!closed) timer = setTimeout(tick, options.intervalMs).unref();
      });
    };
    tick();
  }

  return {
    check,
    drain() {
      draining = true;
      notify(last?.checks ?? {});
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
