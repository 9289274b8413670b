// The verified-token cache of the access-token verifier (issue 12): real ES256 signatures (jose),
// the real revocation list over the in-process grid and the embedded store. The clock is the
// verifier's `now` option, so expiry and JWKS ageing are exact without waiting.
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMesh, type TestMesh } from '../../../test/support/mesh.js';
import { createMemoryGrid } from '../grid/index.js';
import { buildAccessTokenClaims, type AccessTokenClaims } from '../oauth/index.js';
import { createAccessTokenVerifier, type AccessTokenVerifier } from './access-token-verifier.js';

const ISSUER = 'https://issuer.example';
const JWKS_TTL_MS = 60_000;

interface SigningKey {
  kid: string;
  jwk: JWK;
  privateKey: CryptoKey;
}

async function newKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { kid, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }, privateKey };
}

async function sign(key: SigningKey, claims: AccessTokenClaims): Promise<string> {
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: key.kid }).sign(key.privateKey);
}

let t: TestMesh;
beforeAll(async () => {
  // Only for its store: the durable half of the revocation list is the real embedded database.
  t = await startTestMesh();
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** A verifier with a clock and a JWKS the test controls. */
async function setup(options: { cacheSize?: number } = {}) {
  const clock = { ms: Date.UTC(2026, 0, 1, 12) };
  const key = await newKey('k1');
  const jwks = { keys: [key.jwk] };
  const verifier: AccessTokenVerifier = createAccessTokenVerifier({
    issuer: ISSUER,
    fetchJwks: async () => jwks.keys,
    grid: createMemoryGrid(),
    revocationStore: t.store.revocations,
    jwksTtlMs: JWKS_TTL_MS,
    refetchIntervalMs: 1_000,
    clockToleranceSeconds: 5,
    now: () => new Date(clock.ms),
    ...options,
  });
  const claims = (over: Partial<Parameters<typeof buildAccessTokenClaims>[0]> = {}) =>
    buildAccessTokenClaims({ issuer: ISSUER, subject: 'alice', audience: 'https://api.example', clientId: 'c1', scope: ['read'], ttlSeconds: 600, now: new Date(clock.ms), ...over });
  return { clock, key, jwks, verifier, claims };
}

describe('access-token verifier: verified-token cache', () => {
  it('answers a repeated verification of the same token from the cache, with the same claims', async () => {
    const { verifier, key, claims } = await setup();
    const token = await sign(key, claims());
    const first = await verifier.verify(token);
    const second = await verifier.verify(token);
    expect(second).toEqual(first);
    expect(verifier.cacheStats()).toMatchObject({ size: 1, hits: 1, misses: 1 });
  });

  it('revocation_is_honoured_on_the_next_call_after_a_cache_hit', async () => {
    const { verifier, key, claims } = await setup();
    const c = claims();
    const token = await sign(key, c);
    await verifier.verify(token);
    await verifier.verify(token);
    expect(verifier.cacheStats().hits).toBe(1);
    await verifier.revoke(c);
    // RFC 7009 §2.1: revoked means refused on the very next call, cached or not.
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token', description: 'the token has been revoked' });
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('an exchanged token served from the cache dies with the token it was exchanged from (src_jti)', async () => {
    const { verifier, key, claims } = await setup();
    const source = claims();
    const exchanged = await sign(key, claims({ sourceJtis: [source.jti], act: { sub: 'svc' } }));
    await verifier.verify(exchanged);
    await verifier.verify(exchanged);
    expect(verifier.cacheStats().hits).toBe(1);
    await verifier.revoke(source);
    await expect(verifier.verify(exchanged)).rejects.toMatchObject({ code: 'invalid_token', description: 'the token has been revoked' });
  });

  it('expired_token_is_refused_even_when_cached', async () => {
    const { verifier, key, claims, clock } = await setup();
    const c = claims({ ttlSeconds: 60 });
    const token = await sign(key, c);
    await verifier.verify(token);
    // At exp the cache no longer answers: the full verification decides (its clock tolerance)...
    clock.ms = c.exp * 1000;
    await verifier.verify(token);
    expect(verifier.cacheStats()).toMatchObject({ hits: 0, misses: 2 });
    // ...and past exp plus the tolerance it refuses, cached or not (RFC 7519 §4.1.4).
    clock.ms = (c.exp + 6) * 1000;
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
    expect(verifier.cacheStats().hits).toBe(0);
  });

  it('altered_token_is_not_served_from_the_cache', async () => {
    const { verifier, key, claims } = await setup();
    const token = await sign(key, claims());
    await verifier.verify(token);
    const [h, p, s] = token.split('.') as [string, string, string];
    // A different payload under the cached token's signature (a raised scope), a different header
    // (another kid), and a signature with one character changed: different bytes, so each gets a
    // full verification, which refuses it.
    const json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()) as Record<string, unknown>;
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const forgedPayload = encode({ ...json(p), scope: 'read admin' });
    const forgedHeader = encode({ ...json(h), kid: 'k9' });
    const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
    for (const altered of [`${h}.${forgedPayload}.${s}`, `${forgedHeader}.${p}.${s}`, `${h}.${p}.${flipped}`]) {
      await expect(verifier.verify(altered)).rejects.toMatchObject({ code: 'invalid_token' });
    }
    expect(verifier.cacheStats()).toMatchObject({ hits: 0, misses: 4, size: 1 });
  });

  it('verified_token_cache_is_bounded: at most cacheSize entries, the least recently used evicted first', async () => {
    const { verifier, key, claims } = await setup({ cacheSize: 3 });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => sign(key, claims())));
    for (const token of tokens) await verifier.verify(token);
    expect(verifier.cacheStats().size).toBe(3);
    // The last three are held; touching the oldest of them keeps it over the next newcomer.
    await verifier.verify(tokens[7]!);
    expect(verifier.cacheStats().hits).toBe(1);
    await verifier.verify(tokens[0]!);
    await verifier.verify(tokens[7]!);
    expect(verifier.cacheStats()).toMatchObject({ size: 3, hits: 2 });
    await verifier.verify(tokens[8]!);
    expect(verifier.cacheStats().hits).toBe(2);
  });

  it('a cache size of 0 turns the cache off', async () => {
    const { verifier, key, claims } = await setup({ cacheSize: 0 });
    const token = await sign(key, claims());
    await verifier.verify(token);
    await verifier.verify(token);
    expect(verifier.cacheStats()).toEqual({ size: 0, hits: 0, misses: 2 });
  });

  it('cached_token_of_a_removed_key_is_refused_when_the_verifier_would_refuse_it', async () => {
    const { verifier, key, claims, clock, jwks } = await setup();
    const token = await sign(key, claims({ ttlSeconds: 3600 }));
    await verifier.verify(token);
    const other = await newKey('k2');
    jwks.keys = [other.jwk];
    // Until the JWKS is fetched again, a full verification would still accept the token: so does the cache.
    clock.ms += JWKS_TTL_MS - 1;
    await verifier.verify(token);
    expect(verifier.cacheStats().hits).toBe(1);
    // Once the fetched JWKS is stale it is fetched again, and the kid is gone: refused, from the cache too.
    clock.ms += 2;
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token', description: 'the token was signed by an unknown key' });
    expect(verifier.cacheStats().size).toBe(0);
  });

  it('cached_token_is_not_served_when_its_kid_now_names_another_key', async () => {
    const { verifier, key, claims, clock, jwks } = await setup();
    const token = await sign(key, claims({ ttlSeconds: 3600 }));
    await verifier.verify(token);
    // The same kid, other key material (a key replaced in place): the signature no longer verifies.
    const replaced = await newKey('k1');
    jwks.keys = [replaced.jwk];
    clock.ms += JWKS_TTL_MS + 1;
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
    expect(verifier.cacheStats().hits).toBe(0);
  });

  it('an unchanged key survives a JWKS refresh: cached tokens keep being served without a new signature check', async () => {
    const { verifier, key, claims, clock } = await setup();
    const token = await sign(key, claims({ ttlSeconds: 3600 }));
    await verifier.verify(token);
    clock.ms += JWKS_TTL_MS + 1;
    await verifier.verify(token);
    expect(verifier.cacheStats()).toMatchObject({ hits: 1, misses: 1 });
  });

  it('hands out frozen claims, so no caller can change what the next caller is told', async () => {
    const { verifier, key, claims } = await setup();
    const token = await sign(key, claims({ act: { sub: 'svc' } }));
    const c = await verifier.verify(token);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.act)).toBe(true);
  });
});
