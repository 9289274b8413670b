// Which peer servers a run starts (BENCH_PEERS): node-oidc-provider always by default, Ory Hydra
// by default when `scripts/peers.sh hydra install` has built it. A peer named explicitly that is
// not installed stops the run with what to do, rather than silently measuring less.
import type { BenchConfig } from './config.js';
import { hydraBinary, startHydra } from './hydra-target.js';
import { startPeer } from './peer-target.js';
import type { Target } from './target.js';

/** The starters of the peers `config` asks for, in the order they start. */
export async function peerStarters(config: BenchConfig, log: (line: string) => void): Promise<Array<() => Promise<Target>>> {
  const hydra = await hydraBinary();
  const wanted = config.peers ?? [...(config.peer ? (['oidc-provider'] as const) : []), ...(hydra ? (['hydra'] as const) : [])];
  if (config.peers === undefined && !hydra) log('Ory Hydra is not installed (scripts/peers.sh hydra install): its rows are left out');
  const starters: Array<() => Promise<Target>> = [];
  for (const name of wanted) {
    if (name === 'oidc-provider') starters.push(startPeer);
    if (name === 'hydra') {
      if (!hydra) throw new Error('BENCH_PEERS names hydra, which is not installed: run scripts/peers.sh hydra install (Go and a C compiler; a few minutes)');
      starters.push(() => startHydra(hydra));
    }
  }
  return starters;
}
