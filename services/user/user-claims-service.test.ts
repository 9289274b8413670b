// UserService over real gRPC: the OIDC standard claims (User fields 13–28) are created, read
// (through the grid copy), updated by update_mask, cleared, and validated; the verified flags are
// set only by an admin and never survive a change of what they verified.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { User } from '../../gen/ts/authmesh/user/v1/user.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { uniqueId } from '../../test/support/ids.js';
import { errorOf, seedClient, seedUser } from './user-test-support.js';

let t: TestMesh;
let admin: string;
let plainUser: string;
let rp: string;

beforeAll(async () => {
  t = await startTestMesh();
  [admin, plainUser, rp] = await Promise.all([t.bearer(), t.bearer({ scope: ['authmesh.user'] }), seedClient(t.store)]);
});
afterAll(async () => {
  await t?.close();
});

const users = () => t.anon.user;

const FULL = {
  email: 'zoe@example.com',
  emailVerified: true,
  displayName: 'Zoë Ünal',
  givenName: 'Zoë',
  familyName: 'Ünal',
  middleName: 'M',
  nickname: 'Z',
  preferredUsername: 'zoe',
  profile: 'https://zoe.example/profile',
  picture: 'https://zoe.example/z.png',
  website: 'http://zoe.example',
  gender: 'female',
  birthdate: '1990-02-28',
  zoneinfo: 'Europe/Paris',
  locale: 'fr-FR',
  phoneNumber: '+33123456789',
  phoneNumberVerified: true,
  address: { formatted: '1 rue de la Paix\n75002 Paris', streetAddress: '1 rue de la Paix', locality: 'Paris', region: 'IDF', postalCode: '75002', country: 'FR' },
};

describe('standard claims on the user', () => {
  it('creates a user with every claim and reads them back over gRPC and from the store', async () => {
    const created = await users().createUser({ user: User.fromPartial({ username: uniqueId('zoe'), ...FULL }), password: 'a long enough password' }, { bearer: admin });
    expect(created.user).toMatchObject(FULL);
    const got = await users().getUser({ userId: created.user!.userId }, { bearer: admin });
    expect(got.user).toMatchObject(FULL);
    const stored = await t.store.users.get(created.user!.userId);
    expect(stored.claims).toMatchObject({ givenName: 'Zoë', emailVerified: true, address: { locality: 'Paris' } });
  });

  it('updates the claims named in update_mask, keeps the others, and the grid copy follows', async () => {
    const s = await seedUser(t.store);
    await users().updateUser({ user: User.fromPartial({ userId: s.userId, givenName: 'Ann', locale: 'en-GB' }), updateMask: ['given_name', 'locale'] }, { bearer: admin });
    await users().getUser({ userId: s.userId }, { bearer: admin }); // fills the grid copy
    const res = await users().updateUser(
      { user: User.fromPartial({ userId: s.userId, givenName: 'ignored', familyName: 'Lee', address: { country: 'GB' } }), updateMask: ['familyName', 'address'] },
      { bearer: admin },
    );
    expect(res.user).toMatchObject({ givenName: 'Ann', familyName: 'Lee', locale: 'en-GB', address: { country: 'GB', locality: '' }, etag: '3' });
    expect((await users().getUser({ userId: s.userId }, { bearer: admin })).user).toMatchObject({ givenName: 'Ann', familyName: 'Lee', address: { country: 'GB' } });
  });

  it('clears claims sent empty, and all of them with an empty mask', async () => {
    const created = await users().createUser({ user: User.fromPartial({ username: uniqueId('clr'), ...FULL }), password: 'a long enough password' }, { bearer: admin });
    const id = created.user!.userId;
    const one = await users().updateUser({ user: User.fromPartial({ userId: id, nickname: '' }), updateMask: ['nickname'] }, { bearer: admin });
    expect(one.user).toMatchObject({ nickname: '', givenName: 'Zoë' });
    const all = await users().updateUser({ user: User.fromPartial({ userId: id, username: created.user!.username }), updateMask: [] }, { bearer: admin });
    expect(all.user).toMatchObject({ givenName: '', emailVerified: false, phoneNumber: '', address: undefined });
    expect((await t.store.users.get(id)).claims).toBeUndefined();
  });

  it('clears email_verified when the email changes without it, so a verification never moves to another address', async () => {
    const created = await users().createUser({ user: User.fromPartial({ username: uniqueId('ver'), ...FULL }), password: 'a long enough password' }, { bearer: admin });
    const id = created.user!.userId;
    const moved = await users().updateUser({ user: User.fromPartial({ userId: id, email: 'other@example.com' }), updateMask: ['email'] }, { bearer: admin });
    expect(moved.user).toMatchObject({ email: 'other@example.com', emailVerified: false, phoneNumberVerified: true });
    const moved2 = await users().updateUser({ user: User.fromPartial({ userId: id, phoneNumber: '+33999999999' }), updateMask: ['phone_number'] }, { bearer: admin });
    expect(moved2.user).toMatchObject({ phoneNumber: '+33999999999', phoneNumberVerified: false });
    const again = await users().updateUser({ user: User.fromPartial({ userId: id, emailVerified: true }), updateMask: ['email_verified'] }, { bearer: admin });
    expect(again.user).toMatchObject({ email: 'other@example.com', emailVerified: true });
  });

  it('lets no one but an admin set email_verified (a user token cannot update users)', async () => {
    const s = await seedUser(t.store);
    const err = await errorOf(users().updateUser({ user: User.fromPartial({ userId: s.userId, email: 'me@example.com', emailVerified: true }), updateMask: ['email', 'email_verified'] }, { bearer: plainUser }));
    expect(err.code).toBe('insufficient_scope');
    expect((await t.store.users.get(s.userId)).claims).toBeUndefined();
  });

  it.each([
    ['a javascript: picture', { picture: 'javascript:alert(1)' }, 'picture'],
    ['a malformed birthdate', { birthdate: '1990-2-3' }, 'birthdate'],
    ['a national phone number', { phoneNumber: '06 12 34 56 78' }, 'phone_number'],
    ['a bad locale', { locale: 'english please' }, 'locale'],
  ])('refuses %s on create and on update, changing nothing', async (_name, bad, message) => {
    const username = uniqueId('bad');
    const err = await errorOf(users().createUser({ user: User.fromPartial({ username, ...bad }), password: 'a long enough password' }, { bearer: admin }));
    expect(err).toMatchObject({ code: 'invalid_request', description: expect.stringContaining(message) });
    expect(await t.store.users.getByUsername(username)).toBeUndefined();
    const s = await seedUser(t.store);
    const err2 = await errorOf(users().updateUser({ user: User.fromPartial({ userId: s.userId, ...bad }), updateMask: Object.keys(bad) }, { bearer: admin }));
    expect(err2.code).toBe('invalid_request');
    expect(await t.store.users.get(s.userId)).toMatchObject({ version: 1 });
  });
});

describe('GetUserInfo (OIDC Core §5.3 over gRPC)', () => {
  it('returns sub and the claims the token scope releases, read through the grid copy', async () => {
    const created = await users().createUser({ user: User.fromPartial({ username: uniqueId('ui'), ...FULL }), password: 'a long enough password' }, { bearer: admin });
    const id = created.user!.userId;
    const token = await t.bearer({ sub: id, clientId: rp, scope: ['openid', 'email', 'address'] });
    const res = await users().getUserInfo({}, { bearer: token });
    expect(res.claims).toEqual({
      sub: id,
      email: 'zoe@example.com',
      email_verified: true,
      address: { formatted: FULL.address.formatted, street_address: '1 rue de la Paix', locality: 'Paris', region: 'IDF', postal_code: '75002', country: 'FR' },
    });
    const profile = await users().getUserInfo({}, { bearer: await t.bearer({ sub: id, clientId: rp, scope: ['openid', 'profile'] }) });
    expect(profile.claims).toMatchObject({ sub: id, name: 'Zoë Ünal', preferred_username: 'zoe', birthdate: '1990-02-28', updated_at: Math.floor(created.user!.updateTime!.getTime() / 1000) });
    expect(profile.claims).not.toHaveProperty('email');
  });

  it('refuses a token without openid (insufficient_scope), and one for a user who is disabled or gone (invalid_token)', async () => {
    const s = await seedUser(t.store);
    expect((await errorOf(users().getUserInfo({}, { bearer: await t.bearer({ sub: s.userId, clientId: rp, scope: ['profile', 'email'] }) }))).code).toBe('insufficient_scope');
    const disabled = await seedUser(t.store, { disabled: true });
    expect((await errorOf(users().getUserInfo({}, { bearer: await t.bearer({ sub: disabled.userId, clientId: rp, scope: ['openid'] }) }))).code).toBe('invalid_token');
    expect((await errorOf(users().getUserInfo({}, { bearer: await t.bearer({ sub: uniqueId('gone'), clientId: rp, scope: ['openid'] }) }))).code).toBe('invalid_token');
    expect((await errorOf(users().getUserInfo({}, {}))).code).toBe('invalid_token');
    const noClient = await t.bearer({ sub: s.userId, clientId: uniqueId('deleted'), scope: ['openid'] });
    expect((await errorOf(users().getUserInfo({}, { bearer: noClient }))).code).toBe('invalid_token');
  });

  it('refuses a token for another audience (an API token is not a UserInfo credential)', async () => {
    const s = await seedUser(t.store);
    const token = await t.bearer({ sub: s.userId, clientId: rp, scope: ['openid', 'profile'], audience: 'https://orders.example.com' });
    expect((await errorOf(users().getUserInfo({}, { bearer: token }))).code).toBe('invalid_token');
  });
});
