import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, constantTimeEqualTo, generateCode, generateId, generateSecret, hashToken, randomIdentifier } from './secrets.js';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

describe('generated values', () => {
  it.each([
    ['generateSecret', generateSecret, 43],
    ['generateCode', generateCode, 43],
    ['generateId', () => generateId(), 22],
  ])('%s yields base64url of the expected length, unique on each call', (_name, generate, length) => {
    const values = new Set(Array.from({ length: 200 }, () => generate()));
    expect(values.size).toBe(200);
    for (const v of values) {
      expect(v).toMatch(BASE64URL);
      expect(v).toHaveLength(length);
    }
  });

  it('a secret carries at least 256 bits', () => {
    expect(Buffer.from(generateSecret(), 'base64url').length * 8).toBeGreaterThanOrEqual(256);
  });

  it.each([['cli'], ['rt'], ['a'], ['key2']])('generateId prefixes with %s_', (prefix) => {
    expect(generateId(prefix)).toMatch(new RegExp(`^${prefix}_[A-Za-z0-9_-]{22}$`));
  });

  it.each([[''], ['Cli'], ['1ab'], ['a_b'], ['a-b'], ['x'.repeat(17)]])('generateId refuses the prefix %j', (prefix) => {
    expect(() => generateId(prefix)).toThrow(TypeError);
  });
});

describe('hashToken', () => {
  it.each([
    ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
    ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ])('is SHA-256 hex of %j', (input, expected) => {
    expect(hashToken(input)).toBe(expected);
  });

  it('is deterministic and differs between tokens', () => {
    const a = generateCode();
    const b = generateCode();
    expect(hashToken(a)).toBe(hashToken(a));
    expect(hashToken(a)).not.toBe(hashToken(b));
    expect(hashToken(a)).toBe(createHash('sha256').update(a).digest('hex'));
  });
});

describe('constantTimeEqual', () => {
  it.each([
    ['equal strings', 'secret-value', 'secret-value', true],
    ['both empty', '', '', true],
    ['equal non-ASCII', 'é✓', 'é✓', true],
    ['different same-length strings', 'secret-value', 'secret-valuf', false],
    ['a prefix', 'secret', 'secret-value', false],
    ['longer first', 'secret-value!', 'secret-value', false],
    ['one empty', '', 'x', false],
    ['case differs', 'ABC', 'abc', false],
  ])('%s → %s', (_name, a, b, expected) => {
    expect(constantTimeEqual(a, b)).toBe(expected);
    // The precomputed form (the mesh credential's check) answers exactly as constantTimeEqual.
    expect(constantTimeEqualTo(b)(a)).toBe(expected);
  });
});

describe('randomIdentifier (pooled CSPRNG output for jti and ids)', () => {
  it('never repeats across pool refills: 3 pools worth of 16-byte ids are all distinct', () => {
    // 4 KiB pool ÷ 16 bytes = 256 ids per refill; 800 ids cross three refills.
    const ids = Array.from({ length: 800 }, () => randomIdentifier(16));
    expect(new Set(ids).size).toBe(800);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('hands out each pooled byte once, also for lengths that do not divide the pool', () => {
    const bytes = Array.from({ length: 300 }, () => Buffer.from(randomIdentifier(33), 'base64url'));
    for (const b of bytes) expect(b).toHaveLength(33);
    expect(new Set(bytes.map((b) => b.toString('hex'))).size).toBe(300);
  });

  it.each([[0], [257], [1.5], [-1], [Number.NaN]])('refuses a length of %s bytes', (n) => {
    expect(() => randomIdentifier(n)).toThrow(RangeError);
  });
});
