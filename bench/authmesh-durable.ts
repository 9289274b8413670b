// authmesh in one process (`npm start`) on durable backends: a fresh database on the PostgreSQL
// server of BENCH_POSTGRES_URL and the Hazelcast cluster of BENCH_HAZELCAST_MEMBERS (a namespace
// of its own), instead of the embedded store and the in-process grid. What issue 12 target 5
// (refresh rotations/s durable on Postgres + Hazelcast) measures without a process per service;
// `npm run bench:stack` measures the same rows with one. The database is dropped on stop.
import { randomBytes } from 'node:crypto';
import { testDatabases } from '../test/support/databases.js';
import { startAuthmeshEmbedded, type EmbeddedOptions } from './authmesh-embedded.js';
import type { Target } from './target.js';

export interface DurableBackends {
  postgresUrl: string;
  hazelcastMembers: string;
}

/** The backends named by BENCH_POSTGRES_URL and BENCH_HAZELCAST_MEMBERS, or undefined when neither is set. @throws Error when only one is */
export function durableBackends(env: NodeJS.ProcessEnv = process.env): DurableBackends | undefined {
  const postgresUrl = env.BENCH_POSTGRES_URL || undefined;
  const hazelcastMembers = env.BENCH_HAZELCAST_MEMBERS || undefined;
  if (postgresUrl === undefined && hazelcastMembers === undefined) return undefined;
  if (postgresUrl === undefined || hazelcastMembers === undefined) {
    throw new Error('set both BENCH_POSTGRES_URL (scripts/postgres.sh url) and BENCH_HAZELCAST_MEMBERS (scripts/hazelcast.sh members), or neither');
  }
  return { postgresUrl, hazelcastMembers };
}

/**
 * Starts authmesh as `npm start` does (or with `options.command`, as bench:profile does), on a new
 * database of `backends.postgresUrl` and the Hazelcast cluster.
 */
export async function startAuthmeshDurable(backends: DurableBackends, options: Pick<EmbeddedOptions, 'command' | 'stopGraceMs' | 'label'> = {}): Promise<Target> {
  const databases = testDatabases('postgres', backends.postgresUrl);
  const url = await databases.create();
  try {
    const target = await startAuthmeshEmbedded({
      label: 'authmesh (one process, npm start, on Postgres + Hazelcast)',
      ...options,
      env: {
        AUTHMESH_STORE: 'postgres',
        AUTHMESH_DATABASE_URL: url,
        AUTHMESH_GRID: 'hazelcast',
        AUTHMESH_HAZELCAST_MEMBERS: backends.hazelcastMembers,
        AUTHMESH_GRID_NAMESPACE: `b${randomBytes(6).toString('hex')}`,
      },
    });
    return {
      ...target,
      async stop() {
        await target.stop();
        await databases.dropAll();
      },
    };
  } catch (err) {
    await databases.dropAll();
    throw err;
  }
}
