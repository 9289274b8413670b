import { SignJWT, decodeProtectedHeader, generateKeyPair, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { InvalidToken, ServerError } from '../errors/index.js';
import {
  ACCESS_TOKEN_TYP,
  ALLOWED_ALGS,
  type BuildAccessTokenClaimsInput,
  accessTokenVerifyOptions,
  buildAccessTokenClaims,
  validateAccessTokenClaims,
  validateAccessTokenHeader,
} from './access-token-claims.js';

const ISSUER = 'https://auth.example.com';
const NOW = new Date('2030-01-01T00:00:00.000Z');
const T = Math.floor(NOW.getTime() / 1000);

const base: BuildAccessTokenClaimsInput = {
  issuer: ISSUER,
  subject: 'user-1',
  audience: 'https://api.example.com',
  clientId: 'spa',
  scope: ['read', 'write'],
  ttlSeconds: 300,
  now: NOW,
};

describe('constants', () => {
  it('uses at+jwt and an asymmetric allow-list', () => {
    expect(ACCESS_TOKEN_TYP).toBe('at+jwt');
    expect(ALLOWED_ALGS).toEqual(['ES256', 'RS256', 'EdDSA']);
  });
});

describe('buildAccessTokenClaims', () => {
  it('builds the RFC 9068 claim set', () => {
    expect(buildAccessTokenClaims({ ...base, jti: 'j1' })).toEqual({
      iss: ISSUER,
      sub: 'user-1',
      aud: 'https://api.example.com',
      exp: T + 300,
      iat: T,
      nbf: T,
      jti: 'j1',
      client_id: 'spa',
      scope: 'read write',
    });
  });

  it('generates a 128-bit base64url jti when none is given, unique per token', () => {
    const a = buildAccessTokenClaims(base).jti;
    const b = buildAccessTokenClaims(base).jti;
    expect(a).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a).not.toBe(b);
  });

  it.each<[string, Partial<BuildAccessTokenClaimsInput>, Record<string, unknown>]>([
    ['several audiences as an array', { audience: ['a', 'b', 'a'] }, { aud: ['a', 'b'] }],
    ['a one-element audience array as a string', { audience: ['a'] }, { aud: 'a' }],
    ['auth_time in seconds', { authTime: new Date(NOW.getTime() - 60_500) }, { auth_time: T - 61 }],
    ['a delegation chain', { act: { sub: 'svc-b', act: { sub: 'svc-a' } } }, { act: { sub: 'svc-b', act: { sub: 'svc-a' } } }],
    ['deduplicated scope', { scope: ['read', 'read'] }, { scope: 'read' }],
  ])('handles %s', (_name, override, expected) => {
    expect(buildAccessTokenClaims({ ...base, ...override })).toMatchObject(expected);
  });

  it.each<[string, Partial<BuildAccessTokenClaimsInput>, string]>([
    ['an empty scope', { scope: [] }, 'scope'],
    ['no authTime', {}, 'auth_time'],
    ['no act', {}, 'act'],
  ])('omits the claim for %s', (_name, override, claim) => {
    expect(buildAccessTokenClaims({ ...base, ...override })).not.toHaveProperty(claim);
  });

  it.each<[string, Partial<BuildAccessTokenClaimsInput>]>([
    ['a zero lifetime', { ttlSeconds: 0 }],
    ['a negative lifetime', { ttlSeconds: -5 }],
    ['a fractional lifetime', { ttlSeconds: 1.5 }],
    ['no audience', { audience: [] }],
  ])('refuses %s with server_error', (_name, override) => {
    const err = thrown(() => buildAccessTokenClaims({ ...base, ...override }));
    expect(err).toBeInstanceOf(ServerError);
    expect(err.code).toBe('server_error');
  });
});

describe('validateAccessTokenHeader', () => {
  it.each([
    ['ES256', { alg: 'ES256', typ: 'at+jwt', kid: 'k1' }],
    ['RS256', { alg: 'RS256', typ: 'at+jwt', kid: 'k1' }],
    ['EdDSA', { alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' }],
    ['the full media type', { alg: 'ES256', typ: 'application/at+jwt', kid: 'k1' }],
    ['an uppercase typ', { alg: 'ES256', typ: 'AT+JWT', kid: 'k1' }],
  ])('accepts %s', (_name, header) => {
    expect(validateAccessTokenHeader(header)).toBe(header.alg);
  });

  it.each([
    ['alg none', { alg: 'none', typ: 'at+jwt', kid: 'k1' }],
    ['HS256', { alg: 'HS256', typ: 'at+jwt', kid: 'k1' }],
    ['PS256 (not on the list)', { alg: 'PS256', typ: 'at+jwt', kid: 'k1' }],
    ['lowercase alg', { alg: 'es256', typ: 'at+jwt', kid: 'k1' }],
    ['no alg', { typ: 'at+jwt', kid: 'k1' }],
    ['typ JWT (e.g. an ID token)', { alg: 'ES256', typ: 'JWT', kid: 'k1' }],
    ['no typ', { alg: 'ES256', kid: 'k1' }],
    ['no kid', { alg: 'ES256', typ: 'at+jwt' }],
    ['an empty kid', { alg: 'ES256', typ: 'at+jwt', kid: '' }],
    ['a numeric kid', { alg: 'ES256', typ: 'at+jwt', kid: 1 }],
  ])('rejects %s with invalid_token', (_name, header) => {
    const err = thrown(() => validateAccessTokenHeader(header));
    expect(err).toBeInstanceOf(InvalidToken);
    expect(err.code).toBe('invalid_token');
  });
});

function actChain(depth: number): Record<string, unknown> {
  let act: Record<string, unknown> = { sub: 's1' };
  for (let i = 2; i <= depth; i += 1) act = { sub: `s${i}`, act };
  return act;
}

describe('validateAccessTokenClaims', () => {
  const valid = { ...buildAccessTokenClaims({ ...base, jti: 'j1', authTime: NOW, act: { sub: 'svc' } }) } as Record<string, unknown>;
  const opts = { issuer: ISSUER, audience: 'https://api.example.com', now: NOW, clockTolerance: 30 };

  it('returns the typed claims of a valid token', () => {
    expect(validateAccessTokenClaims(valid, opts)).toEqual(valid);
  });

  it.each<[string, Record<string, unknown>, Partial<typeof opts>]>([
    ['no audience expected', valid, { audience: undefined }],
    ['an audience array containing ours', { ...valid, aud: ['other', 'https://api.example.com'] }, {}],
    ['no scope', { ...valid, scope: undefined }, {}],
    ['no nbf', { ...valid, nbf: undefined }, {}],
    ['expiring within the tolerance', { ...valid, exp: T - 10 }, {}],
    ['issued slightly in the future within tolerance', { ...valid, iat: T + 20, nbf: T + 20 }, {}],
    ['a nested act chain', { ...valid, act: { sub: 'b', act: { sub: 'a' } } }, {}],
    ['an act chain at the depth limit', { ...valid, act: actChain(10) }, {}],
    ['a source jti chain', { ...valid, src_jti: ['a', 'b'] }, {}],
    ['a grant identifier', { ...valid, gid: 'fam_abc' }, {}],
  ])('accepts %s', (_name, payload, override) => {
    const clean = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
    expect(() => validateAccessTokenClaims(clean, { ...opts, ...override })).not.toThrow();
  });


  it.each<[string, Record<string, unknown>, Partial<typeof opts>]>([
    ['another issuer', { ...valid, iss: 'https://evil.example' }, {}],
    ['no issuer', { ...valid, iss: undefined }, {}],
    ['no sub', { ...valid, sub: undefined }, {}],
    ['an empty sub', { ...valid, sub: '' }, {}],
    ['a numeric sub', { ...valid, sub: 42 }, {}],
    ['no aud', { ...valid, aud: undefined }, {}],
    ['an empty aud array', { ...valid, aud: [] }, {}],
    ['a non-string aud', { ...valid, aud: [1] }, {}],
    ['another audience', { ...valid, aud: 'https://other.example' }, {}],
    ['an audience array without ours', { ...valid, aud: ['a', 'b'] }, {}],
    ['no exp', { ...valid, exp: undefined }, {}],
    ['a string exp', { ...valid, exp: String(T + 300) }, {}],
    ['expired beyond the tolerance', { ...valid, exp: T - 31 }, {}],
    ['expired exactly now without tolerance', { ...valid, exp: T }, { clockTolerance: 0 }],
    ['no iat', { ...valid, iat: undefined }, {}],
    ['iat in the future', { ...valid, iat: T + 120, nbf: T }, {}],
    ['nbf in the future', { ...valid, nbf: T + 120 }, {}],
    ['a string nbf', { ...valid, nbf: 'soon' }, {}],
    ['no jti', { ...valid, jti: undefined }, {}],
    ['no client_id', { ...valid, client_id: undefined }, {}],
    ['an array scope', { ...valid, scope: ['read'] }, {}],
    ['a malformed scope', { ...valid, scope: 'read  write' }, {}],
    ['a string auth_time', { ...valid, auth_time: 'yesterday' }, {}],
    ['an act without sub', { ...valid, act: { client_id: 'x' } }, {}],
    ['an act string', { ...valid, act: 'svc' }, {}],
    ['a nested act without sub', { ...valid, act: { sub: 'b', act: {} } }, {}],
    ['an act chain deeper than the limit', { ...valid, act: actChain(11) }, {}],
    ['a src_jti string', { ...valid, src_jti: 'a' }, {}],
    ['an empty src_jti', { ...valid, src_jti: [] }, {}],
    ['a src_jti with an empty id', { ...valid, src_jti: ['a', ''] }, {}],
    ['a src_jti longer than the act limit', { ...valid, src_jti: Array.from({ length: 11 }, (_, i) => `j${i}`) }, {}],
    // The gid is what a grant's revocation is checked by: a token with one that is not a string
    // (say an array naming another grant) must not verify as a token of no grant at all.
    ['an empty gid', { ...valid, gid: '' }, {}],
    ['an array gid', { ...valid, gid: ['fam_a'] }, {}],
    ['an over-long gid', { ...valid, gid: 'g'.repeat(256) }, {}],
  ])('rejects %s with invalid_token', (_name, payload, override) => {
    const clean = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
    const err = thrown(() => validateAccessTokenClaims(clean, { ...opts, ...override }));
    expect(err).toBeInstanceOf(InvalidToken);
    expect(err.code).toBe('invalid_token');
  });
});

describe('with jose', () => {
  it('a token signed with our claims and header verifies under accessTokenVerifyOptions', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const claims = buildAccessTokenClaims({ ...base, now: new Date() });
    const jwt = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', typ: ACCESS_TOKEN_TYP, kid: 'k1' }).sign(privateKey);
    expect(validateAccessTokenHeader(decodeProtectedHeader(jwt))).toBe('ES256');
    const { payload } = await jwtVerify(jwt, publicKey, accessTokenVerifyOptions(ISSUER, 'https://api.example.com'));
    expect(validateAccessTokenClaims(payload, { issuer: ISSUER, audience: 'https://api.example.com', now: new Date() })).toEqual(claims);
  });

  it.each([
    ['a JWT typ', { typ: 'JWT' }, ISSUER],
    ['another issuer', { typ: ACCESS_TOKEN_TYP }, 'https://other.example'],
  ])('jose refuses %s', async (_name, header, issuer) => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwt = await new SignJWT({ ...buildAccessTokenClaims({ ...base, now: new Date() }) }).setProtectedHeader({ alg: 'ES256', kid: 'k1', ...header }).sign(privateKey);
    await expect(jwtVerify(jwt, publicKey, accessTokenVerifyOptions(issuer))).rejects.toThrow();
  });

  it('jose refuses an HS256 token under our algorithm list', async () => {
    const secret = new TextEncoder().encode('a'.repeat(32));
    const jwt = await new SignJWT({ ...buildAccessTokenClaims({ ...base, now: new Date() }) }).setProtectedHeader({ alg: 'HS256', typ: ACCESS_TOKEN_TYP, kid: 'k1' }).sign(secret);
    await expect(jwtVerify(jwt, secret, accessTokenVerifyOptions(ISSUER))).rejects.toThrow(/alg/);
  });
});
