// The grid this process uses, chosen by AUTHMESH_GRID. The Hazelcast client is loaded only when
// asked for, so embedded mode does not pay for it at start.
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { Grid } from './grid.js';
import { createMemoryGrid } from './memory-grid.js';

export async function createGridFromConfig(
  config: Pick<Config, 'grid' | 'hazelcastMembers' | 'hazelcastCluster' | 'gridNamespace'>,
  log?: Logger,
): Promise<Grid> {
  if (config.grid === 'memory') return createMemoryGrid();
  const { createHazelcastGrid } = await import('./hazelcast-grid.js');
  const grid = await createHazelcastGrid({ members: config.hazelcastMembers, clusterName: config.hazelcastCluster, log });
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
    close: () => grid.close(),
  };
}
