// Outside review (issue 12, client cache): the grid copy of a client must never be older than the
// store's record once every write is acknowledged. ReadThroughCache.put is a version-blind `set`,
// so two writes to one client (a secret rotation and an UpdateClient, or two rotations) whose grid
// puts land in the other order leave the OLDER record in the cache for its TTL (5 minutes): the
// rotated-out secret keeps authenticating and the new one is refused. A slow put (Hazelcast is a
// network round trip; an event loop under load) is all it takes; here the first put is held until
// the second write has been acknowledged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client as ClientMsg, ClientType, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import type { Grid, GridMap } from '../core/grid/index.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { uniqueId } from '../../test/support/ids.js';
import { createClientManager } from './client-manager.js';
import { draftOf } from './client-draft.js';

let t: TestMesh;
beforeAll(async () => {
  t = await startTestMesh();
});
afterAll(async () => {
  await t?.close();
});

/** The mesh's grid, except that the first `set` of `key` in cache:clients waits for `release`. */
function holdingFirstPut(grid: Grid, key: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const held = new Promise<void>((r) => (reached = r));
  let holding = true;
  const wrapped = new Proxy(grid, {
    get(target, prop, receiver) {
      if (prop !== 'map') return Reflect.get(target, prop, receiver);
      return (name: string) => {
        const map = target.map(name) as GridMap<unknown>;
        if (name !== 'cache:clients') return map;
        return new Proxy(map, {
          get(m, p, r) {
            if (p !== 'set') return Reflect.get(m, p, r);
            return async (k: string, v: unknown, ttl?: number) => {
              if (holding && k === key) {
                holding = false;
                reached();
                await released;
              }
              return m.set(k, v, ttl);
            };
          },
        });
      };
    },
  }) as Grid;
  return { grid: wrapped, held, release };
}

describe('client cache after concurrent writes (outside review)', () => {
  it('a rotated-out secret stops working and the new one works once both writes are acknowledged', async () => {
    const admin = await t.bearer();
    const clientId = uniqueId('race');
    const created = await t.anon.client.createClient(
      {
        client: ClientMsg.fromPartial({
          clientId,
          clientName: 'race',
          clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
          grantTypes: [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS],
          scopes: ['orders.read'],
        }),
      },
      { bearer: admin },
    );
    const oldSecret = created.clientSecret;
    const slow = holdingFirstPut(t.mesh.deps.grid, clientId);
    // Two managers on one grid, as two client-service instances of a stack would be.
    const renaming = createClientManager({ ...t.mesh.deps, grid: slow.grid });
    const rotating = createClientManager(t.mesh.deps);

    // An admin renames the client: the store write lands (version 2), its grid put is slow.
    const current = await t.store.clients.get(clientId);
    const rename = renaming.update(clientId, { ...draftOf(current), name: 'renamed' }, ['name'], '');
    await slow.held;
    // Meanwhile another admin rotates the secret: store (version 3) and grid, acknowledged.
    const { clientSecret: newSecret } = await rotating.rotateSecret(clientId, 0);
    // The rename's put lands afterwards; the rename is acknowledged too.
    slow.release();
    await rename;

    const stored = await t.store.clients.get(clientId);
    expect(stored.name).toBe('renamed');
    const secretAuth = (clientSecret: string) =>
      rotating.authenticate({ kind: 'secret', clientId, clientSecret, method: 'client_secret_basic' }).then(
        () => 'authenticated',
        () => 'refused',
      );
    // Both writes acknowledged: the store says version 3 with newSecret; so must every reader.
    expect({ newSecret: await secretAuth(newSecret), oldSecret: await secretAuth(oldSecret) }).toEqual({ newSecret: 'authenticated', oldSecret: 'refused' });
  });
});
