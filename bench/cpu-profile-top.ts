// Summarises a V8 CPU profile (`node --cpu-prof` writes *.cpuprofile): the top functions and the
// top modules by self time, for whoever works on the hot paths next.
//   npx tsx bench/cpu-profile-top.ts <file.cpuprofile> [count=10]
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './processes.js';

const repoUrl = `${pathToFileURL(repoRoot).href}/`;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  hitCount?: number;
}
export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a script URL belongs: a package name, a repository folder, or node's internals. */
export function moduleOf(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 14).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith(repoUrl)) return url.slice(repoUrl.length);
  return url;
}

/**
 * Self time in ms per function and per module, largest first. With `window` (ms from the
 * profile's start), only samples inside it count, e.g. the load phase without start-up.
 */
export function selfTimes(profile: Profile, window?: { fromMs: number; toMs: number }): { functions: Array<[string, number]>; modules: Array<[string, number]>; totalMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    const at = (t - profile.startTime) / 1000;
    if (window && (at < window.fromMs || at > window.toMs)) return;
    self.set(id, (self.get(id) ?? 0) + delta / 1000);
  });
  const fns = new Map<string, number>();
  const mods = new Map<string, number>();
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${moduleOf(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(name, (fns.get(name) ?? 0) + ms);
    mods.set(moduleOf(f.url), (mods.get(moduleOf(f.url)) ?? 0) + ms);
  }
  const sort = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  const totalMs = window ? window.toMs - window.fromMs : (profile.endTime - profile.startTime) / 1000;
  return { functions: sort(fns), modules: sort(mods), totalMs };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: npx tsx bench/cpu-profile-top.ts <file.cpuprofile> [count]');
    process.exit(2);
  }
  const count = Number(process.argv[3] ?? 10);
  const { functions, modules, totalMs } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile);
  const pct = (ms: number) => `${((ms / totalMs) * 100).toFixed(1)}%`;
  console.log(`profile: ${(totalMs / 1000).toFixed(1)} s\n\n| self ms | share | function |\n|---:|---:|---|`);
  for (const [name, ms] of functions.slice(0, count)) console.log(`| ${Math.round(ms)} | ${pct(ms)} | ${name} |`);
  console.log('\n| self ms | share | module |\n|---:|---:|---|');
  for (const [name, ms] of modules.slice(0, count)) console.log(`| ${Math.round(ms)} | ${pct(ms)} | ${name} |`);
}
