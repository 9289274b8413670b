// AUTHMESH_AUDIT_SUCCESS and AUTHMESH_VERIFIED_TOKEN_CACHE (issue 12): defaults and refusals.
import { describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';
import { configProblems } from '../../../test/support/config.js';

describe('hot-path configuration', () => {
  it('writes no success audit rows and remembers 10,000 verified tokens by default', () => {
    const config = loadConfig({});
    expect(config.auditSuccess).toBe('off');
    expect(config.verifiedTokenCacheSize).toBe(10_000);
  });

  it.each(['all', 'sampled', 'off'] as const)('takes AUTHMESH_AUDIT_SUCCESS=%s', (value) => {
    expect(loadConfig({ AUTHMESH_AUDIT_SUCCESS: value }).auditSuccess).toBe(value);
  });

  it.each(['ALL', 'none', '1'])('refuses AUTHMESH_AUDIT_SUCCESS=%j with a clear message', (value) => {
    expect(configProblems({ AUTHMESH_AUDIT_SUCCESS: value })).toStrictEqual([`AUTHMESH_AUDIT_SUCCESS=${JSON.stringify(value)}: expected all, sampled, off`]);
  });

  it('takes AUTHMESH_VERIFIED_TOKEN_CACHE=0 (off) and sizes up to a million', () => {
    expect(loadConfig({ AUTHMESH_VERIFIED_TOKEN_CACHE: '0' }).verifiedTokenCacheSize).toBe(0);
    expect(loadConfig({ AUTHMESH_VERIFIED_TOKEN_CACHE: '1000000' }).verifiedTokenCacheSize).toBe(1_000_000);
  });

  it.each(['-1', '1000001', '10k', '1.5'])('refuses AUTHMESH_VERIFIED_TOKEN_CACHE=%j with a clear message', (value) => {
    expect(configProblems({ AUTHMESH_VERIFIED_TOKEN_CACHE: value })).toStrictEqual([`AUTHMESH_VERIFIED_TOKEN_CACHE=${JSON.stringify(value)}: expected a whole number from 0 to 1000000`]);
  });
});
