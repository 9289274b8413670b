import { describe, expect, it } from 'vitest';
import { AuthmeshError } from '../errors/index.js';
import {
  decideAccess,
  endpointScopes,
  matchPathTemplate,
  normalizeRequestPath,
  validateEndpointRule,
  validatePathTemplate,
  type EndpointRule,
} from './endpoint-match.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof AuthmeshError) return err.code;
    throw err;
  }
  return undefined;
}

const ep = (method: string, path: string, scope = '', allowedClientIds: string[] = []): EndpointRule => ({ method, path, scope, allowedClientIds });

describe('validatePathTemplate', () => {
  it.each(['/', '/orders', '/orders/{id}', '/orders/{id}/items/{itemId}', '/files/**', '/**', '/v1/a:b', "/x-y_z.~!$&'()+,;=:@"])('accepts %s', (p) => {
    expect(codeOf(() => validatePathTemplate(p))).toBeUndefined();
  });
  it.each([
    ['no leading slash', 'orders'],
    ['empty', ''],
    ['empty segment', '/orders//x'],
    ['trailing slash', '/orders/'],
    ['** not last', '/files/**/x'],
    ['single *', '/files/*'],
    ['* in a literal', '/fi*les'],
    ['dot segment', '/a/../b'],
    ['single dot segment', '/a/./b'],
    ['percent', '/a%2Fb'],
    ['bad param name', '/orders/{1d}'],
    ['unclosed param', '/orders/{id'],
    ['partial param', '/orders/x{id}'],
    ['repeated param', '/a/{id}/b/{id}'],
    ['space', '/a b'],
    ['question mark', '/a?b'],
    ['too long', `/${'a'.repeat(1100)}`],
  ])('rejects %s', (_n, p) => {
    expect(codeOf(() => validatePathTemplate(p))).toBe('invalid_request');
  });
});

describe('validateEndpointRule', () => {
  it.each([
    ['GET', ep('GET', '/a')],
    ['*', ep('*', '/a')],
    ['custom method', ep('PROPFIND', '/a')],
    ['scope', ep('GET', '/a', 'orders.read')],
    ['allowed clients', ep('GET', '/a', '', ['c_1', 'svc:a.b'])],
  ])('accepts %s', (_n, e) => expect(codeOf(() => validateEndpointRule(e))).toBeUndefined());
  it.each([
    ['lower-case method', ep('get', '/a')],
    ['empty method', ep('', '/a')],
    ['method with space', ep('GE T', '/a')],
    ['scope with space', ep('GET', '/a', 'a b')],
    ['scope with quote', ep('GET', '/a', 'a"b')],
    ['bad client id', ep('GET', '/a', '', ['a b'])],
    ['empty client id', ep('GET', '/a', '', [''])],
  ])('rejects %s', (_n, e) => expect(codeOf(() => validateEndpointRule(e))).toBe('invalid_request'));
});

describe('normalizeRequestPath', () => {
  it.each([
    ['/', []],
    ['/orders', ['orders']],
    ['/orders/42', ['orders', '42']],
    ['/orders/42?x=1&y=/..', ['orders', '42']],
    ['/orders/42#frag', ['orders', '42']],
    ['/orders/', ['orders', '']],
    ['/a%20b', ['a b']],
    ['/caf%C3%A9', ['café']],
    ['/a%3Ab', ['a:b']],
    ['/.well-known', ['.well-known']],
    ['/a...', ['a...']],
  ])('%s', (p, segs) => expect(normalizeRequestPath(p)).toEqual(segs));
  it.each([
    ['relative', 'orders'],
    ['empty', ''],
    ['dot-dot', '/a/../admin'],
    ['dot', '/a/./admin'],
    ['trailing dot-dot', '/a/..'],
    ['encoded dot-dot', '/a/%2e%2e/admin'],
    ['encoded dot-dot upper', '/a/%2E%2E/admin'],
    ['mixed dot-dot', '/a/.%2e/admin'],
    ['encoded slash', '/a%2Fadmin'],
    ['encoded backslash', '/a%5cadmin'],
    ['raw backslash', '/a\\admin'],
    ['double encoding', '/a/%252e%252e/admin'],
    ['malformed percent', '/a%zz'],
    ['truncated percent', '/a%2'],
    ['invalid utf-8', '/a%ff'],
    ['encoded NUL', '/a%00b'],
    ['raw space', '/a b'],
    ['double slash', '//admin'],
    ['inner double slash', '/a//b'],
    ['too long', `/${'a'.repeat(9000)}`],
  ])('rejects %s', (_n, p) => expect(codeOf(() => normalizeRequestPath(p))).toBe('invalid_request'));
});

describe('matchPathTemplate', () => {
  it.each([
    ['/', '/', true],
    ['/', '/a', false],
    ['/orders', '/orders', true],
    ['/orders', '/orders/', false],
    ['/orders', '/Orders', false],
    ['/orders', '/orders/1', false],
    ['/orders/{id}', '/orders/1', true],
    ['/orders/{id}', '/orders', false],
    ['/orders/{id}', '/orders/', false],
    ['/orders/{id}', '/orders/1/2', false],
    ['/orders/{id}/items', '/orders/1/items', true],
    ['/orders/{id}/items', '/orders/1/other', false],
    ['/files/**', '/files', true],
    ['/files/**', '/files/', true],
    ['/files/**', '/files/a/b/c', true],
    ['/files/**', '/filesX/a', false],
    ['/**', '/', true],
    ['/**', '/anything/at/all', true],
    ['/a/{x}/**', '/a/1/b/c', true],
    ['/a/{x}/**', '/a', false],
  ])('%s vs %s → %s', (t, p, expected) => expect(matchPathTemplate(t, normalizeRequestPath(p))).toBe(expected));
});

describe('decideAccess', () => {
  const endpoints = [
    ep('GET', '/orders', 'orders.read'),
    ep('POST', '/orders', 'orders.write'),
    ep('GET', '/orders/{id}', 'orders.read'),
    ep('DELETE', '/orders/{id}', 'orders.admin', ['c-admin']),
    ep('*', '/public/**'),
    ep('GET', '/files/**', 'files.read'),
    ep('GET', '/files/secret', 'never.reached'),
  ];
  it.each([
    ['allowed with scope', 'GET', '/orders', ['orders.read'], 'c1', 'allow', 'orders.read'],
    ['method lower-cased by caller', 'get', '/orders', ['orders.read'], 'c1', 'allow', 'orders.read'],
    ['query ignored', 'GET', '/orders?limit=1', ['orders.read'], 'c1', 'allow', 'orders.read'],
    ['missing scope', 'GET', '/orders', ['orders.write'], 'c1', 'deny_insufficient_scope', 'orders.read'],
    ['method decides', 'POST', '/orders', ['orders.read'], 'c1', 'deny_insufficient_scope', 'orders.write'],
    ['no such method', 'PUT', '/orders', ['orders.write'], 'c1', 'deny_no_endpoint', ''],
    ['template param', 'GET', '/orders/42', ['orders.read'], 'c1', 'allow', 'orders.read'],
    ['encoded param', 'GET', '/orders/a%20b', ['orders.read'], 'c1', 'allow', 'orders.read'],
    ['client not allowed', 'DELETE', '/orders/1', ['orders.admin'], 'c1', 'deny_client_not_allowed', 'orders.admin'],
    ['no client id', 'DELETE', '/orders/1', ['orders.admin'], undefined, 'deny_client_not_allowed', 'orders.admin'],
    ['client allowed, scope missing', 'DELETE', '/orders/1', [], 'c-admin', 'deny_insufficient_scope', 'orders.admin'],
    ['client allowed with scope', 'DELETE', '/orders/1', ['orders.admin'], 'c-admin', 'allow', 'orders.admin'],
    ['any method, no scope', 'PATCH', '/public/x/y', [], undefined, 'allow', ''],
    ['** first match wins', 'GET', '/files/secret', ['files.read'], 'c1', 'allow', 'files.read'],
    ['** root', 'GET', '/files', ['files.read'], 'c1', 'allow', 'files.read'],
    ['unknown route closed', 'GET', '/admin', ['orders.read'], 'c1', 'deny_no_endpoint', ''],
    ['prefix is not a match', 'GET', '/orders/1/items', ['orders.read'], 'c1', 'deny_no_endpoint', ''],
  ])('%s', (_n, method, path, scopes, clientId, decision, requiredScope) => {
    const r = decideAccess(endpoints, { method, path, scopes, clientId });
    expect(r.decision).toBe(decision);
    expect(r.requiredScope).toBe(requiredScope);
    if (decision === 'deny_no_endpoint') expect(r.endpoint).toBeUndefined();
    else expect(r.endpoint).toBeDefined();
  });

  it.each([
    ['dot-dot escape', '/public/../orders'],
    ['encoded dot-dot escape', '/public/%2e%2e/orders'],
    ['encoded slash', '/public%2F..%2Forders'],
    ['bad method', '/orders'],
  ])('rejects %s', (n, path) => {
    const method = n === 'bad method' ? 'G T' : 'GET';
    expect(codeOf(() => decideAccess(endpoints, { method, path, scopes: [] }))).toBe('invalid_request');
  });

  it('computes sorted unique scopes', () => {
    expect(endpointScopes(endpoints)).toEqual(['files.read', 'never.reached', 'orders.admin', 'orders.read', 'orders.write']);
  });
});
