// UserService admin RPCs over real gRPC: CRUD, pagination, update_mask, etag, caching, access.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { User } from '../../gen/ts/authmesh/user/v1/user.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { errorOf, seedClient, seedUser } from './user-test-support.js';
import { uniqueId } from '../../test/support/ids.js';

let t: TestMesh;
let admin: string;
let reader: string;
let plainUser: string;

beforeAll(async () => {
  t = await startTestMesh();
  [admin, reader, plainUser] = await Promise.all([t.bearer(), t.bearer({ scope: ['authmesh.read'] }), t.bearer({ scope: ['authmesh.user'] })]);
});
afterAll(async () => {
  await t?.close();
});

const users = () => t.anon.user;

describe('CreateUser', () => {
  it('creates a user with a generated id, hashes the password with scrypt and never returns it', async () => {
    const username = uniqueId('Create');
    const res = await users().createUser(
      { user: User.fromPartial({ username, email: 'a@example.com', displayName: 'Ann', roles: ['admin', 'admin', 'ops'] }), password: 'a long enough password' },
      { bearer: admin },
    );
    const u = res.user!;
    expect(u.userId).toMatch(/^usr_/);
    expect(u).toMatchObject({ username, email: 'a@example.com', displayName: 'Ann', roles: ['admin', 'ops'], disabled: false, locked: false, etag: '1' });
    expect(u.createTime).toBeInstanceOf(Date);
    expect(u.passwordChangeTime).toBeInstanceOf(Date);
    expect(JSON.stringify(u)).not.toContain('scrypt');
    expect(Object.keys(u)).not.toContain('passwordHash');
    const stored = await t.store.users.get(u.userId);
    expect(stored.passwordHash).toMatch(/^scrypt\$ln=17,r=8,p=1\$/);
    const audit = await t.store.audit.list({ type: 'user.created', subject: u.userId });
    expect(audit.items).toHaveLength(1);
    expect(JSON.stringify(audit.items)).not.toContain('a long enough password');
  });

  it('keeps a supplied user_id and refuses a duplicate id or a username differing only in case', async () => {
    const userId = uniqueId('usr');
    const username = uniqueId('Dup');
    await users().createUser({ user: User.fromPartial({ userId, username }), password: 'first password ok' }, { bearer: admin });
    expect((await t.store.users.get(userId)).username).toBe(username);
    await expect(users().createUser({ user: User.fromPartial({ userId, username: uniqueId('other') }), password: 'first password ok' }, { bearer: admin })).rejects.toMatchObject({
      code: 'already_exists',
    });
    const other = uniqueId('usr');
    await expect(users().createUser({ user: User.fromPartial({ userId: other, username: username.toUpperCase() }), password: 'first password ok' }, { bearer: admin })).rejects.toMatchObject({
      code: 'already_exists',
    });
    await expect(t.store.users.get(other)).rejects.toMatchObject({ code: 'not_found' });
    expect((await t.store.users.getByUsername(username))!.userId).toBe(userId);
  });

  it.each([
    ['a short password', { username: 'weak-1' }, 'short', 'at least 12 characters'],
    ['a too long password', { username: 'weak-2' }, 'x'.repeat(1025), 'at most 1024 characters'],
    ['the username as password', { username: 'Weak-Username-3' }, (name: string) => name.toLowerCase(), 'must not be the username'],
    ['no password', { username: 'weak-4' }, '', 'password is required'],
    ['a username with a space', { username: 'has space' }, 'a good password!', 'username'],
    ['an empty username', { username: '' }, 'a good password!', 'username is required'],
    ['a too long username', { username: 'u'.repeat(129) }, 'a good password!', 'username'],
    ['a user_id with a space', { username: 'weak-5', userId: 'a b' }, 'a good password!', 'user_id'],
    ['locked=true', { username: 'weak-6', locked: true }, 'a good password!', 'locked'],
    ['a malformed email', { username: 'weak-7', email: 'not an email' }, 'a good password!', 'email'],
    ['a role with a space', { username: 'weak-8', roles: ['a b'] }, 'a good password!', 'role'],
  ])('refuses %s and creates nothing', async (_name, user, password, message) => {
    const username = user.username ? `${user.username}-${uniqueId('x')}` : '';
    const pw = typeof password === 'function' ? password(username) : password;
    const err = await errorOf(users().createUser({ user: User.fromPartial({ ...user, username }), password: pw }, { bearer: admin }));
    expect(err.code).toBe('invalid_request');
    expect(err.description).toContain(message);
    if (username !== '') expect(await t.store.users.getByUsername(username)).toBeUndefined();
  });

  it('refuses a request without a user', async () => {
    await expect(users().createUser({ user: undefined, password: 'a good password!' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('GetUser and ListUsers', () => {
  it('reads a user, then serves it from the grid', async () => {
    const seeded = await seedUser(t.store, { username: uniqueId('Get') });
    const first = await users().getUser({ userId: seeded.userId }, { bearer: reader });
    expect(first.user).toMatchObject({ userId: seeded.userId, username: seeded.username, etag: '1', locked: false });
    expect(first.user!.lockExpireTime).toBeUndefined();
    // A change behind the service's back is not seen: the read came from the grid copy.
    await t.store.users.update(seeded.userId, { displayName: 'changed in the store' });
    expect((await users().getUser({ userId: seeded.userId }, { bearer: reader })).user!.displayName).toBe('');
    // A write through the service replaces the grid copy.
    await users().updateUser({ user: User.fromPartial({ userId: seeded.userId, email: 'new@example.com' }), updateMask: ['email'] }, { bearer: admin });
    const after = await users().getUser({ userId: seeded.userId }, { bearer: reader });
    expect(after.user).toMatchObject({ email: 'new@example.com', displayName: 'changed in the store', etag: '3' });
  });

  it('answers not_found and invalid_request', async () => {
    await expect(users().getUser({ userId: uniqueId('missing') }, { bearer: admin })).rejects.toMatchObject({ code: 'not_found' });
    await expect(users().getUser({ userId: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('pages through every user exactly once', async () => {
    const seeded = await Promise.all([1, 2, 3, 4, 5].map(() => seedUser(t.store)));
    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await users().listUsers({ pageSize: 2, pageToken }, { bearer: reader });
      expect(page.users.length).toBeLessThanOrEqual(2);
      for (const u of page.users) expect(JSON.stringify(u)).not.toContain('scrypt');
      seen.push(...page.users.map((u) => u.userId));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== '' && pages < 100);
    expect(new Set(seen).size).toBe(seen.length);
    for (const s of seeded) expect(seen).toContain(s.userId);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('refuses a bad page token or a negative page size', async () => {
    await expect(users().listUsers({ pageSize: 2, pageToken: 'garbage!' }, { bearer: reader })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(users().listUsers({ pageSize: -1, pageToken: '' }, { bearer: reader })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('UpdateUser', () => {
  it('changes only the fields in update_mask and bumps the etag', async () => {
    const s = await seedUser(t.store);
    const res = await users().updateUser(
      { user: User.fromPartial({ userId: s.userId, username: 'ignored', email: 'x@example.com', displayName: 'ignored', roles: ['r1'] }), updateMask: ['email', 'roles'] },
      { bearer: admin },
    );
    expect(res.user).toMatchObject({ username: s.username, email: 'x@example.com', displayName: '', roles: ['r1'], etag: '2' });
  });

  it('accepts camelCase mask paths and an empty mask meaning every mutable field', async () => {
    const s = await seedUser(t.store);
    await users().updateUser({ user: User.fromPartial({ userId: s.userId, displayName: 'Dee' }), updateMask: ['displayName'] }, { bearer: admin });
    const newName = uniqueId('Renamed');
    const res = await users().updateUser({ user: User.fromPartial({ userId: s.userId, username: newName, etag: '2' }), updateMask: undefined }, { bearer: admin });
    expect(res.user).toMatchObject({ username: newName, displayName: '', email: '', roles: [], disabled: false, etag: '3' });
  });

  it('refuses a stale etag (conflict) and changes nothing', async () => {
    const s = await seedUser(t.store);
    await users().updateUser({ user: User.fromPartial({ userId: s.userId, email: 'one@example.com', etag: '1' }), updateMask: ['email'] }, { bearer: admin });
    await expect(
      users().updateUser({ user: User.fromPartial({ userId: s.userId, email: 'two@example.com', etag: '1' }), updateMask: ['email'] }, { bearer: admin }),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect(await t.store.users.get(s.userId)).toMatchObject({ email: 'one@example.com', version: 2 });
  });

  it.each([
    ['a malformed etag', { etag: 'W/"1"' }, ['email'], 'etag'],
    ['an unknown mask field', {}, ['password_hash'], 'unknown field'],
    ['an output-only mask field', {}, ['create_time'], 'cannot be changed'],
    ['locking by hand', { locked: true }, ['locked'], 'locked'],
    ['locked=true in a full update of an unlocked user', { locked: true, username: 'whatever-name' }, [], 'locked'],
    ['an empty username', { username: '' }, ['username'], 'username is required'],
    ['a bad email', { email: 'nope' }, ['email'], 'email'],
  ])('refuses %s and changes nothing', async (_name, patch, mask, message) => {
    const s = await seedUser(t.store);
    const err = await errorOf(users().updateUser({ user: User.fromPartial({ userId: s.userId, ...patch }), updateMask: mask }, { bearer: admin }));
    expect(err).toMatchObject({ code: 'invalid_request' });
    expect(err.description).toContain(message);
    expect((await t.store.users.get(s.userId)).version).toBe(1);
  });

  it('refuses a username taken in another case, and unknown users', async () => {
    const [a, b] = await Promise.all([seedUser(t.store), seedUser(t.store)]);
    await expect(users().updateUser({ user: User.fromPartial({ userId: b.userId, username: a.username.toUpperCase() }), updateMask: ['username'] }, { bearer: admin })).rejects.toMatchObject({
      code: 'already_exists',
    });
    expect((await t.store.users.get(b.userId)).username).toBe(b.username);
    await expect(users().updateUser({ user: User.fromPartial({ userId: uniqueId('nobody'), email: 'a@b.c' }), updateMask: ['email'] }, { bearer: admin })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(users().updateUser({ user: undefined, updateMask: [] }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('disabling a user revokes their refresh tokens', async () => {
    const s = await seedUser(t.store);
    const clientId = await seedClient(t.store);
    const issued = await t.peers.refreshToken.issueRefreshToken({ clientId, userId: s.userId, scopes: [], audience: [], familyId: '', ttlSeconds: 0, authTime: undefined, idTokenClaims: [], dpopJkt: '', certificateThumbprint: '' });
    const res = await users().updateUser({ user: User.fromPartial({ userId: s.userId, disabled: true }), updateMask: ['disabled'] }, { bearer: admin });
    expect(res.user!.disabled).toBe(true);
    expect((await t.peers.refreshToken.lookupRefreshToken({ refreshToken: issued.refreshToken })).active).toBe(false);
  });
});

describe('DeleteUser and SetPassword', () => {
  it('deletes a user and leaves no usable refresh token behind', async () => {
    const s = await seedUser(t.store);
    const clientId = await seedClient(t.store);
    const issued = await t.peers.refreshToken.issueRefreshToken({ clientId, userId: s.userId, scopes: ['read'], audience: [], familyId: '', ttlSeconds: 0, authTime: undefined, idTokenClaims: [], dpopJkt: '', certificateThumbprint: '' });
    await users().getUser({ userId: s.userId }, { bearer: admin }); // warm the grid copy
    await users().deleteUser({ userId: s.userId }, { bearer: admin });
    await expect(users().getUser({ userId: s.userId }, { bearer: admin })).rejects.toMatchObject({ code: 'not_found' });
    expect((await t.peers.refreshToken.lookupRefreshToken({ refreshToken: issued.refreshToken })).active).toBe(false);
    await expect(t.peers.refreshToken.rotateRefreshToken({ refreshToken: issued.refreshToken, clientId, reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_grant' });
    await expect(users().deleteUser({ userId: s.userId }, { bearer: admin })).rejects.toMatchObject({ code: 'not_found' });
    await expect(users().deleteUser({ userId: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await t.store.audit.list({ type: 'user.deleted', subject: s.userId })).items).toHaveLength(1);
  });

  it('sets a password (admin reset): unlocks, revokes refresh tokens, old password stops working', async () => {
    const s = await seedUser(t.store);
    const clientId = await seedClient(t.store);
    await t.store.users.recordLoginFailure(s.userId, new Date(), { threshold: 1, lockMs: 60_000 });
    const issued = await t.peers.refreshToken.issueRefreshToken({ clientId, userId: s.userId, scopes: [], audience: [], familyId: '', ttlSeconds: 0, authTime: undefined, idTokenClaims: [], dpopJkt: '', certificateThumbprint: '' });
    await users().setPassword({ userId: s.userId, newPassword: 'brand new password' }, { bearer: admin });
    expect((await t.peers.refreshToken.lookupRefreshToken({ refreshToken: issued.refreshToken })).active).toBe(false);
    const stored = await t.store.users.get(s.userId);
    expect(stored).toMatchObject({ failedLoginCount: 0 });
    expect(stored.lockedUntil).toBeUndefined();
    expect(stored.passwordHash).toMatch(/^scrypt\$ln=17,/);
    await expect(t.peers.user.authenticateUser({ username: s.username, password: s.password, clientId: '', remoteIp: '', startSession: false })).rejects.toMatchObject({ code: 'access_denied' });
    const ok = await t.peers.user.authenticateUser({ username: s.username, password: 'brand new password', clientId: '', remoteIp: '', startSession: false });
    expect(ok.user!.userId).toBe(s.userId);
  });

  it('refuses a weak new password, an unknown user and a missing id, changing nothing', async () => {
    const s = await seedUser(t.store);
    await expect(users().setPassword({ userId: s.userId, newPassword: 'too short' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(users().setPassword({ userId: s.userId, newPassword: s.username }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await t.store.users.get(s.userId)).passwordHash).toBe(s.passwordHash);
    await expect(users().setPassword({ userId: uniqueId('nobody'), newPassword: 'long enough password' }, { bearer: admin })).rejects.toMatchObject({ code: 'not_found' });
    await expect(users().setPassword({ userId: '', newPassword: 'long enough password' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('access', () => {
  const calls = (): [string, (o: { bearer?: string }) => Promise<unknown>][] => [
    ['createUser', (o) => users().createUser({ user: User.fromPartial({ username: uniqueId('acc') }), password: 'a good password!' }, o)],
    ['getUser', (o) => users().getUser({ userId: 'x' }, o)],
    ['listUsers', (o) => users().listUsers({ pageSize: 1, pageToken: '' }, o)],
    ['updateUser', (o) => users().updateUser({ user: User.fromPartial({ userId: 'x' }), updateMask: ['email'] }, o)],
    ['deleteUser', (o) => users().deleteUser({ userId: 'x' }, o)],
    ['setPassword', (o) => users().setPassword({ userId: 'x', newPassword: 'a good password!' }, o)],
    ['changePassword', (o) => users().changePassword({ userId: 'x', currentPassword: 'a', newPassword: 'a good password!' }, o)],
  ];

  it('refuses admin RPCs without a token (invalid_token) and with a token lacking the scope (insufficient_scope)', async () => {
    for (const [name, call] of calls()) {
      await expect(call({}), name).rejects.toMatchObject({ code: 'invalid_token' });
      if (name !== 'changePassword') await expect(call({ bearer: plainUser }), name).rejects.toMatchObject({ code: 'insufficient_scope' });
    }
  });

  it('lets authmesh.read read but not write', async () => {
    await users().listUsers({ pageSize: 1, pageToken: '' }, { bearer: reader });
    for (const [name, call] of calls().filter(([n]) => !['getUser', 'listUsers'].includes(n))) {
      await expect(call({ bearer: reader }), name).rejects.toMatchObject({ code: 'insufficient_scope' });
    }
  });

  it('keeps AuthenticateUser internal: access_denied with a bearer token, invalid_token without credentials', async () => {
    const req = { username: 'someone', password: 'some password', clientId: '', remoteIp: '', startSession: false };
    await expect(users().authenticateUser(req, { bearer: admin })).rejects.toMatchObject({ code: 'access_denied' });
    await expect(users().authenticateUser(req)).rejects.toMatchObject({ code: 'invalid_token' });
  });
});
