// The signing-key lifecycle: next → active → retired → deleted. A key is published in the JWKS
// one full rotation before it signs (verifiers with cached JWKS already know it), and a retired
// key stays published until every token it signed has expired.
import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import type { SigningAlg } from '../core/config/index.js';
import { NotFound } from '../core/errors/index.js';
import { createReadThroughCache, datesToJson, jsonWithDates, type Grid, type JsonValue } from '../core/grid/index.js';
import type { KeyStore } from '../core/store/key-store.js';
import type { SigningKey } from '../core/store/types.js';
import { decryptPrivateKey, encryptPrivateKey } from './key-crypto.js';
import { createSigner, type Signer } from './jws.js';

export interface KeyRingOptions {
  store: KeyStore;
  grid: Grid;
  masterKey: Buffer;
  defaultAlg: SigningAlg;
  /** How long a retired key stays published: the longest token lifetime plus clock skew. */
  retiredKeyTtlSeconds: number;
  now?: () => Date;
}

export interface KeyRing {
  /** Creates the active and next keys when missing. Safe to call on every start. */
  ensureReady(): Promise<void>;
  /** Keys to publish, active first: next, active and retired-but-not-expired. */
  published(): Promise<SigningKey[]>;
  list(): Promise<SigningKey[]>;
  get(kid: string): Promise<SigningKey>;
  rotate(alg?: SigningAlg): Promise<{ active: SigningKey; next: SigningKey; retired?: SigningKey }>;
  /** The signer of the active key. */
  signer(): Promise<Signer>;
}

const CACHE_KEY = 'all';
// The grid copy is shared by every key-service instance; a short local memo keeps a grid
// round trip off each signature. A rotation reaches other instances within this window, which
// is harmless because the promoted key was already published.
const LOCAL_MEMO_MS = 1_000;
const GRID_TTL_MS = 60_000;
const KEY_DATES = ['createdAt', 'activatedAt', 'retiredAt', 'deleteAfter'] as const;

export function createKeyRing(options: KeyRingOptions): KeyRing {
  const now = options.now ?? (() => new Date());
  const cache = createReadThroughCache<SigningKey[]>({
    grid: options.grid,
    name: 'keys',
    load: () => options.store.list(),
    toJson: datesToJson,
    fromJson: (json) => (json as JsonValue[]).map((k) => jsonWithDates<SigningKey>(k, KEY_DATES)),
    ttlMs: GRID_TTL_MS,
  });
  const signers = new Map<string, Signer>();
  let memo: { at: number; keys: SigningKey[] } | undefined;

  async function load(): Promise<SigningKey[]> {
    if (memo && Date.now() - memo.at < LOCAL_MEMO_MS) return memo.keys;
    const keys = (await cache.get(CACHE_KEY)) ?? [];
    memo = { at: Date.now(), keys };
    return keys;
  }

  async function refresh(): Promise<SigningKey[]> {
    const keys = await options.store.list();
    await cache.put(CACHE_KEY, keys);
    memo = { at: Date.now(), keys };
    return keys;
  }

  async function generate(alg: SigningAlg): Promise<SigningKey> {
    const { publicKey, privateKey } =
      alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : alg === 'RS256'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : generateKeyPairSync('ed25519');
    const pub = publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
    // RFC 7638 thumbprint as kid: stable, derived from the key, no coordination needed.
    const kid = await calculateJwkThumbprint(pub as never);
    const publicJwk = { ...pub, kid, use: 'sig', alg };
    const privateJwk = JSON.stringify(privateKey.export({ format: 'jwk' }));
    return options.store.create({
      kid,
      alg,
      publicJwk,
      encryptedPrivateKey: encryptPrivateKey(options.masterKey, kid, privateJwk),
      status: 'next',
      createdAt: now(),
    });
  }

  const byNewest = (a: SigningKey, b: SigningKey) => b.createdAt.getTime() - a.createdAt.getTime();
  const activeOf = (keys: SigningKey[]) => keys.filter((k) => k.status === 'active').sort(byNewest)[0];
  const nextOf = (keys: SigningKey[]) => keys.filter((k) => k.status === 'next').sort(byNewest)[0];

  const ring: KeyRing = {
    async ensureReady() {
      let keys = await refresh();
      if (!activeOf(keys)) {
        const first = nextOf(keys) ?? (await generate(options.defaultAlg));
        await options.store.setStatus(first.kid, 'active', now());
        keys = await refresh();
      }
      if (!nextOf(keys)) {
        await generate(options.defaultAlg);
        await refresh();
      }
    },

    async published() {
      const t = now().getTime();
      const keys = await load();
      const live = keys.filter((k) => k.status !== 'retired' || (k.deleteAfter?.getTime() ?? Infinity) > t);
      const rank = { active: 0, next: 1, retired: 2 } as const;
      return live.sort((a, b) => rank[a.status] - rank[b.status] || byNewest(a, b));
    },

    list: () => load(),

    async get(kid) {
      const key = (await load()).find((k) => k.kid === kid) ?? (await refresh()).find((k) => k.kid === kid);
      if (!key) throw new NotFound(`no signing key with kid ${kid}`);
      return key;
    },

    async rotate(alg) {
      const at = now();
      let keys = await refresh();
      const previous = activeOf(keys);
      const promoted = nextOf(keys) ?? (await generate(alg ?? options.defaultAlg));
      const active = await options.store.setStatus(promoted.kid, 'active', at);
      let retired: SigningKey | undefined;
      if (previous) {
        retired = await options.store.setStatus(previous.kid, 'retired', at, {
          deleteAfter: new Date(at.getTime() + options.retiredKeyTtlSeconds * 1000),
        });
      }
      const next = await generate(alg ?? options.defaultAlg);
      await options.store.deleteExpired(at);
      keys = await refresh();
      return { active, next, ...(retired ? { retired } : {}) };
    },

    async signer() {
      const active = activeOf(await load());
      if (!active) throw new Error('no active signing key: KeyRing.ensureReady() was not run');
      let s = signers.get(active.kid);
      if (!s) {
        const jwk = JSON.parse(decryptPrivateKey(options.masterKey, active.kid, active.encryptedPrivateKey)) as Record<string, unknown>;
        s = createSigner(active.kid, active.alg, jwk);
        signers.set(active.kid, s);
      }
      return s;
    },
  };
  return ring;
}
