import { describe, expect, it } from 'vitest';
import { CURRENT_PARAMS, hashPassword, needsRehash, verifyPassword } from './password-hash.js';
import { assertPasswordPolicy } from './password-policy.js';

// Cheap parameters for the unit checks: verification honours whatever a hash was made with.
const CHEAP = { ln: 8, r: 8, p: 1 };

describe('password hashing', () => {
  it('produces a self-describing scrypt string at the current OWASP cost', async () => {
    expect(CURRENT_PARAMS).toEqual({ ln: 17, r: 8, p: 1 });
    const encoded = await hashPassword('correct horse battery staple');
    expect(encoded).toMatch(/^scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(encoded).not.toContain('correct horse');
    expect(await verifyPassword('correct horse battery staple', encoded)).toEqual({ ok: true, needsRehash: false });
  });

  it('salts every hash and verifies with the stored parameters', async () => {
    const [a, b] = await Promise.all([hashPassword('same password here', CHEAP), hashPassword('same password here', CHEAP)]);
    expect(a).not.toBe(b);
    expect(a.startsWith('scrypt$ln=8,r=8,p=1$')).toBe(true);
    expect((await verifyPassword('same password here', a)).ok).toBe(true);
    expect((await verifyPassword('same password herE', a)).ok).toBe(false);
  });

  it('asks for a rehash only after a successful check of a weaker hash', async () => {
    const weak = await hashPassword('upgrade me please', CHEAP);
    expect(needsRehash(weak)).toBe(true);
    expect(await verifyPassword('upgrade me please', weak)).toEqual({ ok: true, needsRehash: true });
    expect(await verifyPassword('wrong password!!', weak)).toEqual({ ok: false, needsRehash: false });
  });

  it('normalises (NFKC) so composed and decomposed input verify alike', async () => {
    const encoded = await hashPassword('caf\u00e9 au lait 2024', CHEAP);
    expect((await verifyPassword('cafe\u0301 au lait 2024', encoded)).ok).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['another scheme', '$2b$12$abcdefghijklmnopqrstuv'],
    ['missing hash', 'scrypt$ln=8,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA'],
    ['absurd cost', 'scrypt$ln=40,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['memory bomb', 'scrypt$ln=20,r=32,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['zero cost', 'scrypt$ln=0,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ])('never matches a malformed hash (%s) and never throws', async (_name, encoded) => {
    expect(await verifyPassword('anything at all', encoded)).toEqual({ ok: false, needsRehash: false });
  });

  it('refuses to hash with out-of-bounds parameters', async () => {
    await expect(hashPassword('x'.repeat(12), { ln: 30, r: 8, p: 1 })).rejects.toThrow(RangeError);
  });
});

describe('password policy (NIST SP 800-63B §5.1.1.2)', () => {
  it.each([
    ['', 'alice', 'password is required'],
    ['short pass', 'alice', 'at least 12 characters'],
    ['x'.repeat(1025), 'alice', 'at most 1024 characters'],
    ['Alice.Example', 'alice.example', 'must not be the username'],
  ])('refuses %j for %s', (password, username, message) => {
    expect(() => assertPasswordPolicy(password, username)).toThrow(expect.objectContaining({ code: 'invalid_request', description: expect.stringContaining(message) }));
  });

  it.each([
    ['twelve chars', 'alice'],
    ['x'.repeat(1024), 'alice'],
    // Characters, not UTF-16 units: 12 emoji are 12 characters.
    ['\u{1F600}'.repeat(12), 'alice'],
    ['no composition rules at all', 'bob'],
  ])('accepts %j', (password, username) => {
    expect(() => assertPasswordPolicy(password, username)).not.toThrow();
  });

  it('counts characters, so 11 emoji (22 UTF-16 units) are too short', () => {
    expect(() => assertPasswordPolicy('\u{1F600}'.repeat(11), 'alice')).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });
});
