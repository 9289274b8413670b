// authmesh in stack mode, as CI runs it: scripts/stack.sh brings up PostgreSQL, a two-member
// Hazelcast cluster, the seven services each in its own process (or in the co-located groups of
// AUTHMESH_STACK_GROUPS, passed through), the gateway, the sample API and
// Envoy, all on ports of their own in a private stack directory, so a benchmark never touches a
// stack someone else runs. The benchmark then goes through Envoy (HTTP rows, gRPC Token) and to
// the token service's ext_authz Check (Envoy's own caller); `stop` runs `stack.sh down --all`
// for that directory only.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, freePortRange } from '../test/support/ports.js';
import { envWithoutStackSettings } from '../test/support/stack.js';
import { authmeshLoads } from './authmesh-loads.js';
import type { ExtraProcesses } from './harness.js';
import { repoRoot } from './processes.js';
import type { Target } from './target.js';

const run = promisify(execFile);

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

function pidIn(file: string): number[] {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? [pid] : [];
  } catch {
    return [];
  }
}

/** Brings the private stack up (minutes on a first run: Maven, initdb) and prepares its loads. */
export async function startAuthmeshStack(options: StackOptions): Promise<BenchStack> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'authmesh-bench-stack-'));
  // PostgreSQL runs as its own OS user when we are root: it must reach its directory under ours.
  chmodSync(dir, 0o755);
  // Nothing from the caller's AUTHMESH_*/HAZELCAST_* environment steers the private stack.
  const groups = (process.env.AUTHMESH_STACK_GROUPS ?? '').trim();
  const inherited = envWithoutStackSettings();
  const env: Record<string, string> = {
    ...inherited,
    AUTHMESH_STACK_DIR: dir,
    AUTHMESH_STACK_GRPC_PORT: String(await freePortRange(7)),
    AUTHMESH_HTTP_PORT: String(await freePort()),
    AUTHMESH_SAMPLE_API_PORT: String(await freePort()),
    AUTHMESH_ENVOY_PORT: String(await freePort()),
    AUTHMESH_ENVOY_ADMIN_PORT: String(await freePort()),
    AUTHMESH_STACK_METRICS_PORT: String(await freePortRange(8)),
    AUTHMESH_PG_PORT: String(await freePort()),
    HAZELCAST_PORT: String(await freePortRange(2)),
    AUTHMESH_LOG_LEVEL: 'warn',
    // The refresh row gets its refresh tokens from password grants of a trusted client.
    AUTHMESH_PASSWORD_GRANT: 'true',
    // Co-located service groups and extra node flags (scripts/stack.sh): the AUTHMESH_* settings that pass through.
    ...(groups ? { AUTHMESH_STACK_GROUPS: groups } : {}),
    // Extra node flags for every service process (e.g. --cpu-prof for a profile of each service).
    ...(process.env.AUTHMESH_STACK_NODE_FLAGS ? { AUTHMESH_STACK_NODE_FLAGS: process.env.AUTHMESH_STACK_NODE_FLAGS } : {}),
  };
  // The shared Hazelcast jar, when there is one, spares a Maven fetch.
  const sharedJar = join(repoRoot, '.stack', 'hazelcast');
  if (existsSync(sharedJar)) {
    const jar = readdirSync(sharedJar).find((f) => /^hazelcast-[\d.]+\.jar$/.test(f));
    if (jar) {
      await run('mkdir', ['-p', join(dir, 'hazelcast')]);
      await run('cp', [join(sharedJar, jar), join(dir, 'hazelcast', jar)]);
    }
  }
  const stackSh = join(repoRoot, 'scripts', 'stack.sh');
  const down = async () => {
    if (options.keep) {
      options.log(`leaving the stack in ${dir} running (stop it: AUTHMESH_STACK_DIR=${dir} … scripts/stack.sh down --all)`);
      return;
    }
    try {
      await run(stackSh, ['down', '--all'], { cwd: repoRoot, env, maxBuffer: 1 << 24 });
    } catch (err) {
      options.log(`stack.sh down --all failed: ${String(err)}`);
    }
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
  };
  options.log(`scripts/stack.sh up in ${dir}`);
  try {
    await run(stackSh, ['up'], { cwd: repoRoot, env, maxBuffer: 1 << 24, timeout: 900_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    await down();
    throw new Error(`scripts/stack.sh up failed:\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
  try {
    const { stdout } = await run(stackSh, ['env'], { cwd: repoRoot, env });
    const vars = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'(.*)'$/, '$1')]));
    const at = await authmeshLoads({
      http: vars.AUTHMESH_URL!,
      tokenGrpc: vars.AUTHMESH_ADDR!,
      checkGrpc: vars.AUTHMESH_CHECK_ADDR!,
      adminClientId: vars.AUTHMESH_CLIENT_ID!,
      adminClientSecret: vars.AUTHMESH_CLIENT_SECRET!,
    });
    const state = join(dir, 'authmesh');
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
