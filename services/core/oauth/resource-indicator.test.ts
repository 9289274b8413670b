import { describe, expect, it } from 'vitest';
import {
  authorizedTargets,
  MAX_AUTHORIZATION_RESOURCES,
  MAX_RESOURCE_LENGTH,
  ownApiScopes,
  scopeForAuthorizedResources,
  scopeForResources,
  validateAuthorizationResources,
  validateResourceIndicators,
} from './resource-indicator.js';

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
  it("offers authmesh's own scopes and the user scopes UserInfo serves for the issuer as a resource", () => {
    expect(ownApiScopes(['read', 'authmesh.read', 'authmesh.admin', 'authmeshx', 'orders.read'])).toEqual(['authmesh.read', 'authmesh.admin']);
    expect(ownApiScopes(['read'])).toEqual([]);
    // OIDC Core §5.3: UserInfo is the issuer's API: openid and the claim scopes stay (and offline_access on the grant).
    expect(ownApiScopes(['openid', 'profile', 'email', 'offline_access', 'orders.read'])).toEqual(['openid', 'profile', 'email', 'offline_access']);
  });
});

const API = 'https://api.example.com';
const OTHER = 'https://other.example.com';

describe('validateAuthorizationResources (RFC 8707 §2.1)', () => {
  it.each([
    [[], []],
    [[API], [API]],
    [[API, '', API, OTHER], [API, OTHER]],
    [Array.from({ length: MAX_AUTHORIZATION_RESOURCES }, (_, i) => `${API}/${i}`), Array.from({ length: MAX_AUTHORIZATION_RESOURCES }, (_, i) => `${API}/${i}`)],
    [[`${API}/${'a'.repeat(MAX_RESOURCE_LENGTH - API.length - 1)}`], [`${API}/${'a'.repeat(MAX_RESOURCE_LENGTH - API.length - 1)}`]],
  ])('accepts %#', (input, expected) => {
    expect(validateAuthorizationResources(input)).toEqual(expected);
  });

  it.each([
    ['too_many_resources', Array.from({ length: MAX_AUTHORIZATION_RESOURCES + 1 }, (_, i) => `${API}/${i}`), 'invalid_request'],
    ['resource_too_long', [`${API}/${'a'.repeat(MAX_RESOURCE_LENGTH)}`], 'invalid_request'],
    ['relative_resource', ['/orders'], 'invalid_target'],
    ['resource_with_fragment', [`${API}#x`], 'invalid_target'],
    ['one_bad_among_good', [API, 'orders'], 'invalid_target'],
  ])('%s is refused with %s', (_name, input, code) => {
    expect(() => validateAuthorizationResources(input)).toThrow(expect.objectContaining({ code }));
  });
});

describe('authorizedTargets (RFC 8707 §2.2 after §2.1)', () => {
  it.each([
    ['no resource at the token endpoint: every authorized one', [API, OTHER], [], [API, OTHER]],
    ['one of them', [API, OTHER], [OTHER], [OTHER]],
    ['all of them, in the token request order', [API, OTHER], [OTHER, API], [OTHER, API]],
  ])('%s', (_name, authorized, requested, expected) => {
    expect(authorizedTargets(authorized, requested)).toEqual(expected);
  });

  it.each([
    ['code_resource_outside_grant', [API], [OTHER]],
    ['one_outside_among_inside', [API], [API, OTHER]],
  ])('%s is invalid_target', (_name, authorized, requested) => {
    expect(() => authorizedTargets(authorized, requested)).toThrow(expect.objectContaining({ code: 'invalid_target' }));
  });
});

describe('scopeForAuthorizedResources (RFC 8707 §2.1)', () => {
  it.each([
    ['keeps what the resources offer', ['orders.read', 'billing.read'], ['orders.read'], ['orders.read']],
    ['keeps the user scopes (openid, offline_access, claim scopes)', ['openid', 'profile', 'offline_access', 'orders.read', 'billing.read'], ['orders.read'], ['openid', 'profile', 'offline_access', 'orders.read']],
    ['an empty scope stays empty', [], ['orders.read'], []],
  ])('%s', (_name, scope, offered, expected) => {
    expect(scopeForAuthorizedResources({ scope, offered })).toEqual(expected);
  });

  it('scope_outside_resources: a requested scope none of the resources offers, and nothing else, is invalid_scope', () => {
    expect(() => scopeForAuthorizedResources({ scope: ['billing.read'], offered: ['orders.read'] })).toThrow(expect.objectContaining({ code: 'invalid_scope' }));
  });
});
