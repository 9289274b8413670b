// The admin API of login sessions over real gRPC: ListUserSessions, RevokeUserSession,
// RevokeAllUserSessions (admin scopes as ListUsers), RecordSessionClient (mesh only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { publicSessionId } from './login-sessions.js';
import { seedUser } from './user-test-support.js';

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

const startSession = async (username: string, password: string) =>
  (await t.peers.user.authenticateUser({ username, password, clientId: '', remoteIp: '', startSession: true })).sessionId;
const active = async (sessionId: string, userId: string) => (await t.peers.user.checkSession({ sessionId, userId })).active;

describe('login sessions through the admin API', () => {
  it('lists a user\'s sessions by public sid with auth_time, expiry and the clients recorded, never the secret id', async () => {
    const u = await seedUser(t.store);
    const first = await startSession(u.username, u.password);
    const second = await startSession(u.username, u.password);
    expect((await t.peers.user.recordSessionClient({ sessionId: first, clientId: 'cli_rp' })).recorded).toBe(true);
    const res = await t.anon.user.listUserSessions({ userId: u.userId }, { bearer: reader });
    expect(res.sessions.map((s) => s.sid).sort()).toEqual([publicSessionId(first), publicSessionId(second)].sort());
    const one = res.sessions.find((s) => s.sid === publicSessionId(first))!;
    expect(one).toMatchObject({ userId: u.userId, clientIds: ['cli_rp'] });
    expect(one.expireTime!.getTime() - one.authTime!.getTime()).toBe(24 * 3600 * 1000);
    expect(JSON.stringify(res)).not.toContain(first);
    expect(JSON.stringify(res)).not.toContain(second);
  });

  it('revoking a session ends it on the spot (a saved cookie\'s session id is refused) and audits it', async () => {
    const u = await seedUser(t.store);
    const id = await startSession(u.username, u.password);
    const other = await startSession(u.username, u.password);
    await t.anon.user.revokeUserSession({ userId: u.userId, sid: publicSessionId(id) }, { bearer: admin });
    expect(await active(id, u.userId)).toBe(false);
    expect(await active(other, u.userId)).toBe(true);
    expect((await t.anon.user.listUserSessions({ userId: u.userId }, { bearer: admin })).sessions.map((s) => s.sid)).toEqual([publicSessionId(other)]);
    await expect(t.anon.user.revokeUserSession({ userId: u.userId, sid: publicSessionId(id) }, { bearer: admin })).rejects.toMatchObject({ code: 'not_found' });
    const audit = await t.store.audit.list({ type: 'session.ended', subject: u.userId });
    expect(audit.items.some((e) => (e.details as { sid?: string; reason?: string }).sid === publicSessionId(id))).toBe(true);
    expect(JSON.stringify(audit.items)).not.toContain(id);
  });

  it('refuses to revoke another user\'s session by its sid (not_found) and leaves it active', async () => {
    const victim = await seedUser(t.store);
    const caller = await seedUser(t.store);
    const id = await startSession(victim.username, victim.password);
    await expect(t.anon.user.revokeUserSession({ userId: caller.userId, sid: publicSessionId(id) }, { bearer: admin })).rejects.toMatchObject({ code: 'not_found' });
    expect(await active(id, victim.userId)).toBe(true);
    // The secret session id is not a sid: refused as malformed.
    await expect(t.anon.user.revokeUserSession({ userId: victim.userId, sid: id }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await active(id, victim.userId)).toBe(true);
  });

  it('revoke-all ends every session of the user and no one else\'s', async () => {
    const u = await seedUser(t.store);
    const bystander = await seedUser(t.store);
    const ids = [await startSession(u.username, u.password), await startSession(u.username, u.password)];
    const kept = await startSession(bystander.username, bystander.password);
    const res = await t.anon.user.revokeAllUserSessions({ userId: u.userId }, { bearer: admin });
    expect(res.revokedCount).toBe(2);
    for (const id of ids) expect(await active(id, u.userId)).toBe(false);
    expect(await active(kept, bystander.userId)).toBe(true);
    expect((await t.anon.user.listUserSessions({ userId: u.userId }, { bearer: admin })).sessions).toEqual([]);
  });

  it('a password reset, disabling or deleting the user ends their sessions at once (no longer listed)', async () => {
    const reset = await seedUser(t.store);
    await startSession(reset.username, reset.password);
    await t.anon.user.setPassword({ userId: reset.userId, newPassword: 'a brand new password' }, { bearer: admin });
    expect((await t.anon.user.listUserSessions({ userId: reset.userId }, { bearer: admin })).sessions).toEqual([]);
    const disabled = await seedUser(t.store);
    await startSession(disabled.username, disabled.password);
    await t.anon.user.updateUser({ user: { ...(await t.anon.user.getUser({ userId: disabled.userId }, { bearer: admin })).user!, disabled: true }, updateMask: ['disabled'] }, { bearer: admin });
    expect((await t.anon.user.listUserSessions({ userId: disabled.userId }, { bearer: admin })).sessions).toEqual([]);
    const deleted = await seedUser(t.store);
    await startSession(deleted.username, deleted.password);
    await t.anon.user.deleteUser({ userId: deleted.userId }, { bearer: admin });
    expect((await t.anon.user.listUserSessions({ userId: deleted.userId }, { bearer: admin })).sessions).toEqual([]);
  });

  it('guards the RPCs like ListUsers: reads need admin or read scope, revocations admin, recording the mesh', async () => {
    const u = await seedUser(t.store);
    const id = await startSession(u.username, u.password);
    await expect(t.anon.user.listUserSessions({ userId: u.userId }, { bearer: plainUser })).rejects.toMatchObject({ code: 'insufficient_scope' });
    await expect(t.anon.user.listUserSessions({ userId: u.userId })).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(t.anon.user.revokeUserSession({ userId: u.userId, sid: publicSessionId(id) }, { bearer: reader })).rejects.toMatchObject({ code: 'insufficient_scope' });
    await expect(t.anon.user.revokeAllUserSessions({ userId: u.userId }, { bearer: reader })).rejects.toMatchObject({ code: 'insufficient_scope' });
    await expect(t.anon.user.recordSessionClient({ sessionId: id, clientId: 'cli_x' }, { bearer: admin })).rejects.toMatchObject({ code: 'access_denied' });
    expect(await active(id, u.userId)).toBe(true);
    await expect(t.anon.user.listUserSessions({ userId: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
