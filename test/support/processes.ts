// Runs authmesh as separate processes, the way a deployment does (the compiled entry point,
// `node --enable-source-maps dist/services/main.js`, after `npm run build`), and waits until each
// reports where it listens.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot } from '../../services/core/rpc/index.js';

export interface AuthmeshProcess {
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  grpcPort: number;
  /** The gateway's base URL, when the process runs it. */
  http?: string;
  /** SIGTERM and wait for the exit status. */
  stop(): Promise<number | null>;
  /** SIGKILL to its whole process group: a crash, not a shutdown. */
  kill(): Promise<void>;
}

let built: Promise<unknown> | undefined;

/** `npm run build`, once per test worker (a rebuild of an unchanged tree writes nothing). */
export function buildOnce(): Promise<unknown> {
  built ??= promisify(execFile)(process.execPath, ['scripts/build.mjs'], { cwd: repoRoot });
  return built;
}

/**
 * Starts `node dist/services/main.js` of this checkout (built first), or of another built tree
 * (`cwd`: e.g. a previous commit's, which its caller builds), and waits for its start banner.
 */
export async function startAuthmesh(env: Record<string, string>, timeoutMs = 30_000, cwd?: string): Promise<AuthmeshProcess> {
  if (cwd === undefined) await buildOnce();
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/services/main.js'], {
    cwd: cwd ?? repoRoot,
    // No drain delay unless a test asks for one: nothing balances over these processes, and a
    // stop() would otherwise wait AUTHMESH_DRAIN_SECONDS (5 s for a split process) for nothing.
    env: { ...process.env, AUTHMESH_LOG_LEVEL: 'warn', AUTHMESH_DRAIN_SECONDS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that a kill takes down anything it started with it.
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
