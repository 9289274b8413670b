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

/**
 * The mesh's grid, except that the first write (set, putIfAbsent or replace) of `key` in
 * cache:clients waits for `release`: a slow grid round trip of one instance's put.
 */
function holdingFirstPut(grid: Grid, key: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const held = new Promise<void>((r) => (reached = r));
  let holding = true;
  const writes = new Set<PropertyKey>(['set', 'putIfAbsent', 'replace']);
  const wrapped = new Proxy(grid, {
    get(target, prop, receiver) {
      if (prop !== 'map') return Reflect.get(target, prop, receiver);
      return (name: string) => {
        const map = target.map(name) as GridMap<unknown>;
        if (name !== 'cache:clients') return map;
        return new Proxy(map, {
          get(m, p, r) {
            const method = Reflect.get(m, p, r) as unknown;
            if (!writes.has(p) || typeof method !== 'function') return method;
            return async (k: string, ...rest: unknown[]) => {
              if (holding && k === key) {
                holding = false;
                reached();
                await released;
              }
              return (method as (...a: unknown[]) => unknown).call(m, k, ...rest);
            };
          },
        });
      };
    },
  }) as Grid;
  return { grid: wrapped, held, release };
}

/** The mesh's store, except that the first clients.get of `key` waits for `release` after it read. */
function holdingFirstLoad(store: TestMesh['store'], key: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const held = new Promise<void>((r) => (reached = r));
  let holding = true;
  const clients = new Proxy(store.clients, {
    get(target, prop, receiver) {
      if (prop !== 'get') return Reflect.get(target, prop, receiver);
      return async (id: string) => {
        const record = await target.get(id);
        if (holding && id === key) {
          holding = false;
          reached();
          await released;
        }
        return record;
      };
    },
  });
  return { store: { ...store, clients }, held, release };
}

async function createConfidential(clientId: string): Promise<string> {
  const admin = await t.bearer();
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
  return created.clientSecret;
}

const secretAuth = (manager: ReturnType<typeof createClientManager>, clientId: string, clientSecret: string) =>
  manager.authenticate({ kind: 'secret', clientId, clientSecret, method: 'client_secret_basic' }).then(
    () => 'authenticated',
    () => 'refused',
  );

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
    // Both writes acknowledged: the store says version 3 with newSecret; so must every reader.
    expect({ newSecret: await secretAuth(rotating, clientId, newSecret), oldSecret: await secretAuth(rotating, clientId, oldSecret) }).toEqual({ newSecret: 'authenticated', oldSecret: 'refused' });
  });

  it('two rotations landing out of order: only the later secret authenticates', async () => {
    const clientId = uniqueId('race2');
    const original = await createConfidential(clientId);
    const slow = holdingFirstPut(t.mesh.deps.grid, clientId);
    const first = createClientManager({ ...t.mesh.deps, grid: slow.grid });
    const second = createClientManager(t.mesh.deps);
    // The first rotation's store write lands (version 2), its grid put is slow.
    const rotating = first.rotateSecret(clientId, 0);
    await slow.held;
    // The second rotation (version 3) is acknowledged, then the first one's put lands.
    const { clientSecret: latest } = await second.rotateSecret(clientId, 0);
    slow.release();
    const { clientSecret: overtaken } = await rotating;

    expect((await t.store.clients.get(clientId)).version).toBe(3);
    expect({
      latest: await secretAuth(second, clientId, latest),
      overtaken: await secretAuth(second, clientId, overtaken),
      original: await secretAuth(second, clientId, original),
    }).toEqual({ latest: 'authenticated', overtaken: 'refused', original: 'refused' });
  });

  it('a deleted client does not authenticate after a reader that loaded it before the delete fills the cache', async () => {
    const clientId = uniqueId('race3');
    const secret = await createConfidential(clientId);
    // The grid copy has expired (or was never written): the next reader reads the store.
    await t.mesh.deps.grid.map('cache:clients').delete(clientId);
    const slow = holdingFirstLoad(t.store, clientId);
    const reader = createClientManager({ ...t.mesh.deps, store: slow.store });
    const admin = createClientManager(t.mesh.deps);
    // The reader loaded the record, then stalls before its read-through fill.
    const reading = secretAuth(reader, clientId, secret);
    await slow.held;
    await admin.delete(clientId);
    slow.release();
    await reading;

    expect({ viaAdmin: await secretAuth(admin, clientId, secret), viaReader: await secretAuth(reader, clientId, secret) }).toEqual({
      viaAdmin: 'refused',
      viaReader: 'refused',
    });
  });
});
