// RefreshTokenService over real gRPC: issue, rotation with reuse detection, concurrency, client
// binding, expiry, lookup, revocation by value and by owner, listing, access.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssueRefreshTokenRequest } from '../../gen/ts/authmesh/refresh_token/v1/refresh_token.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { seedClient, seedUser } from '../user/user-test-support.js';
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

const rt = () => t.peers.refreshToken;

function issue(req: Partial<IssueRefreshTokenRequest> & { clientId: string }) {
  return rt().issueRefreshToken({ userId: '', scopes: ['openid', 'read'], audience: ['https://api.example.com'], familyId: '', ttlSeconds: 0, authTime: undefined, idTokenClaims: [], dpopJkt: '', certificateThumbprint: '', ...req });
}

async function owner() {
  const [clientId, user] = await Promise.all([seedClient(t.store), seedUser(t.store)]);
  return { clientId, userId: user.userId };
}

describe('IssueRefreshToken', () => {
  it('returns 256 random bits once and stores only their hash', async () => {
    const { clientId, userId } = await owner();
    const authTime = new Date(Date.now() - 60_000);
    const before = Date.now();
    const res = await issue({ clientId, userId, authTime });
    expect(res.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const hash = createHash('sha256').update(res.refreshToken).digest('hex');
    expect(res.info).toMatchObject({ tokenId: hash, clientId, userId, scopes: ['openid', 'read'], audience: ['https://api.example.com'] });
    expect(res.info!.familyId).toMatch(/^fam_/);
    expect(res.info!.authTime!.getTime()).toBe(authTime.getTime());
    const ttl = res.info!.expireTime!.getTime() - before;
    expect(Math.abs(ttl - t.config.refreshTokenTtlSeconds * 1000)).toBeLessThan(5_000);
    const stored = await t.store.refreshTokens.get(hash);
    expect(JSON.stringify(stored)).not.toContain(res.refreshToken);
  });

  it('joins a given family and honours ttl_seconds', async () => {
    const { clientId } = await owner();
    const familyId = uniqueId('grant');
    const res = await issue({ clientId, familyId, ttlSeconds: 120 });
    expect(res.info!.familyId).toBe(familyId);
    expect(res.info!.userId).toBe('');
    expect(Math.abs(res.info!.expireTime!.getTime() - Date.now() - 120_000)).toBeLessThan(5_000);
  });

  it.each([
    ['no client_id', { clientId: '' }, 'invalid_request'],
    ['a malformed scope', { scopes: ['bad"scope'] }, 'invalid_request'],
    ['a negative ttl', { ttlSeconds: -1 }, 'invalid_request'],
    ['a ttl above a year', { ttlSeconds: 400 * 86_400 }, 'invalid_request'],
    ['a user_id with a space', { userId: 'a b' }, 'invalid_request'],
    ['an unknown user', { userId: 'no-such-user' }, 'not_found'],
    ['an id_token_claims entry that is not a claim name', { idTokenClaims: ['email', 'Email verified!'] }, 'invalid_request'],
    ['more than 32 id_token_claims', { idTokenClaims: Array.from({ length: 33 }, (_, i) => `claim_${i}`) }, 'invalid_request'],
  ])('refuses %s', async (_name, patch, code) => {
    const { clientId } = await owner();
    await expect(issue({ clientId, ...patch })).rejects.toMatchObject({ code });
    expect((await t.store.refreshTokens.listByClient(clientId)).items).toHaveLength(0);
  });

  it('keeps the ID Token claim names of the claims request, and hands them on at rotation (OIDC Core §5.5, §12.2)', async () => {
    const { clientId, userId } = await owner();
    const first = await issue({ clientId, userId, idTokenClaims: ['email', 'email_verified'] });
    expect(first.info!.idTokenClaims).toEqual(['email', 'email_verified']);
    const second = await rt().rotateRefreshToken({ refreshToken: first.refreshToken, clientId, reuseGraceSeconds: 0 });
    expect(second.info!.idTokenClaims).toEqual(['email', 'email_verified']);
    expect((await issue({ clientId, userId })).info!.idTokenClaims).toEqual([]);
  });

  it('refuses an unknown client', async () => {
    await expect(issue({ clientId: uniqueId('ghost') })).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('RotateRefreshToken', () => {
  it('rotates into the same family; replaying the old token revokes the family (RFC 9700 §4.14.2)', async () => {
    const { clientId, userId } = await owner();
    const authTime = new Date(Date.now() - 5_000);
    const first = await issue({ clientId, userId, authTime });
    const second = await rt().rotateRefreshToken({ refreshToken: first.refreshToken, clientId, reuseGraceSeconds: 0 });
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.info).toMatchObject({
      familyId: first.info!.familyId,
      clientId,
      userId,
      scopes: first.info!.scopes,
      audience: first.info!.audience,
      authTime,
      // No sliding window: the successor keeps its predecessor's expiry.
      expireTime: first.info!.expireTime,
    });
    expect((await rt().lookupRefreshToken({ refreshToken: first.refreshToken })).active).toBe(false);
    const third = await rt().rotateRefreshToken({ refreshToken: second.refreshToken, clientId, reuseGraceSeconds: 0 });

    await expect(rt().rotateRefreshToken({ refreshToken: first.refreshToken, clientId, reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_grant' });
    // The whole family is gone, the latest token included.
    await expect(rt().rotateRefreshToken({ refreshToken: third.refreshToken, clientId, reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_grant' });
    expect((await rt().lookupRefreshToken({ refreshToken: third.refreshToken })).active).toBe(false);
    const audit = await t.store.audit.list({ type: 'refresh.reuse_detected', clientId });
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({ subject: userId, details: { familyId: first.info!.familyId } });
    expect(JSON.stringify(audit.items)).not.toContain(first.refreshToken);
  });

  it('lets exactly one of 10 concurrent rotations of one token succeed', async () => {
    const { clientId } = await owner();
    const first = await issue({ clientId });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => rt().rotateRefreshToken({ refreshToken: first.refreshToken, clientId, reuseGraceSeconds: 0 })));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'invalid_grant' });
    // The losers looked like a replay: the family, the winner's successor with it, is revoked.
    const successor = (won[0] as PromiseFulfilledResult<{ refreshToken: string }>).value.refreshToken;
    expect((await rt().lookupRefreshToken({ refreshToken: successor })).active).toBe(false);
  });

  it("refuses another client's token without consuming it (RFC 6749 §6)", async () => {
    const { clientId } = await owner();
    const other = await seedClient(t.store);
    const tok = await issue({ clientId });
    await expect(rt().rotateRefreshToken({ refreshToken: tok.refreshToken, clientId: other, reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_grant' });
    expect((await rt().lookupRefreshToken({ refreshToken: tok.refreshToken })).active).toBe(true);
    await rt().rotateRefreshToken({ refreshToken: tok.refreshToken, clientId, reuseGraceSeconds: 0 });
  });

  it('refuses an expired token', async () => {
    const { clientId } = await owner();
    const tok = await issue({ clientId, ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1_100));
    await expect(rt().rotateRefreshToken({ refreshToken: tok.refreshToken, clientId, reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_grant' });
    expect((await rt().lookupRefreshToken({ refreshToken: tok.refreshToken })).active).toBe(false);
    expect((await t.store.audit.list({ type: 'refresh.reuse_detected', clientId })).items).toHaveLength(0);
  });

  it('refuses unknown, revoked and malformed input', async () => {
    const { clientId } = await owner();
    await expect(rt().rotateRefreshToken({ refreshToken: 'never-issued', clientId, reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_grant' });
    await expect(rt().rotateRefreshToken({ refreshToken: 'x'.repeat(10_000), clientId, reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_grant' });
    const tok = await issue({ clientId });
    await rt().revokeRefreshTokenValue({ refreshToken: tok.refreshToken, clientId });
    await expect(rt().rotateRefreshToken({ refreshToken: tok.refreshToken, clientId, reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_grant' });
    await expect(rt().rotateRefreshToken({ refreshToken: '', clientId, reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(rt().rotateRefreshToken({ refreshToken: tok.refreshToken, clientId: '', reuseGraceSeconds: 0 })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(rt().rotateRefreshToken({ refreshToken: tok.refreshToken, clientId, reuseGraceSeconds: 301 })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(rt().rotateRefreshToken({ refreshToken: tok.refreshToken, clientId, reuseGraceSeconds: -1 })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('LookupRefreshToken and RevokeRefreshTokenValue', () => {
  it('describes active, rotated and unknown tokens', async () => {
    const { clientId, userId } = await owner();
    const tok = await issue({ clientId, userId });
    const active = await rt().lookupRefreshToken({ refreshToken: tok.refreshToken });
    expect(active).toMatchObject({ active: true, info: { tokenId: tok.info!.tokenId, clientId, userId } });
    await rt().rotateRefreshToken({ refreshToken: tok.refreshToken, clientId, reuseGraceSeconds: 0 });
    expect(await rt().lookupRefreshToken({ refreshToken: tok.refreshToken })).toMatchObject({ active: false, info: { tokenId: tok.info!.tokenId } });
    const unknown = await rt().lookupRefreshToken({ refreshToken: 'never-issued' });
    expect(unknown.active).toBe(false);
    expect(unknown.info).toBeUndefined();
    await expect(rt().lookupRefreshToken({ refreshToken: '' })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it("revokes the family of the caller's own token only (RFC 7009 §2.1)", async () => {
    const { clientId } = await owner();
    const other = await seedClient(t.store);
    const tok = await issue({ clientId });
    const sibling = await issue({ clientId, familyId: tok.info!.familyId });
    const unrelated = await issue({ clientId });
    expect(await rt().revokeRefreshTokenValue({ refreshToken: tok.refreshToken, clientId: other })).toEqual({ revoked: false, familyId: '' });
    expect((await rt().lookupRefreshToken({ refreshToken: tok.refreshToken })).active).toBe(true);
    // The family comes back, so the token service can revoke the grant's access tokens in one call.
    expect(await rt().revokeRefreshTokenValue({ refreshToken: tok.refreshToken, clientId })).toEqual({ revoked: true, familyId: tok.info!.familyId });
    expect((await rt().lookupRefreshToken({ refreshToken: tok.refreshToken })).active).toBe(false);
    expect((await rt().lookupRefreshToken({ refreshToken: sibling.refreshToken })).active).toBe(false);
    expect((await rt().lookupRefreshToken({ refreshToken: unrelated.refreshToken })).active).toBe(true);
    expect((await rt().revokeRefreshTokenValue({ refreshToken: 'never-issued', clientId })).revoked).toBe(false);
    await expect(rt().revokeRefreshTokenValue({ refreshToken: '', clientId })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(rt().revokeRefreshTokenValue({ refreshToken: tok.refreshToken, clientId: '' })).rejects.toMatchObject({ code: 'invalid_request' });
    expect((await t.store.audit.list({ type: 'refresh.revoked', clientId })).items).toHaveLength(1);
  });
});

describe('ListRefreshTokens and RevokeRefreshTokens', () => {
  it('pages through the active tokens of a user and of a client', async () => {
    const { clientId, userId } = await owner();
    const issued = await Promise.all([1, 2, 3].map(() => issue({ clientId, userId })));
    const rotated = await issue({ clientId, userId });
    await rt().rotateRefreshToken({ refreshToken: rotated.refreshToken, clientId, reuseGraceSeconds: 0 }); // its successor is the 4th active one
    const ids: string[] = [];
    let pageToken = '';
    do {
      const page = await t.anon.refreshToken.listRefreshTokens({ owner: { $case: 'userId', value: userId }, pageSize: 3, pageToken }, { bearer: reader });
      ids.push(...page.refreshTokens.map((r) => r.tokenId));
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    expect(ids).toHaveLength(4);
    for (const i of issued) expect(ids).toContain(i.info!.tokenId);
    expect(ids).not.toContain(rotated.info!.tokenId);
    const byClient = await t.anon.refreshToken.listRefreshTokens({ owner: { $case: 'clientId', value: clientId }, pageSize: 2, pageToken: '' }, { bearer: admin });
    expect(byClient.refreshTokens).toHaveLength(2);
    expect(byClient.nextPageToken).not.toBe('');
    const rest = await t.anon.refreshToken.listRefreshTokens({ owner: { $case: 'clientId', value: clientId }, pageSize: 2, pageToken: byClient.nextPageToken }, { bearer: admin });
    expect(rest.refreshTokens).toHaveLength(2);
    expect(rest.nextPageToken).toBe('');
  });

  it('refuses a listing without exactly one owner or with a bad page token', async () => {
    const list = t.anon.refreshToken.listRefreshTokens;
    await expect(list({ owner: undefined, pageSize: 0, pageToken: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(list({ owner: { $case: 'userId', value: '' }, pageSize: 0, pageToken: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(list({ owner: { $case: 'userId', value: 'u' }, pageSize: 0, pageToken: 'junk!' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(list({ owner: { $case: 'userId', value: 'u' }, pageSize: -5, pageToken: '' }, { bearer: admin })).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('revokes by user, client, family and token id, reporting the count', async () => {
    const revoke = (target: Parameters<typeof t.anon.refreshToken.revokeRefreshTokens>[0]['target']) =>
      t.anon.refreshToken.revokeRefreshTokens({ target }, { bearer: admin });
    const a = await owner();
    await Promise.all([1, 2].map(() => issue({ clientId: a.clientId, userId: a.userId })));
    expect((await revoke({ $case: 'userId', value: a.userId })).revokedCount).toBe(2);
    expect((await revoke({ $case: 'userId', value: a.userId })).revokedCount).toBe(0);

    const b = await owner();
    const kept = await issue({ clientId: (await owner()).clientId, userId: b.userId });
    await Promise.all([1, 2, 3].map(() => issue({ clientId: b.clientId })));
    expect((await revoke({ $case: 'clientId', value: b.clientId })).revokedCount).toBe(3);
    expect((await rt().lookupRefreshToken({ refreshToken: kept.refreshToken })).active).toBe(true);

    const fam = await issue({ clientId: b.clientId, familyId: uniqueId('fam') });
    await issue({ clientId: b.clientId, familyId: fam.info!.familyId });
    expect((await revoke({ $case: 'familyId', value: fam.info!.familyId })).revokedCount).toBe(2);

    const one = await issue({ clientId: b.clientId });
    expect((await revoke({ $case: 'tokenId', value: one.info!.tokenId })).revokedCount).toBe(1);
    expect((await rt().lookupRefreshToken({ refreshToken: one.refreshToken })).active).toBe(false);
    expect((await t.store.audit.list({ type: 'refresh.revoked', clientId: b.clientId })).items.length).toBeGreaterThanOrEqual(2);

    await expect(revoke({ $case: 'tokenId', value: 'no-such-token' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(revoke(undefined)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(revoke({ $case: 'familyId', value: '' })).rejects.toMatchObject({ code: 'invalid_request' });
  });
});

describe('access', () => {
  it('refuses the admin RPCs without a token or without the scope; read scope lists but does not revoke', async () => {
    const anon = t.anon.refreshToken;
    const list = (bearer?: string) => anon.listRefreshTokens({ owner: { $case: 'userId', value: 'u' }, pageSize: 0, pageToken: '' }, { bearer });
    const revoke = (bearer?: string) => anon.revokeRefreshTokens({ target: { $case: 'userId', value: 'u' } }, { bearer });
    await expect(list()).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(revoke()).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(list(plainUser)).rejects.toMatchObject({ code: 'insufficient_scope' });
    await expect(revoke(plainUser)).rejects.toMatchObject({ code: 'insufficient_scope' });
    await expect(revoke(reader)).rejects.toMatchObject({ code: 'insufficient_scope' });
    expect((await list(reader)).refreshTokens).toEqual([]);
  });

  it('admits the mesh credential to RevokeRefreshTokens (code replay revokes a grant family)', async () => {
    const { clientId } = await owner();
    const tok = await issue({ clientId, familyId: uniqueId('grant') });
    const res = await rt().revokeRefreshTokens({ target: { $case: 'familyId', value: tok.info!.familyId } });
    expect(res.revokedCount).toBe(1);
    await expect(rt().listRefreshTokens({ owner: { $case: 'clientId', value: clientId }, pageSize: 0, pageToken: '' })).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('keeps the internal RPCs internal: access_denied with a bearer token, invalid_token without credentials', async () => {
    const { clientId } = await owner();
    const anon = t.anon.refreshToken;
    const calls: [string, (o: { bearer?: string }) => Promise<unknown>][] = [
      ['issue', (o) => anon.issueRefreshToken({ clientId, userId: '', scopes: [], audience: [], familyId: '', ttlSeconds: 0, authTime: undefined, idTokenClaims: [], dpopJkt: '', certificateThumbprint: '' }, o)],
      ['rotate', (o) => anon.rotateRefreshToken({ refreshToken: 'x', clientId, reuseGraceSeconds: 0 }, o)],
      ['lookup', (o) => anon.lookupRefreshToken({ refreshToken: 'x' }, o)],
      ['revokeValue', (o) => anon.revokeRefreshTokenValue({ refreshToken: 'x', clientId }, o)],
    ];
    for (const [name, call] of calls) {
      await expect(call({ bearer: admin }), name).rejects.toMatchObject({ code: 'access_denied' });
      await expect(call({}), name).rejects.toMatchObject({ code: 'invalid_token' });
    }
    expect((await t.store.refreshTokens.listByClient(clientId)).items).toHaveLength(0);
  });
});
