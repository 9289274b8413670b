// AuthenticateUser, ChangePassword and login sessions over real gRPC: no user enumeration, throttling and lockout with a short
// lock, unlocking, rehash on login, self-service password change.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { User } from '../../gen/ts/authmesh/user/v1/user.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { LOGIN_DENIED } from './user-service.js';
import { createLoginGuard, MAX_CONCURRENT_CHECKS_PER_SOURCE } from './login-guard.js';
import { silentLogger } from '../core/log/index.js';
import { hashPassword } from './password-hash.js';
import { createUserCache } from './user-cache.js';
import { CHEAP_PARAMS, errorOf, seedUser } from './user-test-support.js';
import { uniqueId } from '../../test/support/ids.js';

let t: TestMesh;
let admin: string;

beforeAll(async () => {
  // The same threshold per source and per account, so the lock tests below trip both.
  t = await startTestMesh({ AUTHMESH_LOGIN_MAX_FAILURES: '3', AUTHMESH_LOGIN_ACCOUNT_MAX_FAILURES: '3', AUTHMESH_LOGIN_LOCK_SECONDS: '2' });
  admin = await t.bearer();
});
afterAll(async () => {
  await t?.close();
});

const login = (username: string, password: string, extra: { clientId?: string; remoteIp?: string } = {}) =>
  t.peers.user.authenticateUser({ username, password, clientId: extra.clientId ?? '', remoteIp: extra.remoteIp ?? '', startSession: false });

async function lock(userId: string, username: string) {
  for (let i = 0; i < 3; i++) await expect(login(username, `wrong password ${i}`)).rejects.toMatchObject({ code: 'access_denied' });
  expect((await t.store.users.get(userId)).lockedUntil).toBeDefined();
}

describe('AuthenticateUser', () => {
  it('authenticates without regard to the case of the username and audits the success', async () => {
    const s = await seedUser(t.store, { username: uniqueId('Mixed') });
    const before = Date.now();
    const res = await login(s.username.toUpperCase(), s.password, { clientId: 'web-app', remoteIp: '203.0.113.7' });
    expect(res.user).toMatchObject({ userId: s.userId, username: s.username, locked: false });
    expect(res.authTime!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    const events = await t.store.audit.list({ type: 'login.success', subject: s.userId });
    expect(events.items[0]).toMatchObject({ clientId: 'web-app', ip: '203.0.113.7' });
    expect(JSON.stringify(events.items)).not.toContain(s.password);
  });

  it('fails identically for an unknown user, a wrong password, a disabled and a locked account', async () => {
    const real = await seedUser(t.store);
    const disabled = await seedUser(t.store, { disabled: true });
    const locked = await seedUser(t.store);
    await lock(locked.userId, locked.username);
    const errors = await Promise.all([
      errorOf(login(uniqueId('nobody'), 'whatever password')),
      errorOf(login(real.username, 'not the password')),
      errorOf(login(disabled.username, disabled.password)),
      errorOf(login(locked.username, locked.password)),
      errorOf(login('name with spaces cannot exist', 'whatever password')),
    ]);
    for (const err of errors) expect({ code: err.code, description: err.description }).toEqual({ code: 'access_denied', description: LOGIN_DENIED });
    const failures = await t.store.audit.list({ type: 'login.failure' });
    const reasons = failures.items.map((e) => e.details.reason);
    expect(reasons).toEqual(expect.arrayContaining(['unknown_user', 'bad_password', 'disabled', 'locked']));
    for (const e of failures.items) expect(JSON.stringify(e)).not.toMatch(/whatever password|not the password/);
  });

  it('keeps a password typed into the username field out of the audit trail', async () => {
    const passwordAsUsername = uniqueId('Pa55word-typed-as-username');
    await expect(login(passwordAsUsername, 'whatever password', { remoteIp: '203.0.113.9' })).rejects.toMatchObject({ code: 'access_denied' });
    const failures = (await t.store.audit.list({ type: 'login.failure' })).items.filter((e) => e.ip === '203.0.113.9');
    expect(failures.map((e) => e.details.reason)).toEqual(['unknown_user']);
    expect(JSON.stringify(failures)).not.toContain(passwordAsUsername);
  });

  it('fails identically against a user created through the service (full-cost hash)', async () => {
    const username = uniqueId('Real');
    await t.anon.user.createUser({ user: User.fromPartial({ username }), password: 'the real password' }, { bearer: admin });
    const [unknown, wrong] = await Promise.all([errorOf(login(`${username}-x`, 'the real password')), errorOf(login(username, 'the wrong password'))]);
    expect(unknown).toMatchObject({ code: 'access_denied', description: LOGIN_DENIED });
    expect(wrong).toMatchObject({ code: 'access_denied', description: LOGIN_DENIED });
    expect((await login(username, 'the real password')).user!.username).toBe(username);
  });

  it('locks after 3 consecutive failures, refuses the right password during the lock, and unlocks by itself', async () => {
    const s = await seedUser(t.store);
    await lock(s.userId, s.username);
    const locked = await t.anon.user.getUser({ userId: s.userId }, { bearer: admin });
    expect(locked.user!.locked).toBe(true);
    expect(locked.user!.lockExpireTime!.getTime()).toBeGreaterThan(Date.now());
    expect((await t.store.audit.list({ type: 'login.locked', subject: s.userId })).items).toHaveLength(1);
    await expect(login(s.username, s.password)).rejects.toMatchObject({ code: 'access_denied', description: LOGIN_DENIED });
    // The lock (2 s) and the source's failure window (2 s, a grid TTL: Hazelcast expires entries
    // on its own clock) end by themselves; refused attempts meanwhile are not counted, so polling
    // cannot extend them.
    await new Promise((r) => setTimeout(r, 2_100));
    await vi.waitFor(async () => expect((await login(s.username, s.password)).user!.userId).toBe(s.userId), { timeout: 15_000, interval: 500 });
    expect(await t.store.users.get(s.userId)).toMatchObject({ failedLoginCount: 0 });
  });

  it('is unlocked by an admin clearing locked', async () => {
    const s = await seedUser(t.store);
    await lock(s.userId, s.username);
    const read = await t.anon.user.getUser({ userId: s.userId }, { bearer: admin });
    // A full update echoing the locked state back is no change; clearing it unlocks.
    await t.anon.user.updateUser({ user: User.fromPartial({ ...read.user, email: 'x@example.com' }), updateMask: [] }, { bearer: admin });
    expect((await t.store.users.get(s.userId)).lockedUntil).toBeDefined();
    const res = await t.anon.user.updateUser({ user: User.fromPartial({ userId: s.userId, locked: false }), updateMask: ['locked'] }, { bearer: admin });
    expect(res.user!.locked).toBe(false);
    expect(await t.store.users.get(s.userId)).toMatchObject({ failedLoginCount: 0 });
    expect((await login(s.username, s.password)).user!.userId).toBe(s.userId);
    expect((await t.store.audit.list({ type: 'user.unlocked', subject: s.userId })).items).toHaveLength(1);
  });

  it("a stranger's failures throttle the stranger's source only: the owner still logs in from theirs", async () => {
    const s = await seedUser(t.store);
    const stranger = { remoteIp: '203.0.113.66' };
    // Two failures from each of two addresses: under the per-source threshold on both, but they count for the account.
    for (let i = 0; i < 2; i++) await expect(login(s.username, `guess ${i}`, stranger)).rejects.toMatchObject({ code: 'access_denied' });
    expect((await login(s.username, s.password, { remoteIp: '198.51.100.7' })).user!.userId).toBe(s.userId);
    // The success reset the account count; three more from the stranger throttle the stranger.
    for (let i = 0; i < 1; i++) await expect(login(s.username, `guess again ${i}`, stranger)).rejects.toMatchObject({ code: 'access_denied' });
    // Even the right password is refused from the throttled source, and nothing reveals why.
    await expect(login(s.username, s.password, stranger)).rejects.toMatchObject({ code: 'access_denied' });
    const throttled = await t.store.audit.list({ type: 'login.source_throttled', subject: s.userId });
    expect(throttled.items).toHaveLength(1);
    expect((await t.store.audit.list({ type: 'login.failure', subject: s.userId })).items.some((e) => e.details.reason === 'source_throttled')).toBe(true);
    // The account itself is not locked: the owner logs in from their own address.
    expect((await t.store.users.get(s.userId)).lockedUntil).toBeUndefined();
    expect((await login(s.username, s.password, { remoteIp: '198.51.100.7' })).user!.userId).toBe(s.userId);
  });

  it('bounds the password checks one source has running at once: the rest get slow_down without hashing', async () => {
    // Called directly, in one turn of the event loop: the first checks are still hashing when the
    // others arrive, whatever the machine's speed.
    const guard = createLoginGuard({
      users: t.store.users,
      cache: createUserCache(t.mesh.deps.grid, t.store.users),
      policy: { threshold: 3, lockMs: 2_000 },
      source: { threshold: 3, windowMs: 2_000 },
      grid: t.mesh.deps.grid,
      now: () => new Date(),
      audit: async () => undefined,
      log: silentLogger(),
    });
    const attempt = (ip: string) => guard.check(undefined, 'wrong password', { purpose: 'login', username: 'ghost', ip }).then(
      () => 'checked',
      (err: { code?: string }) => err.code,
    );
    const burst = Array.from({ length: 12 }, () => attempt('198.51.100.66'));
    const elsewhere = attempt('203.0.113.66');
    const outcomes = await Promise.all(burst);
    expect(outcomes.filter((o) => o === 'checked')).toHaveLength(MAX_CONCURRENT_CHECKS_PER_SOURCE);
    expect(outcomes.filter((o) => o === 'slow_down')).toHaveLength(12 - MAX_CONCURRENT_CHECKS_PER_SOURCE);
    expect(await elsewhere).toBe('checked');
    // Once those checks are done the source is served again.
    expect(await attempt('198.51.100.66')).toBe('checked');
  });

  it('locks the account after failures spread over several sources (the account-wide cap)', async () => {
    const s = await seedUser(t.store);
    for (let i = 0; i < 3; i++) await expect(login(s.username, `guess ${i}`, { remoteIp: `203.0.113.${10 + i}` })).rejects.toMatchObject({ code: 'access_denied' });
    expect((await t.store.users.get(s.userId)).lockedUntil).toBeDefined();
    await expect(login(s.username, s.password, { remoteIp: '198.51.100.7' })).rejects.toMatchObject({ code: 'access_denied' });
  });

  it('resets the failure count on success, so only consecutive failures lock', async () => {
    const s = await seedUser(t.store);
    for (let i = 0; i < 2; i++) await expect(login(s.username, 'nope nope nope')).rejects.toMatchObject({ code: 'access_denied' });
    expect((await t.store.users.get(s.userId)).failedLoginCount).toBe(2);
    await login(s.username, s.password);
    for (let i = 0; i < 2; i++) await expect(login(s.username, 'nope nope nope')).rejects.toMatchObject({ code: 'access_denied' });
    expect((await login(s.username, s.password)).user!.locked).toBe(false);
  });

  it('rehashes a weaker stored hash at the current cost after a successful login', async () => {
    const s = await seedUser(t.store);
    expect(s.passwordHash).toMatch(/^scrypt\$ln=10,/);
    await login(s.username, s.password);
    await expect.poll(async () => (await t.store.users.get(s.userId)).passwordHash, { timeout: 10_000 }).toMatch(/^scrypt\$ln=17,r=8,p=1\$/);
    expect((await login(s.username, s.password)).user!.userId).toBe(s.userId);
  });

  it('refuses missing or malformed fields with invalid_request', async () => {
    await expect(login('', 'a password here')).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(login('someone', '')).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(login('someone', 'a password here', { remoteIp: 'x'.repeat(300) })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(login('someone', 'a password here', { clientId: 'bad\u0001id' })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('ChangePassword', () => {
  it('lets a user change their own password with a token whose sub is their id', async () => {
    const s = await seedUser(t.store);
    const bearer = await t.bearer({ scope: ['authmesh.user'], sub: s.userId });
    await t.anon.user.changePassword({ userId: s.userId, currentPassword: s.password, newPassword: 'my new passphrase' }, { bearer });
    await expect(login(s.username, s.password)).rejects.toMatchObject({ code: 'access_denied' });
    expect((await login(s.username, 'my new passphrase')).user!.userId).toBe(s.userId);
    expect((await t.store.audit.list({ type: 'user.password_changed', subject: s.userId })).items).toHaveLength(1);
  });

  it("refuses a user changing another user's password, and changes nothing", async () => {
    const [me, other] = await Promise.all([seedUser(t.store), seedUser(t.store)]);
    const bearer = await t.bearer({ scope: ['authmesh.user'], sub: me.userId });
    await expect(
      t.anon.user.changePassword({ userId: other.userId, currentPassword: other.password, newPassword: 'hijacked password' }, { bearer }),
    ).rejects.toMatchObject({ code: 'access_denied' });
    expect((await t.store.users.get(other.userId)).passwordHash).toBe(other.passwordHash);
  });

  it('refuses a wrong current password and counts it as a failed login', async () => {
    const s = await seedUser(t.store);
    await expect(
      t.anon.user.changePassword({ userId: s.userId, currentPassword: 'not my password', newPassword: 'another new password' }, { bearer: admin }),
    ).rejects.toMatchObject({ code: 'access_denied' });
    const stored = await t.store.users.get(s.userId);
    expect(stored).toMatchObject({ failedLoginCount: 1, passwordHash: s.passwordHash });
  });

  it('refuses a change on a locked account even with the right current password', async () => {
    const s = await seedUser(t.store);
    await lock(s.userId, s.username);
    await expect(
      t.anon.user.changePassword({ userId: s.userId, currentPassword: s.password, newPassword: 'another new password' }, { bearer: admin }),
    ).rejects.toMatchObject({ code: 'access_denied' });
    expect((await t.store.users.get(s.userId)).passwordHash).toBe(s.passwordHash);
  });

  it.each([
    ['a weak new password', (pw: string) => ({ currentPassword: pw, newPassword: 'short' })],
    ['the same password again', (pw: string) => ({ currentPassword: pw, newPassword: pw })],
    ['no current password', () => ({ currentPassword: '', newPassword: 'a fine new password' })],
  ])('refuses %s with invalid_request and changes nothing', async (_name, body) => {
    const s = await seedUser(t.store, { password: 'the current password' });
    await expect(t.anon.user.changePassword({ userId: s.userId, ...body(s.password) }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await t.store.users.get(s.userId)).toMatchObject({ passwordHash: s.passwordHash, failedLoginCount: 0 });
  });

  it('answers not_found for an unknown user and refuses callers without the right token', async () => {
    await expect(
      t.anon.user.changePassword({ userId: uniqueId('nobody'), currentPassword: 'x', newPassword: 'a fine new password' }, { bearer: admin }),
    ).rejects.toMatchObject({ code: 'not_found' });
    const req = { userId: 'x', currentPassword: 'x', newPassword: 'a fine new password' };
    await expect(t.anon.user.changePassword(req)).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(t.anon.user.changePassword(req, { bearer: await t.bearer({ scope: ['authmesh.read'] }) })).rejects.toMatchObject({ code: 'insufficient_scope' });
  });
});

describe('login sessions (CheckSession, EndSession)', () => {
  const startSession = async (username: string, password: string) => {
    const res = await t.peers.user.authenticateUser({ username, password, clientId: '', remoteIp: '', startSession: true });
    expect(res.sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    return res.sessionId;
  };
  const active = async (sessionId: string, userId: string) => (await t.peers.user.checkSession({ sessionId, userId })).active;

  it('starts a session only when asked, and logout (EndSession) ends it', async () => {
    const s = await seedUser(t.store);
    expect((await login(s.username, s.password)).sessionId).toBe('');
    const id = await startSession(s.username, s.password);
    expect(await active(id, s.userId)).toBe(true);
    // A session belongs to its user only.
    expect(await active(id, 'someone-else')).toBe(false);
    await t.peers.user.endSession({ sessionId: id });
    expect(await active(id, s.userId)).toBe(false);
    // Idempotent; unknown and oversized ids are simply inactive.
    await t.peers.user.endSession({ sessionId: id });
    expect(await active('x'.repeat(43), s.userId)).toBe(false);
    expect(await active('x'.repeat(5000), s.userId)).toBe(false);
    await expect(t.peers.user.checkSession({ sessionId: '', userId: s.userId })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(t.peers.user.endSession({ sessionId: '' })).rejects.toMatchObject({ code: 'invalid_request' });
    // Internal only: an outside caller cannot probe sessions.
    await expect(t.anon.user.checkSession({ sessionId: id, userId: s.userId })).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('a lock after failed logins does not end an existing session; disabling the account does', async () => {
    const s = await seedUser(t.store);
    const id = await startSession(s.username, s.password);
    for (let i = 0; i < 3; i++) await expect(login(s.username, `guess ${i}`, { remoteIp: `203.0.113.${40 + i}` })).rejects.toMatchObject({ code: 'access_denied' });
    expect((await t.store.users.get(s.userId)).lockedUntil).toBeDefined();
    expect(await active(id, s.userId)).toBe(true);
    await t.anon.user.updateUser({ user: User.fromPartial({ userId: s.userId, disabled: true }), updateMask: ['disabled'] }, { bearer: admin });
    expect(await active(id, s.userId)).toBe(false);
  });

  it('a password change or reset recorded after the login ends the session; a later login is unaffected', async () => {
    // SetPassword/ChangePassword record passwordChangedAt; written here directly with a cheap hash
    // (the full-cost hash is exercised by gateway/routes/sessions.test.ts through SetPassword).
    const s = await seedUser(t.store);
    const id = await startSession(s.username, s.password);
    const password = 'a brand new passphrase';
    await t.store.users.update(s.userId, { passwordHash: await hashPassword(password, CHEAP_PARAMS), passwordChangedAt: new Date() });
    await createUserCache(t.mesh.deps.grid, t.store.users).evict(s.userId);
    expect(await active(id, s.userId)).toBe(false);
    const after = await startSession(s.username, password);
    expect(await active(after, s.userId)).toBe(true);
  });
});
