// Where the README-as-written tests run README's commands: the environment a reader has (no
// AUTHMESH_ or npm_ variable, no test runner's node_modules/.bin on PATH) and a private network
// namespace, so the commands' default ports (8080, 50051, 10000 …) are always free there.
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { delimiter } from 'node:path';

/** The user's PATH (without node_modules/.bin), HOME (npm's cache and config), locale, temp dir. */
export function readerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'USER', 'TERM']) if (process.env[k] !== undefined) env[k] = process.env[k]!;
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.includes(`node_modules${'/'}.bin`))
    .join(delimiter);
  return env;
}

const asRoot = process.getuid?.() === 0;
/** unshare arguments for a private network namespace (a user namespace too unless root). */
export const NS_FLAGS = asRoot ? ['--net'] : ['--user', '--map-root-user', '--net'];
/** nsenter arguments to join that namespace. */
export const NSENTER_FLAGS = asRoot ? ['--net'] : ['--user', '--net', '--preserve-credentials'];
/** Whether this machine lets us make such a namespace (with its loopback up). */
export const namespaces = spawnSync('unshare', [...NS_FLAGS, 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' }).status === 0;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Of `ports`, those busy on the host; none when a namespace will be used instead. */
export async function busyPorts(ports: number[]): Promise<number[]> {
  if (namespaces) return [];
  return (await Promise.all(ports.map(async (p) => ((await portFree(p)) ? undefined : p)))).filter((p): p is number => p !== undefined);
}
