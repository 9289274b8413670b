// The token service's DPoP state in the grid: a proof's jti is spent on every instance (RFC 9449
// §11.1) and the server nonce (§8) is shared and rotated through the grid. In memory for the
// rules; on a real Hazelcast cluster with two grid clients for the "every instance" part.
import { afterAll, describe, expect, it } from 'vitest';
import { createGridFromConfig, createMemoryGrid, type Grid } from '../core/grid/index.js';
import { loadConfig, type Config } from '../core/config/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { dpopKey } from '../../test/support/dpop.js';
import { hazelcastMembers } from '../../test/support/stack.js';
import type { ClientView } from './client-view.js';
import { createDpopBinding } from './dpop-binding.js';

const ISSUER = 'https://as.example.com';
const HTU = `${ISSUER}/oauth2/token`;
const client = { clientId: 'c1', clientType: 'public', dpopBoundAccessTokens: false } as ClientView;

function binding(grid: Grid, config: Config, now: () => Date = () => new Date()) {
  return createDpopBinding({ grid, config, now } as unknown as MeshDeps);
}

function config(env: Record<string, string> = {}): Config {
  return loadConfig({ AUTHMESH_ISSUER: ISSUER, AUTHMESH_DPOP_NONCE: 'true', AUTHMESH_DPOP_NONCE_PERIOD: '60', ...env });
}

async function nonceOf(p: Promise<unknown>): Promise<string> {
  const err = (await p.catch((e: unknown) => e)) as { code?: string; metadata?: Record<string, string> };
  expect(err.code).toBe('use_dpop_nonce');
  return err.metadata!.dpop_nonce!;
}

describe('DPoP binding on one grid', () => {
  const grid = createMemoryGrid();
  afterAll(() => grid.close());

  it('rotates the nonce each period and accepts the previous one for one more period (RFC 9449 §8)', async () => {
    let t = Date.parse('2026-11-30T12:00:00Z');
    const b = binding(grid, config(), () => new Date(t));
    const key = await dpopKey();
    const iat = () => Math.floor(t / 1000);
    const first = await nonceOf(b.check({ proof: await key.proof({ htu: HTU, iat: iat() }), htm: 'POST', htu: HTU }, client));
    expect((await b.check({ proof: await key.proof({ htu: HTU, iat: iat(), nonce: first }), htm: 'POST', htu: HTU }, client)).nonce).toBe(first);
    t += 60_000;
    // A new period: a new nonce is handed out, the previous one still works.
    const ok = await b.check({ proof: await key.proof({ htu: HTU, iat: iat(), nonce: first }), htm: 'POST', htu: HTU }, client);
    expect(ok.nonce).not.toBe(first);
    t += 60_000;
    // Two periods later the first nonce is refused, with the current one to use.
    const current = await nonceOf(b.check({ proof: await key.proof({ htu: HTU, iat: iat(), nonce: first }), htm: 'POST', htu: HTU }, client));
    expect(current).not.toBe(first);
  });
});

const hazelcast = hazelcastMembers();
describe.skipIf(hazelcast.skip !== undefined)('DPoP binding on a shared Hazelcast grid (two instances)', () => {
  it('a proof used on one instance is refused on the other, and a nonce from one is accepted by the other', async () => {
    const cfg = config({ AUTHMESH_GRID: 'hazelcast', AUTHMESH_HAZELCAST_MEMBERS: hazelcast.members!, AUTHMESH_GRID_NAMESPACE: `t${Math.random().toString(36).slice(2, 10)}` });
    const gridA = await createGridFromConfig(cfg);
    const gridB = await createGridFromConfig(cfg);
    try {
      const a = binding(gridA, cfg);
      const b = binding(gridB, cfg);
      const key = await dpopKey();
      const nonce = await nonceOf(a.check({ proof: await key.proof({ htu: HTU }), htm: 'POST', htu: HTU }, client));
      const proof = await key.proof({ htu: HTU, nonce });
      // B accepts the nonce A handed out.
      expect((await b.check({ proof, htm: 'POST', htu: HTU }, client)).jkt).toBe(key.jkt);
      // A refuses the proof B has just accepted.
      await expect(a.check({ proof, htm: 'POST', htu: HTU }, client)).rejects.toMatchObject({ code: 'invalid_dpop_proof', description: expect.stringContaining('already used') });
    } finally {
      await gridA.close();
      await gridB.close();
    }
  }, 60_000);
});
