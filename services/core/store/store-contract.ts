import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthmeshError, type ErrorCode } from '../errors/index.js';
import type { Store } from './store.js';
import type { RotationRequest } from './refresh-token-store.js';
import type { NewClient, NewService, NewSigningKey, NewUser, Page, RefreshToken, StandardClaims } from './types.js';
import { uniqueId } from '../../../test/support/ids.js';

/**
 * The behaviour every Store implementation must show. Run it once per engine:
 *
 *   describeStoreContract('pglite', () => createPgliteStore());
 *
 * `factory` must give an independent, empty, migrated store on each call (it is called twice:
 * pagination needs tables nothing else writes to). Tests otherwise share one store and keep
 * apart by unique ids.
 */
export function describeStoreContract(name: string, factory: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await factory();
    });
    afterAll(async () => {
      await store?.close();
    });

    describe('ping (readiness)', () => {
      it('resolves while the database answers', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('clients', () => {
      it('round-trips every field', async () => {
        const input = fullClient();
        const created = await store.clients.create(input);
        expect(created).toMatchObject({ ...input, version: 1 });
        expect(created.createdAt).toBeInstanceOf(Date);
        expect(created.updatedAt.getTime()).toBe(created.createdAt.getTime());
        const got = await store.clients.get(input.clientId);
        expect(got).toEqual(created);
        expect(got.previousSecretExpiresAt).toBeInstanceOf(Date);
        expect(got.jwks).toEqual(input.jwks);
      });

      it('keeps absent optional fields absent', async () => {
        const input = minimalClient();
        await store.clients.create(input);
        const got = await store.clients.get(input.clientId);
        for (const field of ['secretHash', 'previousSecretHash', 'previousSecretExpiresAt', 'jwks', 'accessTokenTtlSeconds',
          'refreshTokenTtlSeconds', 'registrationAccessTokenHash'] as const) {
          expect(got[field]).toBeUndefined();
        }
        expect(got.redirectUris).toEqual([]);
        expect(got.metadata).toEqual({});
      });

      it('stores the mutual-TLS auth methods (RFC 8705 §2.1, §2.2; migration 0006) and still refuses unknown ones', async () => {
        for (const method of ['tls_client_auth', 'self_signed_tls_client_auth'] as const) {
          const input = { ...minimalClient(), clientType: 'confidential' as const, tokenEndpointAuthMethod: method, metadata: { tls_client_auth_san_dns: 'client.example.com' } };
          await store.clients.create(input);
          expect(await store.clients.get(input.clientId)).toMatchObject({ tokenEndpointAuthMethod: method, metadata: input.metadata });
        }
        // The CHECK constraint still guards the column.
        const bad = { ...minimalClient(), tokenEndpointAuthMethod: 'tls_client_auth_x' as unknown as 'none' };
        await expect(store.clients.create(bad)).rejects.toThrow();
        await expectCode(store.clients.get(bad.clientId), 'not_found');
      });

      it('rejects a duplicate client_id', async () => {
        const input = minimalClient();
        await store.clients.create(input);
        await expectCode(store.clients.create({ ...input, name: 'other' }), 'already_exists');
      });

      it('reports missing clients', async () => {
        const id = uniqueId('missing');
        await expectCode(store.clients.get(id), 'not_found');
        await expectCode(store.clients.update(id, { name: 'x' }), 'not_found');
        await expectCode(store.clients.delete(id), 'not_found');
      });

      it('patches, bumps the version and clears fields set to null', async () => {
        const input = fullClient();
        const created = await store.clients.create(input);
        const updated = await store.clients.update(
          input.clientId,
          { name: 'renamed', scopes: ['a'], previousSecretHash: null, previousSecretExpiresAt: null, jwks: null, secretHash: undefined },
          1,
        );
        expect(updated.version).toBe(2);
        expect(updated.name).toBe('renamed');
        expect(updated.scopes).toEqual(['a']);
        expect(updated.secretHash).toBe(input.secretHash);
        expect(updated.previousSecretHash).toBeUndefined();
        expect(updated.jwks).toBeUndefined();
        expect(updated.createdAt).toEqual(created.createdAt);
        expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(created.updatedAt.getTime());
        expect(await store.clients.get(input.clientId)).toEqual(updated);
      });

      it('refuses a stale expectedVersion with Conflict and changes nothing', async () => {
        const input = minimalClient();
        await store.clients.create(input);
        await store.clients.update(input.clientId, { name: 'v2' }, 1);
        await expectCode(store.clients.update(input.clientId, { name: 'lost' }, 1), 'conflict');
        const got = await store.clients.get(input.clientId);
        expect(got).toMatchObject({ name: 'v2', version: 2 });
        expect((await store.clients.update(input.clientId, { name: 'v3' })).version).toBe(3);
      });

      it('deletes', async () => {
        const input = minimalClient();
        await store.clients.create(input);
        await store.clients.delete(input.clientId);
        await expectCode(store.clients.get(input.clientId), 'not_found');
      });
    });

    describe('users', () => {
      it('round-trips every field and defaults the counters', async () => {
        const input = newUser({ email: 'a@example.com', displayName: 'Ann Example', lockedUntil: new Date(Date.UTC(2030, 0, 1)) });
        const created = await store.users.create(input);
        expect(created).toMatchObject({ ...input, failedLoginCount: 0, version: 1 });
        expect(created.passwordChangedAt).toBeInstanceOf(Date);
        expect(await store.users.get(input.userId)).toEqual(created);

        const bare = await store.users.create(newUser());
        const got = await store.users.get(bare.userId);
        expect(got.email).toBeUndefined();
        expect(got.displayName).toBeUndefined();
        expect(got.lockedUntil).toBeUndefined();
        expect(got).toEqual(bare);
      });

      it('stores, replaces and clears the OIDC standard claims', async () => {
        const claims: StandardClaims = {
          givenName: 'Zoë',
          familyName: 'Ünal',
          preferredUsername: 'zoe',
          website: 'https://zoe.example',
          birthdate: '1990-02-28',
          zoneinfo: 'Europe/Paris',
          locale: 'fr-FR',
          emailVerified: true,
          phoneNumber: '+33123456789',
          phoneNumberVerified: false,
          address: { streetAddress: '1 rue de la Paix\nBâtiment B', locality: 'Paris', postalCode: '75002', country: 'FR' },
        };
        const created = await store.users.create(newUser({ claims }));
        expect(created.claims).toEqual(claims);
        expect((await store.users.get(created.userId)).claims).toEqual(claims);
        expect((await store.users.getByUsername(created.username))?.claims).toEqual(claims);

        const replaced = await store.users.update(created.userId, { claims: { nickname: 'Z', emailVerified: false } }, 1);
        expect(replaced.claims).toEqual({ nickname: 'Z', emailVerified: false });
        expect((await store.users.get(created.userId)).claims).toEqual({ nickname: 'Z', emailVerified: false });

        const cleared = await store.users.update(created.userId, { claims: null }, 2);
        expect(cleared.claims).toBeUndefined();
        expect((await store.users.get(created.userId)).claims).toBeUndefined();
        expect((await store.users.create(newUser())).claims).toBeUndefined();
      });

      it('finds by username regardless of case', async () => {
        const input = newUser({ username: `Mixed.Case-${randomUUID()}` });
        await store.users.create(input);
        expect((await store.users.getByUsername(input.username.toUpperCase()))?.userId).toBe(input.userId);
        expect((await store.users.getByUsername(input.username.toLowerCase()))?.userId).toBe(input.userId);
        expect(await store.users.getByUsername(uniqueId('nobody'))).toBeUndefined();
      });

      it('rejects duplicate ids and usernames differing only in case', async () => {
        const input = newUser({ username: `Alice-${randomUUID()}` });
        await store.users.create(input);
        await expectCode(store.users.create(newUser({ userId: input.userId })), 'already_exists');
        await expectCode(store.users.create(newUser({ username: input.username.toUpperCase() })), 'already_exists');
        const other = await store.users.create(newUser());
        await expectCode(store.users.update(other.userId, { username: input.username.toLowerCase() }), 'already_exists');
      });

      it('reports missing users, stale versions, and deletes', async () => {
        const id = uniqueId('missing');
        await expectCode(store.users.get(id), 'not_found');
        await expectCode(store.users.update(id, { disabled: true }), 'not_found');
        await expectCode(store.users.delete(id), 'not_found');
        await expectCode(store.users.recordLoginFailure(id, new Date(), { threshold: 3, lockMs: 1000 }), 'not_found');
        await expectCode(store.users.recordLoginSuccess(id), 'not_found');

        const user = await store.users.create(newUser());
        const updated = await store.users.update(user.userId, { roles: ['admin'], email: 'x@example.com' }, 1);
        expect(updated).toMatchObject({ roles: ['admin'], email: 'x@example.com', version: 2 });
        await expectCode(store.users.update(user.userId, { disabled: true }, 1), 'conflict');
        expect((await store.users.update(user.userId, { email: null }, 2)).email).toBeUndefined();
        await store.users.delete(user.userId);
        await expectCode(store.users.get(user.userId), 'not_found');
      });

      it('counts login failures, locks at the threshold and resets on success', async () => {
        const user = await store.users.create(newUser());
        const policy = { threshold: 3, lockMs: 60_000 };
        const t0 = new Date(Date.UTC(2031, 5, 1, 12, 0, 0));
        expect(await store.users.recordLoginFailure(user.userId, t0, policy)).toEqual({ failedLoginCount: 1 });
        expect(await store.users.recordLoginFailure(user.userId, t0, policy)).toEqual({ failedLoginCount: 2 });
        const locked = await store.users.recordLoginFailure(user.userId, t0, policy);
        expect(locked).toEqual({ failedLoginCount: 3, lockedUntil: new Date(t0.getTime() + 60_000) });
        const stored = await store.users.get(user.userId);
        expect(stored).toMatchObject({ failedLoginCount: 3, lockedUntil: locked.lockedUntil, version: 1 });

        // Once the lock has run out, a failure starts a new count rather than re-locking.
        const later = new Date(t0.getTime() + 120_000);
        expect(await store.users.recordLoginFailure(user.userId, later, policy)).toEqual({ failedLoginCount: 1 });

        await store.users.recordLoginSuccess(user.userId);
        const reset = await store.users.get(user.userId);
        expect(reset.failedLoginCount).toBe(0);
        expect(reset.lockedUntil).toBeUndefined();
        await store.users.recordLoginSuccess(user.userId);
      });

      it('counts concurrent failures without losing any', async () => {
        const user = await store.users.create(newUser());
        const now = new Date();
        await Promise.all(
          Array.from({ length: 8 }, () => store.users.recordLoginFailure(user.userId, now, { threshold: 100, lockMs: 1000 })),
        );
        expect((await store.users.get(user.userId)).failedLoginCount).toBe(8);
      });
    });

    describe('services', () => {
      it('round-trips endpoints and finds by audience', async () => {
        const input = newService();
        const created = await store.services.create(input);
        expect(created).toMatchObject({ ...input, version: 1 });
        expect(await store.services.get(input.serviceId)).toEqual(created);
        expect(await store.services.getByAudience(input.audience)).toEqual(created);
        expect(await store.services.getByAudience(`https://${randomUUID()}.example`)).toBeUndefined();
      });

      it('rejects duplicate ids and audiences', async () => {
        const input = newService();
        await store.services.create(input);
        await expectCode(store.services.create(newService({ serviceId: input.serviceId })), 'already_exists');
        await expectCode(store.services.create(newService({ audience: input.audience })), 'already_exists');
        const other = await store.services.create(newService());
        await expectCode(store.services.update(other.serviceId, { audience: input.audience }), 'already_exists');
      });

      it('updates with versions, reports missing services, deletes', async () => {
        const id = uniqueId('missing');
        await expectCode(store.services.get(id), 'not_found');
        await expectCode(store.services.update(id, { name: 'x' }), 'not_found');
        await expectCode(store.services.delete(id), 'not_found');

        const service = await store.services.create(newService());
        const endpoints = [{ method: 'DELETE', path: '/orders/{id}', scope: 'orders.admin', allowedClientIds: ['c1', 'c2'] }];
        const updated = await store.services.update(service.serviceId, { endpoints, description: 'changed' }, 1);
        expect(updated).toMatchObject({ endpoints, description: 'changed', version: 2 });
        expect(await store.services.get(service.serviceId)).toEqual(updated);
        await expectCode(store.services.update(service.serviceId, { name: 'stale' }, 1), 'conflict');
        await store.services.delete(service.serviceId);
        expect(await store.services.getByAudience(service.audience)).toBeUndefined();
      });

      it('stores whether a service requires DPoP-bound tokens (RFC 9728 §2), false unless set', async () => {
        const plain = await store.services.create(newService());
        expect((await store.services.get(plain.serviceId)).dpopBoundAccessTokensRequired).toBe(false);
        const dpop = await store.services.create(newService({ dpopBoundAccessTokensRequired: true }));
        expect(await store.services.getByAudience(dpop.audience)).toMatchObject({ dpopBoundAccessTokensRequired: true });
        const off = await store.services.update(dpop.serviceId, { dpopBoundAccessTokensRequired: false }, 1);
        expect(off).toMatchObject({ dpopBoundAccessTokensRequired: false, version: 2 });
        expect(await store.services.get(dpop.serviceId)).toEqual(off);
      });
    });

    describe('signing keys', () => {
      it('round-trips and lists newest first', async () => {
        const older = await store.keys.create(newKey({ createdAt: new Date(Date.UTC(2030, 0, 1)) }));
        const newer = await store.keys.create(newKey({ createdAt: new Date(Date.UTC(2030, 0, 2)), alg: 'RS256' }));
        expect(await store.keys.get(older.kid)).toEqual(older);
        const kids = (await store.keys.list()).map((k) => k.kid).filter((kid) => kid === older.kid || kid === newer.kid);
        expect(kids).toEqual([newer.kid, older.kid]);
        await expectCode(store.keys.create(newKey({ kid: older.kid })), 'already_exists');
        await expectCode(store.keys.get(uniqueId('missing')), 'not_found');
        await expectCode(store.keys.setStatus(uniqueId('missing'), 'active', new Date()), 'not_found');
      });

      it('moves next → active → retired and never back', async () => {
        const key = await store.keys.create(newKey());
        const t1 = new Date(Date.UTC(2030, 1, 1));
        const t2 = new Date(Date.UTC(2030, 2, 1));
        const until = new Date(Date.UTC(2030, 3, 1));
        const active = await store.keys.setStatus(key.kid, 'active', t1);
        expect(active).toMatchObject({ status: 'active', activatedAt: t1 });
        expect((await store.keys.setStatus(key.kid, 'active', t2)).activatedAt).toEqual(t1);
        const retired = await store.keys.setStatus(key.kid, 'retired', t2, { deleteAfter: until });
        expect(retired).toMatchObject({ status: 'retired', activatedAt: t1, retiredAt: t2, deleteAfter: until });
        expect(await store.keys.get(key.kid)).toEqual(retired);
        await expectCode(store.keys.setStatus(key.kid, 'active', t2), 'conflict');
        await expectCode(store.keys.setStatus(key.kid, 'next', t2), 'conflict');
      });

      it('deletes keys past deleteAfter only', async () => {
        const now = new Date(Date.UTC(2032, 0, 1));
        const expired = await store.keys.create(newKey({ status: 'retired', deleteAfter: new Date(now.getTime() - 1) }));
        const kept = await store.keys.create(newKey({ status: 'retired', deleteAfter: new Date(now.getTime() + 60_000) }));
        expect(await store.keys.deleteExpired(now)).toBeGreaterThanOrEqual(1);
        await expectCode(store.keys.get(expired.kid), 'not_found');
        expect((await store.keys.get(kept.kid)).kid).toBe(kept.kid);
      });
    });

    describe('refresh tokens', () => {
      let clientId: string;
      let userId: string;
      beforeAll(async () => {
        clientId = (await store.clients.create(minimalClient())).clientId;
        userId = (await store.users.create(newUser())).userId;
      });
      const token = (over: Partial<RefreshToken> = {}): RefreshToken => ({
        tokenHash: uniqueId('rt'),
        familyId: uniqueId('fam'),
        clientId,
        userId,
        scope: ['openid', 'orders.read'],
        audience: ['https://api.example.com'],
        createdAt: new Date(Date.now() - 1000),
        expiresAt: new Date(Date.now() + 3_600_000),
        ...over,
      });

      it('round-trips, rejects duplicates and unknown owners', async () => {
        const t = token({ authTime: new Date(Date.UTC(2030, 0, 1)) });
        expect(await store.refreshTokens.create(t)).toEqual(t);
        expect(await store.refreshTokens.get(t.tokenHash)).toEqual(t);
        const noUser = token({ userId: undefined });
        delete noUser.userId;
        await store.refreshTokens.create(noUser);
        expect(await store.refreshTokens.get(noUser.tokenHash)).toEqual(noUser);
        await expectCode(store.refreshTokens.create({ ...t }), 'already_exists');
        await expectCode(store.refreshTokens.create(token({ clientId: uniqueId('ghost') })), 'not_found');
        await expectCode(store.refreshTokens.get(uniqueId('missing')), 'not_found');
      });

      const rotation = (over: Partial<RotationRequest> = {}): RotationRequest => ({ clientId, nextHash: uniqueId('rt'), ...over });

      it('rotates once into a successor copied from the old token; the second use is reuse', async () => {
        const old = await store.refreshTokens.create(token({ authTime: new Date(Date.UTC(2030, 0, 1)) }));
        const now = new Date();
        const req = rotation();
        const first = await store.refreshTokens.rotate(old.tokenHash, req, now);
        expect(first.outcome).toBe('rotated');
        if (first.outcome !== 'rotated') return;
        expect(first.graceful).toBeUndefined();
        expect(first.previous).toEqual({ ...old, rotatedAt: now, replacedBy: req.nextHash });
        // No sliding window: the successor keeps the family's absolute expiry.
        const next: RefreshToken = { ...old, tokenHash: req.nextHash, createdAt: now };
        expect(first.next).toEqual(next);
        expect(await store.refreshTokens.get(req.nextHash)).toEqual(next);
        expect(await store.refreshTokens.get(old.tokenHash)).toEqual({ ...old, rotatedAt: now, replacedBy: req.nextHash });

        const late = rotation();
        const again = await store.refreshTokens.rotate(old.tokenHash, late, new Date());
        expect(again.outcome).toBe('reused');
        if (again.outcome === 'reused') expect(again.previous).toEqual({ ...old, rotatedAt: now, replacedBy: req.nextHash });
        await expectCode(store.refreshTokens.get(late.nextHash), 'not_found');
        expect(await store.refreshTokens.rotate(uniqueId('missing'), rotation(), now)).toEqual({ outcome: 'not_found' });
      });

      it('keeps the claims request\'s ID Token claim names through every rotation, the graceful one too (OIDC Core §5.5, §12.2)', async () => {
        const old = await store.refreshTokens.create(token({ idTokenClaims: ['email', 'email_verified'] }));
        expect(await store.refreshTokens.get(old.tokenHash)).toEqual(old);
        const now = new Date();
        const first = rotation();
        expect((await store.refreshTokens.rotate(old.tokenHash, first, now)).outcome).toBe('rotated');
        expect((await store.refreshTokens.get(first.nextHash)).idTokenClaims).toEqual(['email', 'email_verified']);
        // The same old token again inside the grace window: the successor comes from the locking path.
        const graceful = rotation({ graceMs: 60_000 });
        expect(await store.refreshTokens.rotate(old.tokenHash, graceful, now)).toMatchObject({ outcome: 'rotated', graceful: true });
        expect((await store.refreshTokens.get(graceful.nextHash)).idTokenClaims).toEqual(['email', 'email_verified']);
        // A token without them stays without them (NULL, not an empty list).
        const bare = await store.refreshTokens.create(token());
        const req = rotation();
        await store.refreshTokens.rotate(bare.tokenHash, req, now);
        expect(await store.refreshTokens.get(req.nextHash)).not.toHaveProperty('idTokenClaims');
      });

      it('keeps the DPoP key binding (RFC 9449 §5) through rotation, also in the grace window', async () => {
        const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
        const old = await store.refreshTokens.create(token({ dpopJkt: jkt }));
        expect(await store.refreshTokens.get(old.tokenHash)).toEqual(old);
        const now = new Date();
        const first = await store.refreshTokens.rotate(old.tokenHash, rotation({ graceMs: 60_000 }), now);
        expect(first.outcome === 'rotated' && first.next.dpopJkt).toBe(jkt);
        if (first.outcome === 'rotated') expect((await store.refreshTokens.get(first.next.tokenHash)).dpopJkt).toBe(jkt);
        // The second rotation inside the grace window takes the locking path on every engine.
        const sibling = await store.refreshTokens.rotate(old.tokenHash, rotation({ graceMs: 60_000 }), new Date(now.getTime() + 1));
        expect(sibling.outcome === 'rotated' && sibling.graceful && sibling.next.dpopJkt).toBe(jkt);
        if (sibling.outcome === 'rotated') expect((await store.refreshTokens.get(sibling.next.tokenHash)).dpopJkt).toBe(jkt);
      });

      it('keeps the client-certificate binding (RFC 8705 §4, migration 0006) through rotation, also in the grace window', async () => {
        const x5t = 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2';
        const old = await store.refreshTokens.create(token({ certificateThumbprint: x5t }));
        expect(await store.refreshTokens.get(old.tokenHash)).toEqual(old);
        const now = new Date();
        const first = await store.refreshTokens.rotate(old.tokenHash, rotation({ graceMs: 60_000 }), now);
        expect(first.outcome === 'rotated' && first.next.certificateThumbprint).toBe(x5t);
        if (first.outcome === 'rotated') expect((await store.refreshTokens.get(first.next.tokenHash)).certificateThumbprint).toBe(x5t);
        const sibling = await store.refreshTokens.rotate(old.tokenHash, rotation({ graceMs: 60_000 }), new Date(now.getTime() + 1));
        expect(sibling.outcome === 'rotated' && sibling.graceful && sibling.next.certificateThumbprint).toBe(x5t);
        if (sibling.outcome === 'rotated') expect((await store.refreshTokens.get(sibling.next.tokenHash)).certificateThumbprint).toBe(x5t);
        // An unbound token stays unbound.
        expect((await store.refreshTokens.get((await store.refreshTokens.create(token())).tokenHash)).certificateThumbprint).toBeUndefined();
      });

      it('rotates a token without a user or auth time into one without them', async () => {
        const bare = token();
        delete bare.userId;
        const old = await store.refreshTokens.create(bare);
        const req = rotation();
        const now = new Date();
        const result = await store.refreshTokens.rotate(old.tokenHash, req, now);
        expect(result).toMatchObject({ outcome: 'rotated' });
        expect(await store.refreshTokens.get(req.nextHash)).toEqual({ ...bare, tokenHash: req.nextHash, createdAt: now });
      });

      it('refuses another client, an expired and a revoked token without consuming anything or calling it reuse', async () => {
        const now = new Date();
        const other = (await store.clients.create(minimalClient())).clientId;
        const live = await store.refreshTokens.create(token());
        const stranger = rotation({ clientId: other });
        expect(await store.refreshTokens.rotate(live.tokenHash, stranger, now)).toEqual({ outcome: 'refused', reason: 'client', previous: live });
        await expectCode(store.refreshTokens.get(stranger.nextHash), 'not_found');
        // The stranger burnt nothing: the rightful client still rotates it.
        expect(await store.refreshTokens.get(live.tokenHash)).toEqual(live);
        expect((await store.refreshTokens.rotate(live.tokenHash, rotation(), now)).outcome).toBe('rotated');

        const revoked = await store.refreshTokens.create(token());
        await store.refreshTokens.revoke(revoked.tokenHash, now);
        expect(await store.refreshTokens.rotate(revoked.tokenHash, rotation(), now)).toMatchObject({ outcome: 'refused', reason: 'revoked' });
        const expired = await store.refreshTokens.create(token({ expiresAt: new Date(now.getTime() - 1) }));
        const successor = rotation();
        expect(await store.refreshTokens.rotate(expired.tokenHash, successor, now)).toEqual({ outcome: 'refused', reason: 'expired', previous: expired });
        await expectCode(store.refreshTokens.get(successor.nextHash), 'not_found');
        expect((await store.refreshTokens.get(expired.tokenHash)).rotatedAt).toBeUndefined();
      });

      it("refuses the token of a disabled account without consuming it, and rotates it once the account is enabled again", async () => {
        const u = (await store.users.create(newUser())).userId;
        const held = await store.refreshTokens.create(token({ userId: u }));
        await store.users.update(u, { disabled: true });
        const req = rotation();
        expect(await store.refreshTokens.rotate(held.tokenHash, req, new Date())).toEqual({ outcome: 'refused', reason: 'user', previous: held });
        await expectCode(store.refreshTokens.get(req.nextHash), 'not_found');
        expect(await store.refreshTokens.get(held.tokenHash)).toEqual(held);
        await store.users.update(u, { disabled: false });
        expect((await store.refreshTokens.rotate(held.tokenHash, rotation(), new Date())).outcome).toBe('rotated');
      });

      it('lets exactly one of 10 concurrent rotations win', async () => {
        const old = await store.refreshTokens.create(token());
        const successors = Array.from({ length: 10 }, () => rotation());
        const results = await Promise.all(successors.map((s) => store.refreshTokens.rotate(old.tokenHash, s, new Date())));
        expect(results.filter((r) => r.outcome === 'rotated')).toHaveLength(1);
        expect(results.filter((r) => r.outcome === 'reused')).toHaveLength(9);
        const stored = await Promise.all(
          successors.map((s) => store.refreshTokens.get(s.nextHash).then(() => true, () => false)),
        );
        expect(stored.filter(Boolean)).toHaveLength(1);
        const winner = successors[results.findIndex((r) => r.outcome === 'rotated')];
        expect((await store.refreshTokens.get(old.tokenHash)).replacedBy).toBe(winner?.nextHash);
      });

      it('within the reuse grace window rotates the same old token again into a sibling, never after it', async () => {
        const old = await store.refreshTokens.create(token());
        const t0 = new Date();
        const first = rotation({ graceMs: 10_000 });
        expect((await store.refreshTokens.rotate(old.tokenHash, first, t0)).outcome).toBe('rotated');
        const sibling = rotation({ graceMs: 10_000 });
        const at = new Date(t0.getTime() + 10_000);
        const again = await store.refreshTokens.rotate(old.tokenHash, sibling, at);
        expect(again).toMatchObject({ outcome: 'rotated', graceful: true });
        // A rotation that read its clock just before the winner's (it queued on the row lock) is inside the window too.
        expect(await store.refreshTokens.rotate(old.tokenHash, rotation({ graceMs: 10_000 }), new Date(t0.getTime() - 5))).toMatchObject({ outcome: 'rotated', graceful: true });
        expect(await store.refreshTokens.get(sibling.nextHash)).toEqual({ ...old, tokenHash: sibling.nextHash, createdAt: at });
        // The window counts from the first rotation: it never slides.
        expect(await store.refreshTokens.get(old.tokenHash)).toMatchObject({ rotatedAt: t0, replacedBy: first.nextHash });
        const late = rotation({ graceMs: 10_000 });
        expect((await store.refreshTokens.rotate(old.tokenHash, late, new Date(t0.getTime() + 10_001))).outcome).toBe('reused');
        await expectCode(store.refreshTokens.get(late.nextHash), 'not_found');
        // Without a window (the default) the second use is reuse at once.
        expect((await store.refreshTokens.rotate(old.tokenHash, rotation(), new Date(t0.getTime() + 1))).outcome).toBe('reused');
        // A revoked family has no window: its tokens are refused, not rotated.
        await store.refreshTokens.revokeFamily(old.familyId, new Date(t0.getTime() + 2));
        expect((await store.refreshTokens.rotate(old.tokenHash, rotation({ graceMs: 10_000 }), new Date(t0.getTime() + 3))).outcome).toBe('refused');
        expect((await store.refreshTokens.rotate(first.nextHash, rotation({ graceMs: 10_000 }), new Date(t0.getTime() + 3))).outcome).toBe('refused');
      });

      it('lets all of 10 concurrent rotations win within the grace window, each with its own successor', async () => {
        const old = await store.refreshTokens.create(token());
        const now = new Date();
        const successors = Array.from({ length: 10 }, () => rotation({ graceMs: 5_000 }));
        const results = await Promise.all(successors.map((s) => store.refreshTokens.rotate(old.tokenHash, s, now)));
        expect(results.every((r) => r.outcome === 'rotated')).toBe(true);
        expect(results.filter((r) => r.outcome === 'rotated' && r.graceful === true)).toHaveLength(9);
        for (const s of successors) expect((await store.refreshTokens.get(s.nextHash)).familyId).toBe(old.familyId);
      });

      it('revokes a whole family, one token idempotently', async () => {
        const a = await store.refreshTokens.create(token());
        const b = { tokenHash: uniqueId('rt') };
        await store.refreshTokens.rotate(a.tokenHash, rotation({ nextHash: b.tokenHash }), new Date());
        const other = await store.refreshTokens.create(token());
        const now = new Date();
        expect(await store.refreshTokens.revokeFamily(a.familyId, now)).toBe(2);
        expect(await store.refreshTokens.revokeFamily(a.familyId, now)).toBe(0);
        expect((await store.refreshTokens.get(a.tokenHash)).revokedAt).toEqual(now);
        expect((await store.refreshTokens.get(b.tokenHash)).revokedAt).toEqual(now);
        expect((await store.refreshTokens.get(other.tokenHash)).revokedAt).toBeUndefined();

        const first = new Date(Date.UTC(2030, 0, 1));
        await store.refreshTokens.revoke(other.tokenHash, first);
        await store.refreshTokens.revoke(other.tokenHash, new Date());
        expect((await store.refreshTokens.get(other.tokenHash)).revokedAt).toEqual(first);
        await expectCode(store.refreshTokens.revoke(uniqueId('missing'), now), 'not_found');
      });

      it('lists active tokens by user and client in pages, newest first', async () => {
        const c = (await store.clients.create(minimalClient())).clientId;
        const u = (await store.users.create(newUser())).userId;
        const base = Date.now() - 100_000;
        const active = [];
        for (let i = 0; i < 7; i++) {
          active.push(await store.refreshTokens.create(token({ clientId: c, userId: u, createdAt: new Date(base + i * 1000) })));
        }
        const revoked = await store.refreshTokens.create(token({ clientId: c, userId: u }));
        await store.refreshTokens.revoke(revoked.tokenHash, new Date());
        await store.refreshTokens.create(token({ clientId: c, userId: u, expiresAt: new Date(Date.now() - 1) }));
        const rotated = await store.refreshTokens.create(token({ clientId: c, userId: u }));
        const successor = await store.refreshTokens.rotate(rotated.tokenHash, rotation({ clientId: c }), new Date(base - 5000));
        expect(successor.outcome).toBe('rotated');

        const expected = [...active.map((t) => t.tokenHash).reverse(), ''];
        for (const list of [
          (r: { pageSize: number; pageToken?: string }) => store.refreshTokens.listByUser(u, r),
          (r: { pageSize: number; pageToken?: string }) => store.refreshTokens.listByClient(c, r),
        ]) {
          const pages = await collectPages(list, 3);
          expect(pages.map((p) => p.length)).toEqual([3, 3, 2]);
          // 7 active plus the rotated token's successor, which is the oldest by createdAt.
          expect(pages.flat().slice(0, 7)).toEqual(expected.slice(0, 7));
          await expectCode(list({ pageSize: 3, pageToken: 'not-a-token!' }), 'invalid_request');
        }
      });

      it('revokes by user and by client', async () => {
        const c = (await store.clients.create(minimalClient())).clientId;
        const u1 = (await store.users.create(newUser())).userId;
        const u2 = (await store.users.create(newUser())).userId;
        await store.refreshTokens.create(token({ clientId: c, userId: u1 }));
        await store.refreshTokens.create(token({ clientId: c, userId: u1 }));
        const keep = await store.refreshTokens.create(token({ clientId: c, userId: u2 }));
        const now = new Date();
        expect(await store.refreshTokens.revokeByUser(u1, now)).toBe(2);
        expect((await store.refreshTokens.listByUser(u1)).items).toEqual([]);
        expect((await store.refreshTokens.listByClient(c)).items.map((t) => t.tokenHash)).toEqual([keep.tokenHash]);
        expect(await store.refreshTokens.revokeByClient(c, now)).toBe(1);
        expect((await store.refreshTokens.listByClient(c)).items).toEqual([]);
      });

      it('deletes expired tokens and follows deleted owners', async () => {
        const now = new Date(Date.now() + 10 * 365 * 86_400_000);
        const stale = await store.refreshTokens.create(token({ expiresAt: new Date(now.getTime() - 1) }));
        const fresh = await store.refreshTokens.create(token({ expiresAt: new Date(now.getTime() + 60_000) }));
        expect(await store.refreshTokens.deleteExpired(now)).toBeGreaterThanOrEqual(1);
        await expectCode(store.refreshTokens.get(stale.tokenHash), 'not_found');
        expect((await store.refreshTokens.get(fresh.tokenHash)).tokenHash).toBe(fresh.tokenHash);

        const c = (await store.clients.create(minimalClient())).clientId;
        const orphan = await store.refreshTokens.create(token({ clientId: c }));
        await store.clients.delete(c);
        await expectCode(store.refreshTokens.get(orphan.tokenHash), 'not_found');
      });
    });

    describe('revocations', () => {
      // Buckets far from what the other tests and a real deployment use, one per test, so the
      // listings see only this test's rows although the store is shared.
      let nextBucket = 2_000_000_000 + Math.floor(Math.random() * 100_000_000);
      const bucket = () => nextBucket++;
      const at = (offsetMs: number) => new Date(Date.UTC(2031, 0, 1) + offsetMs);

      it('records revocations and lists the live ones of a bucket, by kind and id', async () => {
        const b = bucket();
        const other = bucket();
        const now = at(0);
        await store.revocations.add({ kind: 'access_token', id: 'jti-b', bucket: b, revokedAt: at(-1000), expiresAt: at(60_000) });
        await store.revocations.add({ kind: 'access_token', id: 'jti-a', bucket: b, expiresAt: at(1) });
        await store.revocations.add({ kind: 'access_token', id: 'jti-gone', bucket: b, expiresAt: now });
        await store.revocations.add({ kind: 'access_token', id: 'jti-elsewhere', bucket: other, expiresAt: at(60_000) });
        const listed = await store.revocations.listBucket(b, now);
        expect(listed.map((r) => r.id)).toEqual(['jti-a', 'jti-b']);
        expect(listed[1]).toEqual({ kind: 'access_token', id: 'jti-b', bucket: b, revokedAt: at(-1000), expiresAt: at(60_000) });
        expect(listed[0]!.revokedAt).toBeInstanceOf(Date);
        expect((await store.revocations.listBucket(other, now)).map((r) => r.id)).toEqual(['jti-elsewhere']);
        expect(await store.revocations.listBucket(bucket(), now)).toEqual([]);
      });

      it('is idempotent: a repeat keeps the first revokedAt and the later expiry, never shortening it', async () => {
        const b = bucket();
        await store.revocations.add({ kind: 'access_token', id: 'jti-again', bucket: b, revokedAt: at(0), expiresAt: at(120_000) });
        await store.revocations.add({ kind: 'access_token', id: 'jti-again', bucket: b, revokedAt: at(5_000), expiresAt: at(60_000) });
        expect(await store.revocations.listBucket(b, at(90_000))).toEqual([
          { kind: 'access_token', id: 'jti-again', bucket: b, revokedAt: at(0), expiresAt: at(120_000) },
        ]);
        await store.revocations.add({ kind: 'access_token', id: 'jti-again', bucket: b, expiresAt: at(300_000) });
        expect((await store.revocations.listBucket(b, at(200_000)))[0]!.expiresAt).toEqual(at(300_000));
      });

      it('keeps ids apart exactly (case, trailing space, unicode) and accepts 255 characters', async () => {
        const b = bucket();
        const ids = ['Jti', 'jti', 'jti ', 'jtï', 'x'.repeat(255)];
        for (const id of ids) await store.revocations.add({ kind: 'access_token', id, bucket: b, expiresAt: at(60_000) });
        expect((await store.revocations.listBucket(b, at(0))).map((r) => r.id).sort()).toEqual([...ids].sort());
      });

      it('keeps a grant revocation apart from an access-token revocation with the same id', async () => {
        const b = bucket();
        await store.revocations.add({ kind: 'grant', id: 'same-id', bucket: b, revokedAt: at(0), expiresAt: at(60_000) });
        await store.revocations.add({ kind: 'access_token', id: 'same-id', bucket: b, revokedAt: at(0), expiresAt: at(30_000) });
        const listed = await store.revocations.listBucket(b, at(0));
        expect(listed.map((r) => [r.kind, r.id, r.expiresAt]).sort()).toEqual([
          ['access_token', 'same-id', at(30_000)],
          ['grant', 'same-id', at(60_000)],
        ]);
        expect((await store.revocations.listBucket(b, at(40_000))).map((r) => r.kind)).toEqual(['grant']);
      });

      it('refuses bad input with invalid_request and records nothing', async () => {
        const b = bucket();
        const ok = { kind: 'access_token' as const, id: 'jti-ok', bucket: b, expiresAt: at(60_000) };
        await expectCode(store.revocations.add({ ...ok, id: '' }), 'invalid_request');
        await expectCode(store.revocations.add({ ...ok, id: 'x'.repeat(256) }), 'invalid_request');
        await expectCode(store.revocations.add({ ...ok, bucket: -1 }), 'invalid_request');
        await expectCode(store.revocations.add({ ...ok, bucket: 1.5 }), 'invalid_request');
        await expectCode(store.revocations.add({ ...ok, bucket: 2 ** 31 }), 'invalid_request');
        await expectCode(store.revocations.add({ ...ok, kind: 'refresh_token' as never }), 'invalid_request');
        await expectCode(store.revocations.add({ ...ok, expiresAt: new Date(Number.NaN) }), 'invalid_request');
        expect(await store.revocations.listBucket(b, at(0))).toEqual([]);
      });

      it('prunes the expired ones and keeps the rest', async () => {
        const b = bucket();
        // Far in the future, so rows of other tests (and runs) are pruned too and none of ours early.
        const now = new Date(Date.now() + 20 * 365 * 86_400_000);
        await store.revocations.add({ kind: 'access_token', id: 'jti-stale', bucket: b, expiresAt: new Date(now.getTime() - 1) });
        await store.revocations.add({ kind: 'access_token', id: 'jti-fresh', bucket: b, expiresAt: new Date(now.getTime() + 60_000) });
        expect(await store.revocations.deleteExpired(now)).toBeGreaterThanOrEqual(1);
        expect(await store.revocations.deleteExpired(now)).toBe(0);
        expect((await store.revocations.listBucket(b, new Date(0))).map((r) => r.id)).toEqual(['jti-fresh']);
      });
    });

    describe('grant tokens', () => {
      const at = (offsetMs: number) => new Date(Date.UTC(2031, 0, 1) + offsetMs);

      it('records the tokens of a grant and takes the live ones once, leaving other grants alone', async () => {
        const grant = uniqueId('grant');
        const other = uniqueId('grant');
        await store.grantTokens.add({ grantId: grant, jti: 'jti-2', expiresAt: at(60_000) });
        await store.grantTokens.add({ grantId: grant, jti: 'jti-1', expiresAt: at(60_000) });
        await store.grantTokens.add({ grantId: grant, jti: 'jti-1', expiresAt: at(60_000) });
        await store.grantTokens.add({ grantId: grant, jti: 'jti-expired', expiresAt: at(0) });
        await store.grantTokens.add({ grantId: other, jti: 'jti-other', expiresAt: at(60_000) });
        expect(await store.grantTokens.take(grant, at(0))).toEqual([
          { grantId: grant, jti: 'jti-1', expiresAt: at(60_000) },
          { grantId: grant, jti: 'jti-2', expiresAt: at(60_000) },
        ]);
        expect(await store.grantTokens.take(grant, at(0))).toEqual([]);
        await store.grantTokens.add({ grantId: grant, jti: 'jti-3', expiresAt: at(60_000) });
        expect((await store.grantTokens.take(grant, at(0))).map((t) => t.jti)).toEqual(['jti-3']);
        expect((await store.grantTokens.take(other, at(0))).map((t) => t.jti)).toEqual(['jti-other']);
        expect(await store.grantTokens.take(uniqueId('grant'), at(0))).toEqual([]);
      });

      it('gives each token to exactly one of concurrent takers', async () => {
        const grant = uniqueId('grant');
        for (let i = 0; i < 5; i++) await store.grantTokens.add({ grantId: grant, jti: `jti-${i}`, expiresAt: at(60_000) });
        const taken = await Promise.all(Array.from({ length: 4 }, () => store.grantTokens.take(grant, at(0))));
        expect(taken.flat().map((t) => t.jti).sort()).toEqual(['jti-0', 'jti-1', 'jti-2', 'jti-3', 'jti-4']);
      });

      it('refuses bad input with invalid_request and prunes expired rows', async () => {
        const grant = uniqueId('grant');
        await expectCode(store.grantTokens.add({ grantId: '', jti: 'j', expiresAt: at(1) }), 'invalid_request');
        await expectCode(store.grantTokens.add({ grantId: grant, jti: 'j'.repeat(256), expiresAt: at(1) }), 'invalid_request');
        await expectCode(store.grantTokens.add({ grantId: grant, jti: 'j', expiresAt: new Date(Number.NaN) }), 'invalid_request');
        const now = new Date(Date.now() + 20 * 365 * 86_400_000);
        await store.grantTokens.add({ grantId: grant, jti: 'stale', expiresAt: new Date(now.getTime() - 1) });
        await store.grantTokens.add({ grantId: grant, jti: 'fresh', expiresAt: new Date(now.getTime() + 60_000) });
        expect(await store.grantTokens.deleteExpired(now)).toBeGreaterThanOrEqual(1);
        expect((await store.grantTokens.take(grant, new Date(0))).map((t) => t.jti)).toEqual(['fresh']);
      });
    });

    describe('consents', () => {
      it('upserts, keeping createdAt', async () => {
        const clientId = (await store.clients.create(minimalClient())).clientId;
        const userId = (await store.users.create(newUser())).userId;
        await expectCode(store.consents.get(userId, clientId), 'not_found');
        const t1 = new Date(Date.UTC(2030, 0, 1));
        const t2 = new Date(Date.UTC(2030, 0, 2));
        const first = await store.consents.put({ userId, clientId, scopes: ['openid'], resourceScopes: [' openid'], at: t1 });
        expect(first).toEqual({ userId, clientId, scopes: ['openid'], resourceScopes: [' openid'], createdAt: t1, updatedAt: t1 });
        // The (resource, scope) pairs (RFC 8707 §2.1) are replaced with the scopes, kept as given.
        const second = await store.consents.put({ userId, clientId, scopes: ['openid', 'profile'], resourceScopes: [' openid', 'https://api.a.test/ profile'], at: t2 });
        expect(second).toEqual({ userId, clientId, scopes: ['openid', 'profile'], resourceScopes: [' openid', 'https://api.a.test/ profile'], createdAt: t1, updatedAt: t2 });
        expect(await store.consents.get(userId, clientId)).toEqual(second);
        await store.consents.delete(userId, clientId);
        await expectCode(store.consents.get(userId, clientId), 'not_found');
        await expectCode(store.consents.delete(userId, clientId), 'not_found');
        await expectCode(store.consents.put({ userId: uniqueId('ghost'), clientId, scopes: [], resourceScopes: [] }), 'not_found');
      });

      it('lists by user in pages and follows deleted users', async () => {
        const userId = (await store.users.create(newUser())).userId;
        const clients = [];
        for (let i = 0; i < 7; i++) clients.push((await store.clients.create(minimalClient())).clientId);
        for (const clientId of clients) await store.consents.put({ userId, clientId, scopes: ['openid'], resourceScopes: [' openid'] });
        const pages = await collectPages((r) => store.consents.listByUser(userId, r), 3, (c) => c.clientId);
        expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(pages.flat()).toEqual([...clients].sort());
        await expectCode(store.consents.listByUser(userId, { pageToken: '%%%' }), 'invalid_request');
        await store.users.delete(userId);
        expect((await store.consents.listByUser(userId)).items).toEqual([]);
      });
    });

    describe('audit', () => {
      it('appends and lists newest first with filters', async () => {
        const subject = uniqueId('subject');
        const clientId = uniqueId('client');
        const at = new Date(Date.UTC(2030, 0, 1));
        const first = await store.audit.append({ type: 'login.failure', subject, ip: '192.0.2.1', at, details: { reason: 'bad password', attempt: 1 } });
        expect(first).toEqual({ id: first.id, type: 'login.failure', subject, ip: '192.0.2.1', at, details: { reason: 'bad password', attempt: 1 } });
        expect(typeof first.id).toBe('string');
        await store.audit.append({ type: 'login.success', subject, actor: subject });
        await store.audit.append({ type: 'token.issued', subject, clientId, details: { scope: ['openid'] } });
        await store.audit.append({ type: 'token.issued', subject: uniqueId('other'), clientId });

        const all = await store.audit.list({ subject });
        expect(all.items.map((e) => e.type)).toEqual(['token.issued', 'login.success', 'login.failure']);
        expect(all.nextPageToken).toBe('');
        expect((await store.audit.list({ subject, type: 'token.issued' })).items).toHaveLength(1);
        expect((await store.audit.list({ clientId })).items).toHaveLength(2);
        expect((await store.audit.list({ clientId, subject })).items[0]?.details).toEqual({ scope: ['openid'] });
      });

      it('appends a batch in order with every field kept', async () => {
        const subject = uniqueId('batch');
        const at = new Date(Date.UTC(2031, 5, 1, 12, 0, 0, 123));
        await store.audit.appendMany([]);
        await store.audit.appendMany([
          { type: 'token.issued', subject, clientId: 'c1', ip: '198.51.100.7', actor: 'a', at, details: { jti: 'j1', n: 1, nested: { ok: true } } },
          { type: 'token.revoked', subject, details: { jti: 'j1' } },
          { type: 'login.failure', subject },
        ]);
        const items = (await store.audit.list({ subject })).items;
        expect(items.map((e) => e.type)).toEqual(['login.failure', 'token.revoked', 'token.issued']);
        expect(items[2]).toEqual({ id: items[2]!.id, type: 'token.issued', subject, clientId: 'c1', ip: '198.51.100.7', actor: 'a', at, details: { jti: 'j1', n: 1, nested: { ok: true } } });
        expect(items[0]?.details).toEqual({});
      });

      it('pages through events', async () => {
        const subject = uniqueId('subject');
        const ids = [];
        for (let i = 0; i < 7; i++) ids.push((await store.audit.append({ type: 'token.revoked', subject, details: { i } })).id);
        const pages = await collectPages((r) => store.audit.list({ ...r, subject }), 3, (e) => e.id);
        expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(pages.flat()).toEqual([...ids].reverse());
        await expectCode(store.audit.list({ subject, pageToken: 'bm9wZQ' }), 'invalid_request');
      });

      it('filters by type prefix literally, actor and since', async () => {
        const subject = uniqueId('filters');
        const early = new Date(Date.UTC(2032, 0, 1));
        const late = new Date(Date.UTC(2032, 0, 2));
        await store.audit.append({ type: 'client.created', subject, actor: 'admin-a', at: early });
        await store.audit.append({ type: 'client.deleted', subject, actor: 'admin-b', at: late });
        // `_` and `%` would be wildcards in a LIKE pattern: the prefix must match them literally.
        await store.audit.append({ type: 'clientXcreated', subject, actor: 'admin-a', at: late });
        await store.audit.append({ type: 'login.failure', subject, at: late });

        const types = async (filter: Parameters<typeof store.audit.list>[0]) => (await store.audit.list({ subject, ...filter })).items.map((e) => e.type);
        expect(await types({ typePrefix: 'client.' })).toEqual(['client.deleted', 'client.created']);
        expect(await types({ typePrefix: 'client_' })).toEqual([]);
        expect(await types({ typePrefix: 'client%' })).toEqual([]);
        expect(await types({ actor: 'admin-a' })).toEqual(['clientXcreated', 'client.created']);
        expect(await types({ since: late })).toEqual(['login.failure', 'clientXcreated', 'client.deleted']);
        expect(await types({ since: late, typePrefix: 'client.', actor: 'admin-b' })).toEqual(['client.deleted']);
        expect(await types({ since: new Date(late.getTime() + 1) })).toEqual([]);
      });

      it('tails after a cursor oldest first, each event once', async () => {
        const subject = uniqueId('tail');
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push((await store.audit.append({ type: 'token.revoked', subject, details: { i } })).id);
        const cursor = ids[1]!;
        const first = await store.audit.list({ subject, after: cursor, pageSize: 2 });
        expect(first.items.map((e) => e.id)).toEqual([ids[2], ids[3]]);
        expect(first.nextPageToken).toBe('');
        const second = await store.audit.list({ subject, after: first.items[1]!.id, pageSize: 2 });
        expect(second.items.map((e) => e.id)).toEqual([ids[4]]);
        expect((await store.audit.list({ subject, after: ids[4]! })).items).toEqual([]);
        const later = (await store.audit.append({ type: 'token.revoked', subject })).id;
        expect((await store.audit.list({ subject, after: ids[4]! })).items.map((e) => e.id)).toEqual([later]);
        // Filters apply to the tail as well.
        await store.audit.append({ type: 'login.failure', subject });
        expect((await store.audit.list({ subject, after: later, type: 'token.revoked' })).items).toEqual([]);
      });

      it('refuses an unbounded or malformed audit filter', async () => {
        await expectCode(store.audit.list({ after: '12a' }), 'invalid_request');
        await expectCode(store.audit.list({ after: '1'.repeat(19) }), 'invalid_request');
        await expectCode(store.audit.list({ after: '1', pageToken: 'eyJ9' }), 'invalid_request');
        await expectCode(store.audit.list({ typePrefix: 'x'.repeat(256) }), 'invalid_request');
        await expectCode(store.audit.list({ actor: 'x'.repeat(256) }), 'invalid_request');
        await expectCode(store.audit.list({ since: new Date(Number.NaN) }), 'invalid_request');
        await expectCode(store.audit.list({ since: new Date(Date.UTC(10000, 0, 1)) }), 'invalid_request');
        await expectCode(store.audit.list({ since: new Date(-1) }), 'invalid_request');
        expect((await store.audit.list({ since: new Date(Date.UTC(9999, 11, 31)) })).items).toEqual([]);
      });
    });

    describe('pagination of whole tables', () => {
      let fresh: Store;
      beforeAll(async () => {
        fresh = await factory();
      });
      afterAll(async () => {
        await fresh?.close();
      });

      it('pages clients 3, 3, 1 in a stable order, filtering by type', async () => {
        const ids = [];
        for (let i = 0; i < 7; i++) ids.push((await fresh.clients.create(minimalClient())).clientId);
        await fresh.clients.create({ ...minimalClient(), clientType: 'trusted' });
        const byType = (r: { pageSize: number; pageToken?: string }) => fresh.clients.list({ ...r, filter: { clientType: 'public' } });
        const pages = await collectPages(byType, 3, (c) => c.clientId);
        expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(pages.flat()).toEqual([...ids].sort());
        expect(await collectPages(byType, 3, (c) => c.clientId)).toEqual(pages);
        expect((await fresh.clients.list()).items).toHaveLength(8);
      });

      it('pages users and services the same way', async () => {
        const users = [];
        const services = [];
        for (let i = 0; i < 7; i++) {
          users.push((await fresh.users.create(newUser())).userId);
          services.push((await fresh.services.create(newService())).serviceId);
        }
        const userPages = await collectPages((r) => fresh.users.list(r), 3, (u) => u.userId);
        expect(userPages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(userPages.flat()).toEqual([...users].sort());
        const servicePages = await collectPages((r) => fresh.services.list(r), 3, (s) => s.serviceId);
        expect(servicePages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(servicePages.flat()).toEqual([...services].sort());
      });

      it('rejects bad page tokens and sizes', async () => {
        await expectCode(fresh.clients.list({ pageToken: '!!' }), 'invalid_request');
        await expectCode(fresh.users.list({ pageToken: Buffer.from('{"a":1}').toString('base64url') }), 'invalid_request');
        const page = await fresh.users.list({ pageSize: 1 });
        expect(page.nextPageToken).not.toBe('');
        // A token belongs to the listing that issued it.
        await expectCode(fresh.services.list({ pageToken: page.nextPageToken }), 'invalid_request');
        await expectCode(fresh.users.list({ pageSize: -1 }), 'invalid_request');
        await expectCode(fresh.users.list({ pageSize: 2.5 }), 'invalid_request');
        expect((await fresh.users.list({ pageSize: 5000 })).items.length).toBeLessThanOrEqual(1000);
      });
    });
  });
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeDefined();
  expect((err as AuthmeshError).code).toBe(code);
  // Descriptions reach callers; SQL must never.
  expect((err as AuthmeshError).description).not.toMatch(/\b(select|insert|update|delete|where)\b/i);
}

/** Follows nextPageToken to the end and returns each page as the items' keys. */
async function collectPages<T>(
  list: (request: { pageSize: number; pageToken?: string }) => Promise<Page<T>>,
  pageSize: number,
  keyOf: (item: T) => string = (item) => (item as { tokenHash: string }).tokenHash,
): Promise<string[][]> {
  const pages: string[][] = [];
  let pageToken: string | undefined;
  do {
    const page = await list({ pageSize, ...(pageToken === undefined ? {} : { pageToken }) });
    pages.push(page.items.map(keyOf));
    pageToken = page.nextPageToken === '' ? undefined : page.nextPageToken;
    if (pages.length > 100) throw new Error('pagination does not terminate');
  } while (pageToken !== undefined);
  return pages;
}

function fullClient(): NewClient {
  return {
    clientId: uniqueId('client'),
    name: 'Orders console',
    clientType: 'confidential',
    redirectUris: ['https://app.example.com/cb', 'http://127.0.0.1/cb'],
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'orders.read', 'orders.write'],
    tokenEndpointAuthMethod: 'private_key_jwt',
    secretHash: 'a'.repeat(64),
    previousSecretHash: 'b'.repeat(64),
    previousSecretExpiresAt: new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 123)),
    jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'abc', y: 'def', use: 'sig', kid: 'k1' }] },
    skipConsent: true,
    audience: ['https://api.example.com', 'https://orders.example.com'],
    accessTokenTtlSeconds: 300,
    refreshTokenTtlSeconds: 86_400,
    registrationAccessTokenHash: 'c'.repeat(64),
    metadata: { contacts: 'ops@example.com', logo_uri: 'https://app.example.com/logo.png', 'quote"s': "it's" },
  };
}

function minimalClient(): NewClient {
  return {
    clientId: uniqueId('client'),
    name: 'native app',
    clientType: 'public',
    redirectUris: [],
    grantTypes: ['authorization_code'],
    scopes: [],
    tokenEndpointAuthMethod: 'none',
    skipConsent: false,
    audience: [],
    metadata: {},
  };
}

function newUser(over: Partial<NewUser> = {}): NewUser {
  return {
    userId: uniqueId('user'),
    username: uniqueId('user'),
    roles: ['user', 'orders:reader'],
    passwordHash: '$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA',
    disabled: false,
    ...over,
  };
}

function newService(over: Partial<NewService> = {}): NewService {
  return {
    serviceId: uniqueId('service'),
    name: 'orders',
    description: 'the orders API',
    audience: `https://${randomUUID()}.example.com`,
    endpoints: [
      { method: 'GET', path: '/orders/{id}', scope: 'orders.read', allowedClientIds: [] },
      { method: 'POST', path: '/orders', scope: 'orders.write', allowedClientIds: ['console'] },
    ],
    dpopBoundAccessTokensRequired: false,
    ...over,
  };
}

function newKey(over: Partial<NewSigningKey> = {}): NewSigningKey {
  return {
    kid: uniqueId('kid'),
    alg: 'ES256',
    publicJwk: { kty: 'EC', crv: 'P-256', x: 'x-coordinate', y: 'y-coordinate' },
    encryptedPrivateKey: 'v1.nonce.ciphertext',
    status: 'next',
    ...over,
  };
}
