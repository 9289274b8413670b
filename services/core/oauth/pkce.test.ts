import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { InvalidGrant, InvalidRequest } from '../errors/index.js';
import { CODE_CHALLENGE_METHODS, computeS256Challenge, pkceDowngradeCheck, validateCodeChallenge, validateCodeVerifier, verifyPkce } from './pkce.js';

// RFC 7636 Appendix B.
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('CODE_CHALLENGE_METHODS', () => {
  it('offers S256 only', () => {
    expect(CODE_CHALLENGE_METHODS).toEqual(['S256']);
  });
});

describe('computeS256Challenge', () => {
  it('matches the RFC 7636 Appendix B example', () => {
    expect(computeS256Challenge(VERIFIER)).toBe(CHALLENGE);
  });
});

describe('validateCodeChallenge', () => {
  it.each([
    ['the RFC example', CHALLENGE],
    ['all-dash', '-'.repeat(43)],
    ['all-underscore', '_'.repeat(43)],
  ])('accepts an S256 challenge: %s', (_name, challenge) => {
    expect(validateCodeChallenge(challenge, 'S256')).toBe('S256');
  });

  it.each([
    ['absent method (plain by default)', CHALLENGE, undefined],
    ['empty method (plain by default)', CHALLENGE, ''],
    ['plain', CHALLENGE, 'plain'],
    ['lowercase s256', CHALLENGE, 's256'],
    ['unknown method', CHALLENGE, 'S512'],
    ['too short', CHALLENGE.slice(0, 42), 'S256'],
    ['too long', `${CHALLENGE}A`, 'S256'],
    ['padding', `${CHALLENGE.slice(0, 42)}=`, 'S256'],
    ['standard base64 characters', `${CHALLENGE.slice(0, 41)}+/`, 'S256'],
    ['empty', '', 'S256'],
    ['a verifier-length value', VERIFIER + VERIFIER, 'S256'],
  ])('rejects %s with invalid_request', (_name, challenge, method) => {
    const err = thrown(() => validateCodeChallenge(challenge, method));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.code).toBe('invalid_request');
  });
});

describe('validateCodeVerifier', () => {
  it.each([
    ['the RFC example', VERIFIER],
    ['43 characters', 'a'.repeat(43)],
    ['128 characters', 'Z'.repeat(128)],
    ['every unreserved character', `${'A'.repeat(39)}-._~`],
  ])('accepts %s', (_name, verifier) => {
    expect(() => validateCodeVerifier(verifier)).not.toThrow();
  });

  it.each([
    ['42 characters', 'a'.repeat(42)],
    ['129 characters', 'a'.repeat(129)],
    ['empty', ''],
    ['a space', `${'a'.repeat(42)} `],
    ['a plus', `${'a'.repeat(42)}+`],
    ['a slash', `${'a'.repeat(42)}/`],
    ['padding', `${'a'.repeat(42)}=`],
    ['non-ASCII', `${'a'.repeat(42)}é`],
  ])('rejects %s with invalid_grant', (_name, verifier) => {
    const err = thrown(() => validateCodeVerifier(verifier));
    expect(err).toBeInstanceOf(InvalidGrant);
    expect(err.code).toBe('invalid_grant');
  });
});

describe('verifyPkce', () => {
  it('accepts the verifier that produced the challenge', () => {
    expect(() => verifyPkce({ verifier: VERIFIER, challenge: CHALLENGE, method: 'S256' })).not.toThrow();
  });

  it.each([
    ['a different verifier', { verifier: 'a'.repeat(43), challenge: CHALLENGE, method: 'S256' }],
    ['the challenge as verifier', { verifier: CHALLENGE, challenge: CHALLENGE, method: 'S256' }],
    ['a malformed verifier', { verifier: 'short', challenge: CHALLENGE, method: 'S256' }],
    ['a plain-method code', { verifier: VERIFIER, challenge: VERIFIER, method: 'plain' }],
    ['a truncated stored challenge', { verifier: VERIFIER, challenge: CHALLENGE.slice(0, 40), method: 'S256' }],
  ])('rejects %s with invalid_grant', (_name, proof) => {
    const err = thrown(() => verifyPkce(proof));
    expect(err).toBeInstanceOf(InvalidGrant);
    expect(err.code).toBe('invalid_grant');
  });
});

describe('pkceDowngradeCheck', () => {
  it.each([
    ['code with challenge and matching verifier', { challenge: CHALLENGE, method: 'S256', verifier: VERIFIER }],
    ['code without challenge and no verifier', {}],
    ['code without challenge and an empty verifier', { verifier: '' }],
  ])('accepts %s', (_name, input) => {
    expect(() => pkceDowngradeCheck(input)).not.toThrow();
  });

  it.each([
    ['code with challenge but no verifier', { challenge: CHALLENGE, method: 'S256' }],
    ['code with challenge and an empty verifier', { challenge: CHALLENGE, method: 'S256', verifier: '' }],
    ['code with challenge and a wrong verifier', { challenge: CHALLENGE, method: 'S256', verifier: 'b'.repeat(43) }],
    ['code with challenge but no stored method', { challenge: CHALLENGE, verifier: VERIFIER }],
    ['code without challenge but a verifier (downgrade)', { verifier: VERIFIER }],
  ])('rejects %s with invalid_grant', (_name, input) => {
    const err = thrown(() => pkceDowngradeCheck(input));
    expect(err).toBeInstanceOf(InvalidGrant);
    expect(err.code).toBe('invalid_grant');
  });
});
