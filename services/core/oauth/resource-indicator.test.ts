import { describe, expect, it } from 'vitest';
import { ownApiScopes, scopeForResources, validateResourceIndicators } from './resource-indicator.js';

describe('validateResourceIndicators (RFC 8707 §2)', () => {
  it.each([
    [['https://api.example.com'], ['https://api.example.com']],
    [['https://api.example.com', 'https://api.example.com'], ['https://api.example.com']],
    [['https://a.example.com/x', '', 'urn:example:api'], ['https://a.example.com/x', 'urn:example:api']],
    [[], []],
  ])('accepts %j', (input, expected) => {
    expect(validateResourceIndicators(input)).toEqual(expected);
  });

  it.each([['api.example.com'], ['/relative'], ['https://api.example.com/#frag'], ['https://api.example.com#']])('rejects %s with invalid_target', (r) => {
    expect(() => validateResourceIndicators([r])).toThrow(expect.objectContaining({ code: 'invalid_target' }));
  });
});

describe('scopeForResources', () => {
  it.each([
    [{ granted: ['a', 'b'], offered: ['a', 'c'], explicit: false }, ['a']],
    [{ granted: ['a'], offered: ['a', 'c'], explicit: true }, ['a']],
    [{ granted: [], offered: ['a'], explicit: false }, []],
  ])('narrows %j', (input, expected) => {
    expect(scopeForResources(input)).toEqual(expected);
  });

  it('rejects an explicit scope the resource does not offer, naming it', () => {
    expect(() => scopeForResources({ granted: ['a', 'b'], offered: ['a'], explicit: true })).toThrow(
      expect.objectContaining({ code: 'invalid_scope', metadata: { scope: 'b' } }),
    );
  });
});

describe('ownApiScopes', () => {
  it("offers only authmesh's own scopes for the issuer as a resource", () => {
    expect(ownApiScopes(['read', 'authmesh.read', 'authmesh.admin', 'authmeshx', 'orders.read'])).toEqual(['authmesh.read', 'authmesh.admin']);
    expect(ownApiScopes(['read'])).toEqual([]);
  });
});
