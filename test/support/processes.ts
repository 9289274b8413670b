// Runs authmesh (`services/main.ts`) as separate processes, the way a deployment does, and
// waits until each reports where it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../services/core/rpc/index.js';

export interface AuthmeshProcess {
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  grpcPort: number;
  /** The gateway's base URL, when the process runs it. */
  http?: string;
  /** SIGTERM (tsx relays it to authmesh) and wait for the exit status. */
  stop(): Promise<number | null>;
  /** SIGKILL to tsx and authmesh both: a crash, not a shutdown. */
  kill(): Promise<void>;
}

export async function startAuthmesh(env: Record<string, string>, timeoutMs = 30_000): Promise<AuthmeshProcess> {
  const child = spawn(join(repoRoot, 'node_modules', '.bin', 'tsx'), ['services/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, AUTHMESH_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: tsx runs authmesh in a child node process, and a kill must take down
    // both (a SIGKILL to tsx alone would leave authmesh running as an orphan).
    detached: true,
  });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const wantsHttp = (env.AUTHMESH_SERVICES ?? 'gateway').includes('gateway');
  const grpcPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup();
      reject(new Error(`authmesh did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const poll = setInterval(() => {
      const m = /gRPC on [^\s:]+:(\d+)/.exec(out);
      if (m && (!wantsHttp || /HTTP on http:\/\/\S+/.test(out))) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`authmesh exited with ${code}:\n${out}`));
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    grpcPort,
    ...(wantsHttp ? { http: /HTTP on (http:\/\/\S+)/.exec(out)![1]! } : {}),
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      killGroup();
      await exited;
    },
  };
}
