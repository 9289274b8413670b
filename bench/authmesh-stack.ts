// authmesh in stack mode, as CI runs it: scripts/stack.sh brings up PostgreSQL, a two-member
// Hazelcast cluster, the seven services each in its own process (or in the co-located groups of
// AUTHMESH_STACK_GROUPS, passed through), the gateway, the sample API and
// Envoy, all on ports of their own in a private stack directory, so a benchmark never touches a
// stack someone else runs. The benchmark then goes through Envoy (HTTP rows, gRPC Token) and to
// the token service's ext_authz Check (Envoy's own caller); `stop` runs `stack.sh down --all`
// for that directory only.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { authmeshLoads } from './authmesh-loads.js';
import type { ExtraProcesses } from './harness.js';
import { pidIn, preparePrivateStack } from './private-stack.js';
import type { Target } from './target.js';

export interface StackOptions {
  /** Keep the stack directory here (default a temporary one, removed after). */
  dir?: string;
  /** Leave the stack running after the benchmark (BENCH_STACK_KEEP=1). */
  keep?: boolean;
  log: (line: string) => void;
}

export interface BenchStack {
  target: Target;
  /** Postgres, Hazelcast, Envoy and the sample API, reported for memory but not benchmarked. */
  extra: ExtraProcesses[];
}

/** Brings the private stack up (minutes on a first run: Maven, initdb) and prepares its loads. */
export async function startAuthmeshStack(options: StackOptions): Promise<BenchStack> {
  // Co-located service groups and extra node flags (scripts/stack.sh): the AUTHMESH_* settings that pass through.
  const groups = (process.env.AUTHMESH_STACK_GROUPS ?? '').trim();
  const stack = await preparePrivateStack({
    ...(options.dir ? { dir: options.dir } : {}),
    ...(options.keep ? { keep: true } : {}),
    log: options.log,
    env: {
      // The refresh row gets its refresh tokens from password grants of a trusted client.
      AUTHMESH_PASSWORD_GRANT: 'true',
      ...(groups ? { AUTHMESH_STACK_GROUPS: groups } : {}),
      // Extra node flags for every service process (e.g. --cpu-prof for a profile of each service).
      ...(process.env.AUTHMESH_STACK_NODE_FLAGS ? { AUTHMESH_STACK_NODE_FLAGS: process.env.AUTHMESH_STACK_NODE_FLAGS } : {}),
    },
  });
  const { dir, down } = stack;
  options.log(`scripts/stack.sh up in ${dir}`);
  try {
    await stack.stackSh(['up']);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    await down();
    throw new Error(`scripts/stack.sh up failed:\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
  try {
    const vars = await stack.vars();
    const at = await authmeshLoads({
      http: vars.AUTHMESH_URL!,
      tokenGrpc: vars.AUTHMESH_ADDR!,
      checkGrpc: vars.AUTHMESH_CHECK_ADDR!,
      adminClientId: vars.AUTHMESH_CLIENT_ID!,
      adminClientSecret: vars.AUTHMESH_CLIENT_SECRET!,
    });
    const state = stack.state;
    // One pid file per process: a service alone, the gateway, or a group (client+key+token.pid).
    const processes = (): [number, string][] => {
      let files: string[] = [];
      try {
        files = readdirSync(state).filter((f) => f.endsWith('.pid') && f !== 'sample-api.pid');
      } catch {
        return [];
      }
      return files.flatMap((f) => pidIn(join(state, f)).map((pid) => [pid, f.slice(0, -'.pid'.length)] as [number, string]));
    };
    const grouping = groups ? `groups ${groups.split(/[\s,]+/).filter(Boolean).join(', ')}, the rest alone` : 'each its own process';
    return {
      target: {
        side: 'authmesh',
        label: `authmesh (stack: 7 services + gateway, ${grouping}, Postgres, Hazelcast ×2, via Envoy)`,
        loads: at.loads,
        pids: () => processes().map(([pid]) => pid),
        processNames: () => new Map(processes()),
        async stop() {
          at.close();
          await down();
        },
      },
      extra: [
        { label: 'Envoy', pids: () => pidIn(join(dir, 'envoy', 'envoy.pid')) },
        { label: 'PostgreSQL', pids: () => pidIn(join(dir, 'postgres', 'data', 'postmaster.pid')) },
        { label: 'Hazelcast members', pids: () => [1, 2].flatMap((n) => pidIn(join(dir, 'hazelcast', `member-${n}.pid`))) },
        { label: 'sample API', pids: () => pidIn(join(state, 'sample-api.pid')) },
      ],
    };
  } catch (err) {
    await down();
    throw err;
  }
}
