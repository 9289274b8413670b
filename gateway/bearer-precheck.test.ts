// The bridge's stateless token check before reading a body: real ES256 keys and tokens.
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { buildAccessTokenClaims } from '../services/core/oauth/index.js';
import { createBearerPrecheck } from './bearer-precheck.js';

const ISSUER = 'https://as.example';

async function signingKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const sign = (over: { issuer?: string; ttlSeconds?: number; now?: Date; typ?: string } = {}) =>
    new SignJWT({ ...buildAccessTokenClaims({ issuer: over.issuer ?? ISSUER, subject: 's', audience: ISSUER, clientId: 'c', scope: ['authmesh.admin'], ttlSeconds: over.ttlSeconds ?? 300, now: over.now ?? new Date() }) })
      .setProtectedHeader({ alg: 'ES256', kid, typ: over.typ ?? 'at+jwt' })
      .sign(privateKey);
  return { jwk, sign };
}

describe('bearer pre-check (Connect bridge, before the body is read)', () => {
  it('accepts a live token of this issuer and refuses forged, expired, foreign and mistyped ones', async () => {
    const key = await signingKey('k1');
    const other = await signingKey('k1'); // same kid, different key: a forgery
    const precheck = createBearerPrecheck({ issuer: ISSUER, fetchJwks: async () => [key.jwk] });
    await expect(precheck.check(await key.sign())).resolves.toBeUndefined();
    for (const bad of [
      await other.sign(),
      await key.sign({ now: new Date(Date.now() - 3_600_000), ttlSeconds: 60 }),
      await key.sign({ issuer: 'https://elsewhere.example' }),
      await key.sign({ typ: 'JWT' }),
      'not.a.jwt',
      '',
    ]) {
      await expect(precheck.check(bad)).rejects.toMatchObject({ code: 'invalid_token' });
    }
  });

  it('fetches the keys again for an unknown kid (a rotation), at most once per interval', async () => {
    const first = await signingKey('k1');
    const rotated = await signingKey('k2');
    let published = [first.jwk];
    let fetches = 0;
    const precheck = createBearerPrecheck({ issuer: ISSUER, refetchIntervalMs: 0, fetchJwks: async () => (fetches++, published) });
    await precheck.check(await first.sign());
    published = [first.jwk, rotated.jwk];
    await expect(precheck.check(await rotated.sign())).resolves.toBeUndefined();
    expect(fetches).toBe(2);
    const slow = createBearerPrecheck({ issuer: ISSUER, refetchIntervalMs: 60_000, fetchJwks: async () => (fetches++, [first.jwk]) });
    await slow.check(await first.sign());
    const before = fetches;
    for (let i = 0; i < 5; i++) await expect(slow.check(await rotated.sign())).rejects.toMatchObject({ code: 'invalid_token' });
    expect(fetches).toBe(before); // forged kids do not make it fetch on every call
  });

  it('is temporarily_unavailable, not invalid_token, when no key could ever be fetched', async () => {
    const key = await signingKey('k1');
    const precheck = createBearerPrecheck({ issuer: ISSUER, fetchJwks: async () => Promise.reject(new Error('key service down')) });
    await expect(precheck.check(await key.sign())).rejects.toMatchObject({ code: 'temporarily_unavailable' });
  });
});
