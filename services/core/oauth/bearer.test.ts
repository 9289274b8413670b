import { describe, expect, it } from 'vitest';
import { bearerChallenge, dpopChallenge, parseBearer, quoteAuthParam } from './bearer.js';

describe('parseBearer (RFC 6750 §2.1)', () => {
  it.each([
    ['Bearer abc.def-ghi_jk~l+m/n==', 'abc.def-ghi_jk~l+m/n=='],
    ['bearer abc', 'abc'],
    ['BEARER   abc', 'abc'],
  ])('reads %j', (header, token) => {
    expect(parseBearer(header)).toBe(token);
  });

  it.each([[''], ['Bearer'], ['Bearer '], ['Basic abc'], ['Bearer a b'], ['Bearer abc '], ['Bearer a=b'], ['Bearerabc'], ['Bearer ab"c']])('refuses %j', (header) => {
    expect(parseBearer(header)).toBeUndefined();
  });
});

describe('bearerChallenge (RFC 6750 §3)', () => {
  it.each([
    [{ realm: 'https://as.example' }, 'Bearer realm="https://as.example"'],
    [{ realm: 'r', error: 'invalid_token', description: 'expired' }, 'Bearer realm="r", error="invalid_token", error_description="expired"'],
    [{ realm: 'r', error: 'invalid_token' }, 'Bearer realm="r", error="invalid_token", error_description=""'],
    [{ realm: 'r', error: 'insufficient_scope', description: 'd', scope: 'a b' }, 'Bearer realm="r", error="insufficient_scope", error_description="d", scope="a b"'],
    [{ realm: 'r', error: 'insufficient_scope', description: 'd', scope: '' }, 'Bearer realm="r", error="insufficient_scope", error_description="d"'],
    // RFC 9728 §5.1: resource_metadata rides along on every challenge, with or without an error.
    [{ realm: 'r', resourceMetadata: 'https://api.example/.well-known/oauth-protected-resource/v1' }, 'Bearer realm="r", resource_metadata="https://api.example/.well-known/oauth-protected-resource/v1"'],
    [
      { realm: 'r', error: 'insufficient_scope', description: 'd', scope: 's', resourceMetadata: 'https://a/.well-known/oauth-protected-resource' },
      'Bearer realm="r", error="insufficient_scope", error_description="d", scope="s", resource_metadata="https://a/.well-known/oauth-protected-resource"',
    ],
    [{ realm: 'r"x', error: 'invalid_token', description: 'a\\b\r\n"c' }, 'Bearer realm="r x", error="invalid_token", error_description="a b   c"'],
  ])('writes %j', (input, expected) => {
    expect(bearerChallenge(input)).toBe(expected);
  });

  it('never lets a quote or backslash through', () => {
    expect(quoteAuthParam('"\\')).toBe('  ');
  });
});

describe('dpopChallenge (RFC 9449 §7.1)', () => {
  it.each([
    [{ algs: ['ES256', 'EdDSA'] }, 'DPoP algs="ES256 EdDSA"'],
    [{ algs: ['ES256'], error: 'invalid_dpop_proof', description: 'replayed' }, 'DPoP error="invalid_dpop_proof", error_description="replayed", algs="ES256"'],
    [{ algs: ['ES256'], error: 'insufficient_scope', description: 'd', scope: 'a b' }, 'DPoP error="insufficient_scope", error_description="d", scope="a b", algs="ES256"'],
    [{ algs: ['ES256'], error: 'use_dpop_nonce', description: 'a"b' }, 'DPoP error="use_dpop_nonce", error_description="a b", algs="ES256"'],
  ])('writes %j', (input, expected) => {
    expect(dpopChallenge(input)).toBe(expected);
  });
});
