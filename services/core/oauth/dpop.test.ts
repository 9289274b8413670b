import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuthmeshError } from '../errors/index.js';
import { dpopKey, type DpopKey, type ProofOptions } from '../../../test/support/dpop.js';
import {
  acceptedDpopNonces,
  accessTokenHash,
  assertAuthorizationCodeKey,
  assertBearerUsable,
  assertProofBindsToken,
  assertDpopPolicy,
  DPOP_SIGNING_ALGS,
  dpopReplayKey,
  dpopReplayTtlSeconds,
  MAX_DPOP_PROOF_LENGTH,
  nextDpopNonceState,
  normalizeHtu,
  parseDpopAuthorization,
  parseDpopJkt,
  resourceRequestHtu,
  edgeHosts,
  isHtuOnHosts,
  verifyDpopProof,
  type DpopProofOptions,
} from './dpop.js';

const HTU = 'https://as.example.com/oauth2/token';
const NOW = new Date('2026-11-30T12:00:00Z');
const T = Math.floor(NOW.getTime() / 1000);
const base: DpopProofOptions = { htm: 'POST', htu: HTU, now: NOW, maxAgeSeconds: 60, clockSkewSeconds: 5 };

async function rejection(p: Promise<unknown>): Promise<AuthmeshError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AuthmeshError) return err;
    throw err;
  }
  throw new Error('expected an AuthmeshError');
}

let key: DpopKey;
beforeAll(async () => {
  key = await dpopKey('ES256');
});

describe('verifyDpopProof', () => {
  it.each(['ES256', 'EdDSA', 'RS256', 'PS256'] as const)('accepts a valid %s proof and returns the RFC 7638 thumbprint as jkt', async (alg) => {
    const k = await dpopKey(alg);
    const v = await verifyDpopProof(await k.proof({ htu: HTU, iat: T, jti: 'j-1' }), base);
    expect(v).toMatchObject({ jkt: k.jkt, jti: 'j-1', iat: T });
  });

  it('matches the RFC 9449 §6.1 / RFC 7638 §3.1 thumbprint example', async () => {
    // RFC 7638 §3.1: the example RSA key's thumbprint.
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
    };
    const { dpopJwkThumbprint } = await import('./dpop.js');
    expect(await dpopJwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  const broken: [string, (o: ProofOptions) => ProofOptions, string][] = [
    ['a wrong htm (RFC 9449 §4.3 step 8)', (o) => ({ ...o, htm: 'GET' }), 'htm does not match'],
    ['a wrong htu (step 9)', (o) => ({ ...o, htu: 'https://as.example.com/oauth2/other' }), 'htu does not match'],
    ['an htu on another host (step 9)', (o) => ({ ...o, htu: 'https://evil.example.com/oauth2/token' }), 'htu does not match'],
    ['a stale iat (step 11)', (o) => ({ ...o, iat: T - 61 }), 'iat is too old'],
    ['an iat in the future beyond the skew (step 11)', (o) => ({ ...o, iat: T + 6 }), 'iat is in the future'],
    ['a wrong typ (step 4)', (o) => ({ ...o, typ: 'JWT' }), 'typ must be dpop+jwt'],
    ['no jti (step 3)', (o) => ({ ...o, omit: ['jti'] }), 'jti is required'],
    ['an unbounded jti', (o) => ({ ...o, jti: 'x'.repeat(257) }), 'jti is too long'],
    ['no htm (step 3)', (o) => ({ ...o, omit: ['htm'] }), 'htm and htu are required'],
    ['no iat (step 3)', (o) => ({ ...o, omit: ['iat'] }), 'iat is required'],
  ];
  it.each(broken)('refuses %s with invalid_dpop_proof', async (_name, change, why) => {
    const err = await rejection(verifyDpopProof(await key.proof(change({ htu: HTU, iat: T })), base));
    expect(err.code).toBe('invalid_dpop_proof');
    expect(err.description).toContain(why);
  });

  it.each([
    ['a query', `${HTU}?a=b`],
    ['a fragment', `${HTU}#frag`],
    ['an upper-case scheme and host', 'HTTPS://AS.EXAMPLE.COM/oauth2/token'],
    ['the default port', 'https://as.example.com:443/oauth2/token'],
  ])('accepts an htu that differs only by %s (RFC 9449 §4.3 step 9)', async (_n, htu) => {
    await expect(verifyDpopProof(await key.proof({ htu, iat: T }), base)).resolves.toMatchObject({ jkt: key.jkt });
  });

  it('accepts an iat within the past window and the future skew', async () => {
    await expect(verifyDpopProof(await key.proof({ htu: HTU, iat: T - 60 }), base)).resolves.toBeDefined();
    await expect(verifyDpopProof(await key.proof({ htu: HTU, iat: T + 5 }), base)).resolves.toBeDefined();
  });

  it('refuses a proof whose signature was made by another key than its jwk header', async () => {
    const other = await dpopKey('ES256');
    const err = await rejection(verifyDpopProof(await key.proof({ htu: HTU, iat: T, jwk: other.jwk }), base));
    expect(err.description).toContain('signature does not verify');
  });

  describe('dpop_refusal_names_its_cause: a refusal jose makes names what was wrong, not the signature (review F9)', () => {
    /** A proof with `claims` as its payload, properly signed by a fresh key whose public part is its jwk header. */
    const signed = async (claims: Record<string, unknown>, jwkOverride?: Record<string, unknown>) => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = jwkOverride ?? (await exportJWK(publicKey));
      return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: jwk as never }).sign(privateKey);
    };

    it.each([
      ['a string iat', { jti: 'j', htm: 'POST', htu: HTU, iat: String(T) }, 'the iat claim is not valid'],
      ['a string nbf', { jti: 'j', htm: 'POST', htu: HTU, iat: T, nbf: 'soon' }, 'the nbf claim is not valid'],
      ['an exp in the past', { jti: 'j', htm: 'POST', htu: HTU, iat: T, exp: T - 3600 }, 'the proof has expired (exp)'],
    ])('%s', async (_name, claims, why) => {
      const err = await rejection(verifyDpopProof(await signed(claims), base));
      expect(err.code).toBe('invalid_dpop_proof');
      expect(err.description).toContain(why);
      expect(err.description).not.toContain('signature');
    });

    it('a payload that is not a JSON object', async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })).toString('base64url');
      const payload = Buffer.from('[1,2,3]').toString('base64url');
      const { createSign, KeyObject } = await import('node:crypto');
      const der = createSign('SHA256').update(`${header}.${payload}`).sign({ key: KeyObject.from(privateKey as Parameters<typeof KeyObject.from>[0]), dsaEncoding: 'ieee-p1363' });
      const err = await rejection(verifyDpopProof(`${header}.${payload}.${der.toString('base64url')}`, base));
      expect(err.description).toContain('the proof payload is not a JSON object');
    });

    it('a jwk header that is not a usable key', async () => {
      const err = await rejection(verifyDpopProof(await signed({ jti: 'j', htm: 'POST', htu: HTU, iat: T }, { kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }), base));
      expect(err.description).toContain('the jwk header is not a valid key');
    });
  });

  it('refuses a jwk header carrying the private key (RFC 9449 §4.3 step 7)', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const priv = await exportJWK(privateKey);
    const proof = await new SignJWT({ jti: 'j', htm: 'POST', htu: HTU, iat: T }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: priv }).sign(privateKey);
    const err = await rejection(verifyDpopProof(proof, base));
    expect(err.description).toContain('must not contain a private key');
  });

  it('refuses a symmetric alg even with a matching oct key (RFC 9449 §4.3 step 5)', async () => {
    const secret = new Uint8Array(32).fill(7);
    const proof = await new SignJWT({ jti: 'j', htm: 'POST', htu: HTU, iat: T })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } as never })
      .sign(secret);
    expect((await rejection(verifyDpopProof(proof, base))).description).toContain('alg is not supported');
  });

  it('refuses alg none and garbage without parsing more than it must', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ jti: 'j', htm: 'POST', htu: HTU, iat: T })).toString('base64url');
    expect((await rejection(verifyDpopProof(`${header}.${payload}.`, base))).code).toBe('invalid_dpop_proof');
    expect((await rejection(verifyDpopProof('not-a-jwt', base))).code).toBe('invalid_dpop_proof');
    expect((await rejection(verifyDpopProof('', base))).code).toBe('invalid_dpop_proof');
    expect((await rejection(verifyDpopProof('a.b.c', base))).code).toBe('invalid_dpop_proof');
  });

  it('refuses a proof longer than MAX_DPOP_PROOF_LENGTH before parsing it', async () => {
    const err = await rejection(verifyDpopProof(`${'a'.repeat(MAX_DPOP_PROOF_LENGTH)}.b.c`, base));
    expect(err.description).toContain('too long');
  });

  describe('ath (RFC 9449 §4.3 step 12)', () => {
    it('accepts the hash of the presented access token', async () => {
      const proof = await key.proof({ htu: HTU, iat: T, accessToken: 'the-token' });
      await expect(verifyDpopProof(proof, { ...base, accessToken: 'the-token' })).resolves.toBeDefined();
    });
    it.each([
      ['another token', 'other-token'],
      ['no ath', undefined],
    ])('refuses %s', async (_n, signedFor) => {
      const proof = await key.proof({ htu: HTU, iat: T, accessToken: signedFor });
      expect((await rejection(verifyDpopProof(proof, { ...base, accessToken: 'the-token' }))).description).toContain('ath does not match');
    });
    it('matches the RFC 9449 §7.1 example hash', () => {
      expect(accessTokenHash('Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU')).toBe('fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo');
    });
  });

  describe('nonce (RFC 9449 §8)', () => {
    it.each([
      ['no nonce', undefined],
      ['an unknown nonce', 'stale'],
    ])('answers use_dpop_nonce for %s when nonces are required', async (_n, nonce) => {
      const err = await rejection(verifyDpopProof(await key.proof({ htu: HTU, iat: T, nonce }), { ...base, nonces: ['n-1', 'n-0'] }));
      expect(err.code).toBe('use_dpop_nonce');
    });
    it.each(['n-1', 'n-0'])('accepts the current or previous nonce %s', async (nonce) => {
      await expect(verifyDpopProof(await key.proof({ htu: HTU, iat: T, nonce }), { ...base, nonces: ['n-1', 'n-0'] })).resolves.toBeDefined();
    });
  });

  it('advertises asymmetric algorithms only', () => {
    expect((DPOP_SIGNING_ALGS as readonly string[]).some((a) => a === 'none' || a.startsWith('HS'))).toBe(false);
  });
});

describe('normalizeHtu', () => {
  it.each([
    ['https://AS.example.com', 'https://as.example.com/'],
    ['https://as.example.com:443/a/./b/../c?x#y', 'https://as.example.com/a/c'],
    ['http://as.example.com:80/t', 'http://as.example.com/t'],
    ['http://as.example.com:8080/t', 'http://as.example.com:8080/t'],
    // RFC 3986 §6.2.2.1-2: unreserved characters decoded, other encodings upper-cased and kept.
    ['https://as.example.com/oauth2/%74oken', 'https://as.example.com/oauth2/token'],
    ['https://as.example.com/a%2fb%7E', 'https://as.example.com/a%2Fb~'],
    ['https://as.example.com/%e2%82%ac', 'https://as.example.com/%E2%82%AC'],
  ])('%s -> %s', (input, out) => {
    expect(normalizeHtu(input)).toBe(out);
  });
  it.each(['', '/relative', 'ftp://as.example.com/t', 'https://user:pw@as.example.com/t', `https://a.example.com/${'x'.repeat(3000)}`])('refuses %j', (input) => {
    expect(normalizeHtu(input)).toBeUndefined();
  });
});

describe('replay window (RFC 9449 §11.1)', () => {
  it('remembers a jti for the whole window a proof is acceptable in', () => {
    expect(dpopReplayTtlSeconds(60, 5)).toBe(65);
  });
  it('keys the replay marker by key and jti', () => {
    expect(dpopReplayKey('k1', 'j')).not.toBe(dpopReplayKey('k2', 'j'));
    expect(dpopReplayKey('k1', 'j')).toBe(dpopReplayKey('k1', 'j'));
  });
});

describe('nextDpopNonceState (RFC 9449 §8)', () => {
  it.each([
    ['no state yet: issues one', undefined, 0, { current: 'fresh', previous: '', issuedAt: T }],
    ['within the period: keeps it', { current: 'a', previous: '', issuedAt: T - 299 }, 0, undefined],
    ['at the end of the period: rotates, keeping the old one as previous', { current: 'a', previous: 'z', issuedAt: T - 300 }, 0, { current: 'fresh', previous: 'a', issuedAt: T }],
    ['issued in the future (clock jump): rotates', { current: 'a', previous: '', issuedAt: T + 10 }, 0, { current: 'fresh', previous: 'a', issuedAt: T }],
  ])('%s', (_n, state, _x, expected) => {
    expect(nextDpopNonceState(state, NOW, 300, 'fresh')).toEqual(expected);
  });
  it('accepts the current and previous nonce, never an empty one', () => {
    expect(acceptedDpopNonces({ current: 'a', previous: '', issuedAt: T })).toEqual(['a']);
    expect(acceptedDpopNonces({ current: 'b', previous: 'a', issuedAt: T })).toEqual(['b', 'a']);
  });
});

describe('assertDpopPolicy (RFC 9449 §5.2)', () => {
  it('refuses a client registered with dpop_bound_access_tokens that sends no proof', () => {
    expect(() => assertDpopPolicy({ dpopBoundAccessTokens: true, proofPresented: false })).toThrow(/must present a DPoP proof/);
  });
  it.each([
    [true, true],
    [false, true],
    [false, false],
  ])('allows required=%s presented=%s', (required, presented) => {
    expect(() => assertDpopPolicy({ dpopBoundAccessTokens: required, proofPresented: presented })).not.toThrow();
  });
});

describe('assertBearerUsable (RFC 9449 §7.1)', () => {
  it('refuses a token with cnf.jkt as a Bearer token', () => {
    expect(() => assertBearerUsable({ cnf: { jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' } })).toThrow(/DPoP-bound/);
  });
  it('accepts an unbound token', () => {
    expect(() => assertBearerUsable({})).not.toThrow();
  });
});

describe('parseDpopAuthorization (RFC 9449 §7.1)', () => {
  it.each([
    ['DPoP abc.def-ghi_jk~l+m/n==', 'abc.def-ghi_jk~l+m/n=='],
    ['dpop abc', 'abc'],
    ['DPOP   abc', 'abc'],
  ])('reads %j', (header, token) => {
    expect(parseDpopAuthorization(header)).toBe(token);
  });
  it.each([[''], ['DPoP'], ['DPoP '], ['Bearer abc'], ['DPoP a b'], ['DPoPabc'], ['DPoP ab"c']])('refuses %j', (header) => {
    expect(parseDpopAuthorization(header)).toBeUndefined();
  });
});

describe('resourceRequestHtu (RFC 9449 §4.3 step 9, §7.1)', () => {
  it.each([
    [{ scheme: 'https', authority: 'API.example.com', path: '/a/b?x=1' }, 'https://api.example.com/a/b'],
    [{ scheme: 'HTTP', authority: 'api.example.com:80', path: '/a#f' }, 'http://api.example.com/a'],
    [{ scheme: 'https', authority: 'api.example.com:8443', path: '/a/../b' }, 'https://api.example.com:8443/b'],
  ])('builds %j', (target, htu) => {
    expect(resourceRequestHtu(target)).toBe(htu);
  });
  it.each([
    [{ scheme: 'ftp', authority: 'a', path: '/' }],
    [{ scheme: 'https', authority: '', path: '/' }],
    [{ scheme: 'https', authority: 'evil.example/x', path: '/' }],
    [{ scheme: 'https', authority: 'user@api.example', path: '/' }],
    [{ scheme: 'https', authority: 'api.example', path: 'relative' }],
  ])('refuses %j (no proof can match)', (target) => {
    expect(resourceRequestHtu(target)).toBeUndefined();
  });
});

describe('assertProofBindsToken (RFC 9449 §6.1, §7.1)', () => {
  const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
  it('accepts the proof of the key the token is bound to', () => {
    expect(() => assertProofBindsToken({ cnf: { jkt } }, jkt)).not.toThrow();
  });
  it('refuses a proof by another key with invalid_dpop_proof', () => {
    expect(() => assertProofBindsToken({ cnf: { jkt } }, 'x'.repeat(43))).toThrow(expect.objectContaining({ code: 'invalid_dpop_proof' }));
  });
  it('refuses an unbound token with invalid_token', () => {
    expect(() => assertProofBindsToken({}, jkt)).toThrow(expect.objectContaining({ code: 'invalid_token' }));
  });
});

describe('parseDpopJkt (RFC 9449 §10)', () => {
  it('reads a thumbprint and treats an empty value as absent', () => {
    expect(parseDpopJkt('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs')).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    expect(parseDpopJkt('')).toBeUndefined();
  });
  it.each([['short'], ['x'.repeat(44)], ['NzbLsXh8uDCcd+6MNwXF4W/7noWXFZAfHkxZsRGC9Xs']])('refuses %j with invalid_request', (v) => {
    expect(() => parseDpopJkt(v)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });
});

describe('assertAuthorizationCodeKey (RFC 9449 §10)', () => {
  const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
  it('accepts the bound key, and any request for an unbound code', () => {
    expect(() => assertAuthorizationCodeKey(jkt, jkt)).not.toThrow();
    expect(() => assertAuthorizationCodeKey(undefined, undefined)).not.toThrow();
    expect(() => assertAuthorizationCodeKey('', jkt)).not.toThrow();
  });
  it.each([[undefined], ['y'.repeat(43)]])('refuses presented key %j with invalid_grant', (presented) => {
    expect(() => assertAuthorizationCodeKey(jkt, presented)).toThrow(expect.objectContaining({ code: 'invalid_grant' }));
  });
});

describe('edgeHosts and isHtuOnHosts (RFC 9449 §4.3 step 9: the htu host is the server\'s, not the client\'s Host)', () => {
  const hosts = edgeHosts('https://auth.example.com', ['https://mtls.auth.example.com:8443', 'https://api.example.com/orders', 'orders-api', undefined]);
  it('collects the issuer, URL-shaped others (default ports dropped), and ignores identifiers that are not URLs', () => {
    expect([...hosts].sort()).toEqual(['api.example.com', 'auth.example.com', 'mtls.auth.example.com:8443']);
    expect([...edgeHosts('http://127.0.0.1:8080', ['https://x.example:443'])].sort()).toEqual(['127.0.0.1:8080', 'x.example']);
  });
  it.each<[string, boolean]>([
    ['https://api.example.com/orders/1', true],
    ['http://api.example.com/orders/1', true],
    ['https://API.example.com/orders/1', true],
    ['https://mtls.auth.example.com:8443/x', true],
    ['https://mtls.auth.example.com/x', false],
    ['https://rs1.example/orders/1', false],
    ['https://api.example.com.evil.example/orders/1', false],
    ['not a url', false],
  ])('%s → %s', (htu, expected) => {
    expect(isHtuOnHosts(htu, hosts)).toBe(expected);
  });
});
