// A private scripts/stack.sh stack: its own directory and free ports, nothing inherited from the
// caller's AUTHMESH_*/HAZELCAST_* environment, so a benchmark or a soak never touches a stack
// someone else runs. bench:stack (authmesh-stack.ts) and the soak (soak.ts) start theirs here.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, freePortRange } from '../test/support/ports.js';
import { envWithoutStackSettings } from '../test/support/stack.js';
import { repoRoot } from './processes.js';

const run = promisify(execFile);

export interface PrivateStack {
  dir: string;
  /** Where stack.sh keeps pids, logs and secrets. */
  state: string;
  /** The environment every stack.sh call of this stack gets. */
  env: Record<string, string>;
  /** Runs `scripts/stack.sh <args>` (bounded by `timeoutMs`) and returns its stdout. */
  stackSh(args: string[], timeoutMs?: number): Promise<string>;
  /** `scripts/stack.sh env`, parsed. */
  vars(): Promise<Record<string, string>>;
  /** `stack.sh down --all`, and the directory removed unless the caller chose it or `keep`. */
  down(): Promise<void>;
}

/** The first pid in `file`, or none. */
export function pidIn(file: string): number[] {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? [pid] : [];
  } catch {
    return [];
  }
}

export async function preparePrivateStack(options: { dir?: string; keep?: boolean; env?: Record<string, string>; grpcPorts?: number; log: (line: string) => void }): Promise<PrivateStack> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'authmesh-private-stack-'));
  // PostgreSQL runs as its own OS user when we are root: it must reach its directory under ours.
  chmodSync(dir, 0o755);
  const env: Record<string, string> = {
    ...envWithoutStackSettings(),
    AUTHMESH_STACK_DIR: dir,
    AUTHMESH_STACK_GRPC_PORT: String(await freePortRange(options.grpcPorts ?? 7)),
    AUTHMESH_HTTP_PORT: String(await freePort()),
    AUTHMESH_SAMPLE_API_PORT: String(await freePort()),
    AUTHMESH_ENVOY_PORT: String(await freePort()),
    AUTHMESH_ENVOY_ADMIN_PORT: String(await freePort()),
    // Each authmesh process's Prometheus listener: 7 services, the gateway, up to 4 replicas.
    AUTHMESH_STACK_METRICS_PORT: String(await freePortRange(12)),
    AUTHMESH_PG_PORT: String(await freePort()),
    HAZELCAST_PORT: String(await freePortRange(2)),
    AUTHMESH_LOG_LEVEL: 'warn',
    ...options.env,
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
  const script = join(repoRoot, 'scripts', 'stack.sh');
  const stackSh = async (args: string[], timeoutMs = 900_000) => (await run(script, args, { cwd: repoRoot, env, maxBuffer: 1 << 24, timeout: timeoutMs })).stdout;
  return {
    dir,
    state: join(dir, 'authmesh'),
    env,
    stackSh,
    async vars() {
      const stdout = await stackSh(['env']);
      return Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.replace(/^'(.*)'$/, '$1')]));
    },
    async down() {
      if (options.keep) {
        options.log(`leaving the stack in ${dir} running (stop it: AUTHMESH_STACK_DIR=${dir} … scripts/stack.sh down --all)`);
        return;
      }
      try {
        await stackSh(['down', '--all'], 180_000);
      } catch (err) {
        options.log(`stack.sh down --all failed: ${String(err)}`);
      }
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
