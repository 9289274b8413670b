// Resident memory of a server, counted over its whole process tree (Linux /proc): a server
// started through npm or tsx is a wrapper process plus the node process that serves, and both
// cost memory on the machine.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessRss {
  pid: number;
  /** The command line, shortened for a table. */
  command: string;
  /** Resident set size in MiB. */
  rssMiB: number;
  /** The root (one of `roots`) whose tree this process belongs to. */
  root: number;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: ppid is the second field after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return undefined;
  }
}

function rssMiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : undefined;
  } catch {
    return undefined;
  }
}

function commandOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const short = argv.map((a) => (a.includes('/') && !a.startsWith('-') ? a.split('/').slice(-2).join('/') : a));
    const line = short.join(' ');
    return line.length > 70 ? `${line.slice(0, 67)}...` : line;
  } catch {
    return '?';
  }
}

/**
 * Every live process in the trees rooted at `roots` (the roots and all their descendants), with
 * its RSS in MiB. Processes that exit while being read are left out. Linux only: elsewhere [].
 */
export function processTreeRss(roots: readonly number[]): ProcessRss[] {
  let pids: number[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const pid of pids) {
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: ProcessRss[] = [];
  const seen = new Set<number>();
  const walk = (pid: number, root: number) => {
    if (seen.has(pid)) return;
    seen.add(pid);
    const rss = rssMiB(pid);
    if (rss !== undefined) out.push({ pid, command: commandOf(pid), rssMiB: rss, root });
    for (const child of children.get(pid) ?? []) walk(child, root);
  };
  for (const root of roots) walk(root, root);
  return out;
}

/** The sum of `processes`' RSS in MiB, to one decimal. */
export function totalRss(processes: readonly ProcessRss[]): number {
  return Math.round(processes.reduce((sum, p) => sum + p.rssMiB, 0) * 10) / 10;
}
