// The soak's fault schedule (issue 18): one fault at a time, spread over the run, each undone
// after a while, on a private stack (private-stack.ts). Every fault is recorded with its time so
// the verdict can put each failed request in its fault's window (invariants.ts).
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createPostgresStore } from '../../services/core/store/pg-store.js';
import type { FaultEvent } from './invariants.js';
import { missingWrites } from './setup.js';
import { repoRoot } from '../processes.js';
import { pidIn, type PrivateStack } from '../private-stack.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Fault {
  label: string;
  /** When, as a fraction of the run. */
  at: number;
  inject(stack: PrivateStack): Promise<void>;
  /** Undoes the fault, `holdMs` after it was injected (the process restarted, resumed…). */
  restore(stack: PrivateStack): Promise<void>;
  holdMs: number;
}

/** Processes the schedule stopped on purpose, by name (stackProcesses): a new pid for one of them at the end is not a crash. */
export const killedOnPurpose = new Set<string>();

const script = (name: string, stack: PrivateStack, args: string[]) =>
  run(join(repoRoot, 'scripts', name), args, { cwd: repoRoot, env: { ...stack.env, HAZELCAST_DIR: join(stack.dir, 'hazelcast') }, maxBuffer: 1 << 24, timeout: 300_000 });

/** The private stack's PostgreSQL URL (`scripts/postgres.sh url` in its environment). */
export async function stackPostgresUrl(stack: PrivateStack): Promise<string> {
  return (await script('postgres.sh', stack, ['url'])).stdout.trim();
}

/**
 * How many acknowledged writes the stack's own Postgres lacks: read back with the store code,
 * past every cache (review F9). Shared by the soak and the roll.
 */
export async function missingWritesInStack(stack: PrivateStack, acknowledged: { kind: 'client' | 'user'; id: string }[]): Promise<number> {
  const store = await createPostgresStore({ url: await stackPostgresUrl(stack), poolSize: 2 });
  try {
    return await missingWrites(store, acknowledged);
  } finally {
    await store.close();
  }
}

function signalProcess(stack: PrivateStack, name: string, signal: NodeJS.Signals): void {
  const [pid] = pidIn(join(stack.state, `${name}.pid`));
  if (pid === undefined) throw new Error(`no pid for ${name} in ${stack.state}`);
  if (signal === 'SIGKILL') killedOnPurpose.add(name);
  // Its whole session: stack.sh starts every process as a session leader (setsid).
  try {
    process.kill(-pid, signal);
  } catch {
    process.kill(pid, signal);
  }
}

/** The schedule: a Hazelcast member, a token and a gateway instance killed, Postgres restarted, a service paused past the deadlines. */
export function faultSchedule(durationMs: number): Fault[] {
  const hold = (share: number, min: number) => Math.max(min, Math.round(durationMs * share));
  return [
    {
      label: 'kill -9 hazelcast member 2',
      at: 0.1,
      holdMs: hold(0.08, 8_000),
      inject: async (s) => {
        killedOnPurpose.add('hazelcast-2');
        await script('hazelcast.sh', s, ['stop-member', '2', '--kill']);
      },
      restore: async (s) => void (await script('hazelcast.sh', s, ['start-member', '2'])),
    },
    {
      label: 'kill -9 token instance 2',
      at: 0.28,
      holdMs: 5_000,
      inject: async (s) => signalProcess(s, 'token-2', 'SIGKILL'),
      restore: async (s) => void (await s.stackSh(['up'], 300_000)),
    },
    {
      label: 'kill -9 gateway instance 2',
      at: 0.44,
      holdMs: 5_000,
      inject: async (s) => signalProcess(s, 'gateway-2', 'SIGKILL'),
      restore: async (s) => void (await s.stackSh(['up'], 300_000)),
    },
    {
      label: 'restart postgres',
      at: 0.6,
      holdMs: 0,
      inject: async (s) => {
        killedOnPurpose.add('postgres');
        await script('postgres.sh', s, ['down']);
      },
      restore: async (s) => void (await script('postgres.sh', s, ['up'])),
    },
    {
      label: 'SIGSTOP user service 8 s',
      at: 0.78,
      holdMs: 8_000,
      inject: async (s) => signalProcess(s, 'user', 'SIGSTOP'),
      restore: async (s) => signalProcess(s, 'user', 'SIGCONT'),
    },
  ];
}

/**
 * Runs `faults` against `stack` from `began` (ms since the epoch) over `durationMs`, one after
 * another; returns the faults injected, with their times. A fault that cannot be injected or
 * undone is reported through `log` and recorded with "(failed: …)" in its label.
 */
export async function runChaos(stack: PrivateStack, faults: Fault[], began: number, durationMs: number, log: (line: string) => void): Promise<FaultEvent[]> {
  const events: FaultEvent[] = [];
  for (const f of faults) {
    const wait = began + f.at * durationMs - Date.now();
    if (wait > 0) await sleep(wait);
    const at = Date.now();
    try {
      await f.inject(stack);
      events.push({ label: f.label, at });
      log(`fault: ${f.label}`);
      await sleep(f.holdMs);
      await f.restore(stack);
      log(`restored: ${f.label} (${Math.round((Date.now() - at) / 100) / 10} s)`);
    } catch (err) {
      events.push({ label: `${f.label} (failed: ${String((err as Error).message).split('\n')[0]?.slice(0, 80)})`, at });
      log(`fault ${f.label} failed: ${String(err)}`);
    }
  }
  return events;
}

/**
 * Every process of the stack with its pid and resident set size (KiB): the authmesh processes and
 * the sample API (stack.sh pid files), Envoy, PostgreSQL's postmaster and the Hazelcast members.
 */
export function stackProcesses(stack: PrivateStack): Map<string, { pid: number; rssKiB: number }> {
  const files: [string, string][] = [];
  try {
    for (const f of readdirSync(stack.state)) if (f.endsWith('.pid')) files.push([f.slice(0, -4), join(stack.state, f)]);
  } catch {
    // not up
  }
  files.push(['envoy', join(stack.dir, 'envoy', 'envoy.pid')], ['postgres', join(stack.dir, 'postgres', 'data', 'postmaster.pid')]);
  for (const n of [1, 2]) files.push([`hazelcast-${n}`, join(stack.dir, 'hazelcast', `member-${n}.pid`)]);
  const out = new Map<string, { pid: number; rssKiB: number }>();
  for (const [name, file] of files) {
    const [pid] = pidIn(file);
    if (pid === undefined) continue;
    try {
      const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      out.set(name, { pid, rssKiB: Number(rss?.[1] ?? 0) });
    } catch {
      // gone
    }
  }
  return out;
}

/** Processes that exited or were replaced during the run without the schedule killing them. */
export function crashedProcesses(before: Map<string, { pid: number }>, after: Map<string, { pid: number }>): string[] {
  return [...before].filter(([name, p]) => after.get(name)?.pid !== p.pid && !killedOnPurpose.has(name)).map(([name]) => name);
}
