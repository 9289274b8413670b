import { describe, expect, it } from 'vitest';
import { type IntrospectedToken, INTROSPECTION_SCOPE, buildIntrospectionResponse, inactiveIntrospection, mayIntrospect } from './introspection.js';

const NOW = new Date('2030-01-01T00:00:00.000Z');
const T = Math.floor(NOW.getTime() / 1000);

const token: IntrospectedToken = {
  iss: 'https://auth.example.com',
  sub: 'user-1',
  aud: 'https://api.example.com',
  exp: T + 300,
  iat: T - 10,
  nbf: T - 10,
  jti: 'j1',
  client_id: 'spa',
  scope: 'read write',
};

describe('buildIntrospectionResponse', () => {
  it('answers an active access token with the RFC 7662 §2.2 members', () => {
    expect(buildIntrospectionResponse(token, { tokenType: 'Bearer', username: 'alice', now: NOW })).toEqual({
      active: true,
      scope: 'read write',
      client_id: 'spa',
      username: 'alice',
      token_type: 'Bearer',
      exp: T + 300,
      iat: T - 10,
      nbf: T - 10,
      sub: 'user-1',
      aud: 'https://api.example.com',
      iss: 'https://auth.example.com',
      jti: 'j1',
    });
  });

  it.each<[string, IntrospectedToken, 'Bearer' | 'refresh_token', Record<string, unknown>]>([
    ['a refresh token', { ...token, aud: undefined, nbf: undefined }, 'refresh_token', { active: true, token_type: 'refresh_token' }],
    ['a delegated token keeps act', { ...token, act: { sub: 'svc' } }, 'Bearer', { active: true, act: { sub: 'svc' } }],
    ['an audience array', { ...token, aud: ['a', 'b'] }, 'Bearer', { active: true, aud: ['a', 'b'] }],
    ['a token expiring in one second', { ...token, exp: T + 1 }, 'Bearer', { active: true }],
  ])('answers %s', (_name, t, tokenType, expected) => {
    expect(buildIntrospectionResponse(t, { tokenType, now: NOW })).toMatchObject(expected);
  });

  it.each<[string, IntrospectedToken, string]>([
    ['no scope', { ...token, scope: undefined }, 'scope'],
    ['an empty scope', { ...token, scope: '' }, 'scope'],
    ['no username', token, 'username'],
    ['no nbf', { ...token, nbf: undefined }, 'nbf'],
    ['no aud', { ...token, aud: undefined }, 'aud'],
    ['no act', token, 'act'],
  ])('omits the member for %s', (_name, t, member) => {
    expect(buildIntrospectionResponse(t, { tokenType: 'Bearer', now: NOW })).not.toHaveProperty(member);
  });

  it.each<[string, IntrospectedToken | undefined]>([
    ['no token (unknown, revoked, bad signature)', undefined],
    ['an expired token', { ...token, exp: T - 1 }],
    ['a token expiring exactly now', { ...token, exp: T }],
    ['a token not yet valid', { ...token, nbf: T + 60 }],
  ])('answers only {active:false} for %s', (_name, t) => {
    expect(buildIntrospectionResponse(t, { tokenType: 'Bearer', username: 'alice', now: NOW })).toEqual({ active: false });
  });

  it('inactiveIntrospection reveals nothing', () => {
    expect(inactiveIntrospection()).toEqual({ active: false });
  });
});

describe('mayIntrospect (RFC 7662 §4)', () => {
  const token = { client_id: 'spa', aud: ['https://orders.example.com', 'orders-api'] };
  it.each<[string, { clientId: string; registeredScopes: string[] }, boolean]>([
    ['the client the token was issued to', { clientId: 'spa', registeredScopes: [] }, true],
    ['a client the token is addressed to', { clientId: 'orders-api', registeredScopes: [] }, true],
    ['a client registered as a protected resource', { clientId: 'gw', registeredScopes: [INTROSPECTION_SCOPE] }, true],
    ['an admin client', { clientId: 'authmesh-admin', registeredScopes: ['authmesh.admin'] }, true],
    ['any other confidential client', { clientId: 'other', registeredScopes: ['read', 'orders.read'] }, false],
  ])('%s: %s', (_name, caller, expected) => {
    expect(mayIntrospect(caller, token, 'authmesh.admin')).toBe(expected);
  });
});
