// The grid this process uses, chosen by AUTHMESH_GRID. The Hazelcast client is loaded only when
// asked for, so embedded mode does not pay for it at start.
import { connect } from 'node:net';
import type { Config } from '../config/index.js';
import { StartupError, describeCause } from '../config/startup-error.js';
import type { Logger } from '../log/index.js';
import type { Grid } from './grid.js';
import { createMemoryGrid } from './memory-grid.js';

/**
 * The grid AUTHMESH_GRID selects: in-process, or a Hazelcast cluster (namespaced when
 * AUTHMESH_GRID_NAMESPACE is set).
 *
 * @throws StartupError (exit status 1) when no Hazelcast member answers, with what each member
 *   address did on a plain TCP connect (refused, timed out, answered but not as this cluster).
 */
export async function createGridFromConfig(
  config: Pick<Config, 'grid' | 'hazelcastMembers' | 'hazelcastCluster' | 'gridNamespace'>,
  log?: Logger,
): Promise<Grid> {
  if (config.grid === 'memory') return createMemoryGrid();
  const { createHazelcastGrid } = await import('./hazelcast-grid.js');
  let grid: Grid;
  try {
    grid = await createHazelcastGrid({ members: config.hazelcastMembers, clusterName: config.hazelcastCluster, log });
  } catch (err) {
    const probes = await Promise.all(config.hazelcastMembers.map(async (m) => `${m} ${await probeTcp(m)}`));
    throw new StartupError({
      failed: `cannot join the Hazelcast cluster "${config.hazelcastCluster}" at ${config.hazelcastMembers.join(', ')}`,
      reason: `${describeCause(err)}; ${probes.join('; ')}`,
      fix: 'start the cluster (scripts/hazelcast.sh up), or set AUTHMESH_HAZELCAST_MEMBERS to reachable members and AUTHMESH_HAZELCAST_CLUSTER to their cluster name (or AUTHMESH_GRID=memory for one process)',
      exitCode: 1,
    });
  }
  log?.info({ members: config.hazelcastMembers, cluster: config.hazelcastCluster, namespace: config.gridNamespace }, 'grid: Hazelcast cluster');
  return config.gridNamespace ? namespacedGrid(grid, config.gridNamespace) : grid;
}

/**
 * Keeps two deployments that share one cluster apart: every map name gets "@<namespace>" (a
 * suffix, so hazelcast.xml's per-map settings, written as "codes*" and "cache:*", still apply).
 * Without it, one deployment would read another's cached clients and signing keys.
 */
export function namespacedGrid(grid: Grid, namespace: string): Grid {
  return {
    map: <V>(name: string) => grid.map<V>(`${name}@${namespace}`),
    ping: () => grid.ping(),
    close: () => grid.close(),
  };
}

/** What a TCP connect to `host:port` does within 2 s, in words: the errno, or that it answered. */
function probeTcp(member: string): Promise<string> {
  const m = /^\[?(.+?)\]?:(\d+)$/.exec(member);
  if (!m) return Promise.resolve('is not host:port');
  return new Promise((resolve) => {
    const socket = connect({ host: m[1]!, port: Number(m[2]) });
    const done = (text: string) => {
      socket.destroy();
      resolve(text);
    };
    socket.setTimeout(2_000, () => done('ETIMEDOUT (connection timed out)'));
    socket.once('connect', () => done('accepts connections (so the cluster name or the protocol does not match)'));
    socket.once('error', (err) => done(describeCause(err)));
  });
}
