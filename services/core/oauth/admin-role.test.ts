import { describe, expect, it } from 'vitest';
import { ADMIN_SCOPE, READ_SCOPE } from '../rpc/context.js';
import { grantScope } from './scope.js';
import { ADMIN_ROLE, hasRoleGatedScope, READ_ROLE, scopesForUser } from './admin-role.js';

describe('admin scopes on a user token (scopesForUser)', () => {
  it('the role names are the admin scopes of the RPC layer', () => {
    expect([ADMIN_ROLE, READ_ROLE]).toEqual([ADMIN_SCOPE, READ_SCOPE]);
  });

  it.each([
    { roles: [], granted: ['openid', 'authmesh.admin', 'authmesh.read'], kept: ['openid'] },
    { roles: ['admin', 'orders:reader'], granted: ['authmesh.admin', 'orders.read'], kept: ['orders.read'] },
    { roles: ['authmesh.read'], granted: ['openid', 'authmesh.admin', 'authmesh.read'], kept: ['openid', 'authmesh.read'] },
    { roles: ['authmesh.admin'], granted: ['openid', 'authmesh.admin', 'authmesh.read'], kept: ['openid', 'authmesh.admin', 'authmesh.read'] },
    { roles: ['AUTHMESH.ADMIN'], granted: ['authmesh.admin'], kept: [] },
  ])('non-admin user gets no admin scope: roles $roles keep $kept', ({ roles, granted, kept }) => {
    expect(scopesForUser(granted, roles)).toEqual(kept);
  });

  it('admin scope not granted to another client for an admin user unless that client is allowed it', () => {
    // The client's allowance is applied first (invalid_scope for excess), the user's roles then.
    expect(() => grantScope({ requested: ['authmesh.admin'], allowed: ['read'] })).toThrow(/not allowed/);
    const byDefault = grantScope({ requested: [], allowed: ['read'] });
    expect(scopesForUser(byDefault, [ADMIN_ROLE])).toEqual(['read']);
  });

  it('hasRoleGatedScope tells when the user must be read', () => {
    expect(hasRoleGatedScope(['openid', 'read'])).toBe(false);
    expect(hasRoleGatedScope(['authmesh.read'])).toBe(true);
  });
});
