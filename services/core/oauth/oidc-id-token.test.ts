import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { atHash, buildIdTokenClaims, hashAlgorithmOf, idTokenHintSubject } from './oidc-id-token.js';

describe('atHash (OIDC Core §3.1.3.6)', () => {
  it('matches the OpenID Connect Core Appendix A example (RS256)', () => {
    expect(atHash('jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y', 'RS256')).toBe('77QmUPtjPfzWtF2AnpK9RQ');
  });

  it.each([
    ['ES256', 'sha256', 16],
    ['RS256', 'sha256', 16],
    ['PS256', 'sha256', 16],
    ['ES384', 'sha384', 24],
    ['RS512', 'sha512', 32],
    ['EdDSA', 'sha512', 32],
  ] as const)('%s: left half of %s, base64url', (alg, hash, bytes) => {
    const token = 'eyJ0eXAiOiJhdCtqd3QifQ.payload.signature';
    const expected = createHash(hash).update(token).digest().subarray(0, bytes).toString('base64url');
    expect(hashAlgorithmOf(alg)).toBe(hash);
    expect(atHash(token, alg)).toBe(expected);
  });

  it('refuses an alg without a defined hash', () => {
    expect(() => atHash('t', 'none')).toThrow(RangeError);
    expect(() => atHash('t', 'HS256x')).toThrow(RangeError);
  });
});

describe('buildIdTokenClaims (OIDC Core §2)', () => {
  const now = new Date('2026-11-30T12:00:00.900Z');
  const base = { issuer: 'https://as.example.com', subject: 'u1', clientId: 'c1', now, ttlSeconds: 300 };

  it('always carries iss, sub, aud=[client_id], azp, iat and exp in seconds', () => {
    expect(buildIdTokenClaims(base)).toEqual({ iss: 'https://as.example.com', sub: 'u1', aud: ['c1'], azp: 'c1', iat: 1_796_040_000, exp: 1_796_040_300 });
  });

  it('echoes the nonce exactly, and carries auth_time, at_hash, acr, amr and sid when known', () => {
    const claims = buildIdTokenClaims({
      ...base,
      authTime: new Date('2026-11-30T11:59:00.500Z'),
      nonce: 'n-0S6_WzA2Mj "quoted" ~',
      accessTokenHash: '77QmUPtjPfzWtF2AnpK9RQ',
      acr: '0',
      amr: ['pwd'],
      sid: 'abc',
    });
    expect(claims).toMatchObject({ auth_time: 1_796_039_940, nonce: 'n-0S6_WzA2Mj "quoted" ~', at_hash: '77QmUPtjPfzWtF2AnpK9RQ', acr: '0', amr: ['pwd'], sid: 'abc' });
  });

  it('leaves out what is empty: no nonce on a refreshed ID Token (OIDC Core §12.2)', () => {
    const claims = buildIdTokenClaims({ ...base, nonce: '', amr: [], sid: '', acr: '' });
    for (const name of ['nonce', 'amr', 'sid', 'acr', 'auth_time', 'at_hash']) expect(claims).not.toHaveProperty(name);
  });

  it.each([0, -1, 1.5, 3601])('refuses a ttl of %s', (ttlSeconds) => {
    expect(() => buildIdTokenClaims({ ...base, ttlSeconds })).toThrow(RangeError);
  });
});

describe('idTokenHintSubject (OIDC Core §3.1.2.1)', () => {
  const expected = { issuer: 'https://as.example.com', clientId: 'c1' };
  const good = { iss: 'https://as.example.com', sub: 'u1', aud: ['c1'], exp: 1, iat: 0 };

  it.each([
    ['an ID Token of ours for the client (expired: exp is not checked)', { typ: 'JWT' }, good],
    ['aud as a plain string', { typ: 'jwt' }, { ...good, aud: 'c1' }],
  ])('returns the sub of %s', (_name, header, payload) => {
    expect(idTokenHintSubject(header, payload, expected)).toBe('u1');
  });

  it.each<[string, { typ?: unknown }, Record<string, unknown>]>([
    ['an access token (typ at+jwt, RFC 9068)', { typ: 'at+jwt' }, good],
    ['a token without typ', {}, good],
    ['another issuer', { typ: 'JWT' }, { ...good, iss: 'https://evil.example.com' }],
    ['a token for another client', { typ: 'JWT' }, { ...good, aud: ['c2'] }],
    ['a token without sub', { typ: 'JWT' }, { ...good, sub: undefined }],
    ['a token with an empty sub', { typ: 'JWT' }, { ...good, sub: '' }],
    // OIDC Core §2: a signed UserInfo response (typ JWT, iss/aud/sub, no exp/iat) is no ID Token.
    ['a signed UserInfo response (no exp, no iat)', { typ: 'JWT' }, { iss: good.iss, sub: 'u1', aud: 'c1', email: 'a@example.com' }],
    ['a token without exp', { typ: 'JWT' }, { ...good, exp: undefined }],
    ['a token without iat', { typ: 'JWT' }, { ...good, iat: undefined }],
    ['a token whose iat is a string', { typ: 'JWT' }, { ...good, iat: '0' }],
    ['a sub longer than 255 characters', { typ: 'JWT' }, { ...good, sub: 'u'.repeat(256) }],
  ])('refuses %s as invalid_request', (_name, header, payload) => {
    expect(thrown(() => idTokenHintSubject(header, payload, expected)).code).toBe('invalid_request');
  });
});
