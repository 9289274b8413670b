// Starting the servers under test as child processes of their own (each in its own process group,
// so stopping one takes its wrappers and children with it) and waiting until they say they listen.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..');

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  /** What the process printed so far (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves when the process exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns `command args` in `repoRoot` with `env` added to this process's environment, and waits
 * until its output matches `ready` (then returns the match too). Rejects, after killing the
 * group, when the process exits first or `timeoutMs` passes.
 */
export async function startServer(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 90_000,
): Promise<{ server: ServerProcess; match: RegExpExecArray }> {
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  const server: ServerProcess = {
    child,
    pid: child.pid!,
    output: () => out,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // A wrapper (tsx) may exit before its child: make sure nothing of the group is left.
      signal('SIGKILL');
    },
  };
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const fail = (why: string) => {
      clearInterval(poll);
      clearTimeout(timer);
      signal('SIGKILL');
      reject(new Error(`${name} ${why}:\n${out}`));
    };
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    const poll = setInterval(() => {
      const m = ready.exec(out);
      if (m) {
        clearInterval(poll);
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        resolve(m);
      }
    }, 50);
    const onExit = (code: number | null) => fail(`exited (${code}) before it was ready`);
    child.once('exit', onExit);
  });
  return { server, match };
}

/** `node --import tsx <file>`: one node process, no wrapper. */
export function tsxNode(file: string): [string, string[]] {
  return [process.execPath, ['--import', 'tsx', file]];
}
