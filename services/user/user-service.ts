// gRPC adapter of the user service: the proto contract over the user store, the password hasher
// and the login guard. Writes go to the store first, then replace the grid copy.
import {
  AuthenticateUserResponse,
  ChangePasswordResponse,
  CheckSessionResponse,
  CreateUserResponse,
  DeleteUserResponse,
  EndSessionResponse,
  GetUserInfoResponse,
  GetUserResponse,
  ListUserSessionsResponse,
  ListUsersResponse,
  RecordSessionClientResponse,
  RevokeAllUserSessionsResponse,
  RevokeUserSessionResponse,
  SetPasswordResponse,
  UpdateUserResponse,
  UserServiceService,
} from '../../gen/ts/authmesh/user/v1/user.js';
import { decodeProtectedHeader } from 'jose';
import { AccessDenied, AlreadyExists, AuthmeshError, InvalidRequest, InvalidToken, NotFound, ServerError } from '../core/errors/index.js';
import { buildClaimSet, generateId, releasedClaims } from '../core/oauth/index.js';
import { ADMIN_READ, ADMIN_READ_OR_MESH, ADMIN_SCOPE, ADMIN_WRITE, auditedAddress, INTERNAL, registration, type CallContext, type Principal } from '../core/rpc/index.js';
import type { UserPatch } from '../core/store/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { LoginGuard } from './login-guard.js';
import type { BackchannelLogout } from './backchannel-logout.js';
import type { EndedSession, LoginSessions } from './login-sessions.js';
import { hashPassword } from './password-hash.js';
import { assertPasswordPolicy, isPlausiblePassword } from './password-policy.js';
import { fieldsOfMask } from './update-mask.js';
import { applyClaimFields, CLAIM_FIELDS } from './user-claims.js';
import { toView, type UserCache } from './user-cache.js';
import { assertUserId, assertUsername, checkDisplayName, checkEmail, checkRoles, isPossibleUsername, versionOfEtag } from './user-fields.js';
import { isLocked, toUserMessage } from './user-message.js';

export const USER_SERVICE_NAME = 'authmesh.user.v1.UserService';

/** The one answer to every failed login, whatever the cause: callers cannot enumerate users. */
export const LOGIN_DENIED = 'invalid username or password';

const PRINTABLE_SHORT = /^[\x20-\x7e]{0,256}$/;
const OPENID_SCOPE = 'openid';
const ALL_CLAIM_FIELDS: ReadonlySet<string> = new Set(CLAIM_FIELDS);
// A public session id (sid): SHA-256 hex.
const SID = /^[0-9a-f]{64}$/;

function actorOf(principal: Principal): string | undefined {
  if (principal.kind === 'token') return principal.subject;
  if (principal.kind === 'mesh') return 'mesh';
  return undefined;
}

export interface UserServiceDeps {
  mesh: MeshDeps;
  cache: UserCache;
  guard: LoginGuard;
  sessions: LoginSessions;
  /** Sends back-channel logout tokens for ended sessions (off the request path). */
  logout: BackchannelLogout;
  /** The user's sub for a client (OIDC Core §8): the user id, or its pairwise identifier (§8.1). */
  subjectOf: SubjectOf;
}

/** The user's sub for the client (OIDC Core §8): the user id for public clients, the pairwise identifier (§8.1) otherwise. */
export type SubjectOf = (client: { subjectType: string; sectorIdentifierUri: string; redirectUris: readonly string[] }, userId: string) => string;

export function createUserServiceRegistration({ mesh, cache, guard, sessions, logout, subjectOf }: UserServiceDeps) {
  const users = mesh.store.users;
  const audit = (type: string, ctx: CallContext, subject: string, details: Record<string, unknown> = {}) =>
    mesh.audit({ type, actor: actorOf(ctx.principal), subject, details });

  /** Audits each ended session (never its secret id) and hands it to the back-channel logout. */
  const announceEnded = async (ended: EndedSession[], reason: string, ctx?: CallContext) => {
    // Back-Channel Logout 1.0 §2.7: the RPs are told; never awaited, so no RP delays this answer.
    logout.notify(ended);
    for (const e of ended) {
      await mesh.audit({ type: 'session.ended', actor: ctx ? actorOf(ctx.principal) : undefined, subject: e.userId, details: { sid: e.sid, reason, clients: e.clientIds.length } });
    }
  };

  /**
   * Ends every login session of the user now (not only at the next CheckSession), so the
   * back-channel logout reaches the relying parties at once. A grid failure is logged: CheckSession
   * still refuses those sessions (password change time, disabled or deleted account).
   */
  const endAllSessions = async (userId: string, reason: string, ctx: CallContext) => {
    try {
      const ended: EndedSession[] = [];
      for (const s of await sessions.listByUser(userId)) {
        const e = await sessions.endBySid(s.sid);
        if (e !== undefined) ended.push(e);
      }
      await announceEnded(ended, reason, ctx);
    } catch (err) {
      mesh.log.warn({ err, userId }, 'ending the login sessions failed');
    }
  };

  const evict = async (userId: string) => {
    try {
      await cache.evict(userId);
    } catch (err) {
      // The store is the record; the copy's TTL bounds how long a missed eviction can show it.
      mesh.log.warn({ err, userId }, 'user cache eviction failed');
    }
  };

  const putCache = async (view: ReturnType<typeof toView>) => {
    try {
      await cache.put(view.userId, view);
    } catch (err) {
      // The store write succeeded; a missed copy is evicted instead, and the TTL bounds the rest.
      mesh.log.warn({ err, userId: view.userId }, 'user cache update failed');
      await evict(view.userId);
    }
  };

  return registration(
    USER_SERVICE_NAME,
    UserServiceService,
    {
      async createUser(req, ctx) {
        const u = req.user;
        if (!u) throw new InvalidRequest('user is required');
        if (u.userId !== '') assertUserId(u.userId);
        const userId = u.userId || generateId('usr');
        assertUsername(u.username);
        const email = checkEmail(u.email);
        const displayName = checkDisplayName(u.displayName);
        const roles = checkRoles(u.roles);
        if (u.locked) throw new InvalidRequest('locked is set only by failed logins and cannot be true on create');
        const claims = applyClaimFields(undefined, u, ALL_CLAIM_FIELDS, { changed: false, resulting: email });
        assertPasswordPolicy(req.password, u.username);
        // Cheap checks before the expensive hash, so a duplicate costs no scrypt; the store's
        // unique constraints still decide races.
        if (await users.getByUsername(u.username)) throw new AlreadyExists('a user with this username already exists');
        if (u.userId !== '' && (await cache.get(userId))) throw new AlreadyExists('a user with this user_id already exists');
        const passwordHash = await hashPassword(req.password);
        const created = await users.create({ userId, username: u.username, email, displayName, roles, passwordHash, disabled: u.disabled, ...(claims ? { claims } : {}) });
        const view = toView(created);
        await putCache(view);
        await audit('user.created', ctx, userId, { username: created.username });
        return CreateUserResponse.fromPartial({ user: toUserMessage(view, mesh.now()) });
      },

      async getUser(req) {
        if (req.userId === '') throw new InvalidRequest('user_id is required');
        const view = await cache.get(req.userId);
        if (!view) throw new NotFound('user not found');
        return GetUserResponse.fromPartial({ user: toUserMessage(view, mesh.now()) });
      },

      async listUsers(req) {
        if (req.pageSize < 0) throw new InvalidRequest('page_size must not be negative');
        const page = await users.list({ pageSize: req.pageSize, pageToken: req.pageToken });
        const now = mesh.now();
        return ListUsersResponse.fromPartial({ users: page.items.map((u) => toUserMessage(toView(u), now)), nextPageToken: page.nextPageToken });
      },

      async updateUser(req, ctx) {
        const u = req.user;
        if (!u || u.userId === '') throw new InvalidRequest('user.user_id is required');
        const { fields, explicit } = fieldsOfMask(req.updateMask);
        const expectedVersion = versionOfEtag(u.etag);
        const current = await users.get(u.userId);
        const patch: UserPatch = {};
        if (fields.has('username')) {
          assertUsername(u.username);
          patch.username = u.username;
        }
        if (fields.has('email')) patch.email = checkEmail(u.email) ?? null;
        if (fields.has('display_name')) patch.displayName = checkDisplayName(u.displayName) ?? null;
        if (fields.has('roles')) patch.roles = checkRoles(u.roles);
        if (fields.has('disabled')) patch.disabled = u.disabled;
        if (CLAIM_FIELDS.some((f) => fields.has(f)) || patch.email !== undefined) {
          const email = patch.email === undefined ? current.email : (patch.email ?? undefined);
          const claims = applyClaimFields(current.claims, u, fields, { changed: email !== current.email, resulting: email });
          patch.claims = claims ?? null;
        }
        let unlocked = false;
        if (fields.has('locked')) {
          if (!u.locked) {
            unlocked = current.failedLoginCount !== 0 || current.lockedUntil !== undefined;
            patch.failedLoginCount = 0;
            patch.lockedUntil = null;
          } else if (explicit || !isLocked(current, mesh.now())) {
            // A full update may echo back locked=true from a read of a locked account (no
            // change); anything else would be an admin locking by hand, which the contract forbids.
            throw new InvalidRequest('locked can only be cleared (set to false) to unlock the account');
          }
        }
        const updated = await users.update(u.userId, patch, expectedVersion);
        const view = toView(updated);
        await putCache(view);
        // A disabled user must not keep minting access tokens with refresh tokens issued before.
        let revoked = 0;
        if (updated.disabled && !current.disabled) revoked = await mesh.store.refreshTokens.revokeByUser(updated.userId, mesh.now());
        if (updated.disabled && !current.disabled) await endAllSessions(updated.userId, 'user_disabled', ctx);
        await audit('user.updated', ctx, updated.userId, { fields: [...fields], ...(revoked > 0 ? { revokedRefreshTokens: revoked } : {}) });
        if (unlocked) await audit('user.unlocked', ctx, updated.userId);
        return UpdateUserResponse.fromPartial({ user: toUserMessage(view, mesh.now()) });
      },

      async deleteUser(req, ctx) {
        if (req.userId === '') throw new InvalidRequest('user_id is required');
        // Revoke before deleting: the SQL schema cascades the rows away, but a store without the
        // cascade must still never leave a usable refresh token of a deleted user.
        const revoked = await mesh.store.refreshTokens.revokeByUser(req.userId, mesh.now());
        await users.delete(req.userId);
        await evict(req.userId);
        await endAllSessions(req.userId, 'user_deleted', ctx);
        await audit('user.deleted', ctx, req.userId, { revokedRefreshTokens: revoked });
        return DeleteUserResponse.fromPartial({});
      },

      async changePassword(req, ctx) {
        const p = ctx.principal;
        // Self-service: without the admin scope a caller may only change their own password.
        if (p.kind !== 'token' || (!p.scopes.includes(ADMIN_SCOPE) && p.subject !== req.userId)) {
          throw new AccessDenied('a user may change only their own password');
        }
        if (req.userId === '') throw new InvalidRequest('user_id is required');
        if (req.currentPassword === '') throw new InvalidRequest('current_password is required');
        const user = await users.get(req.userId);
        assertPasswordPolicy(req.newPassword, user.username, 'new_password');
        if (req.newPassword.normalize('NFKC') === req.currentPassword.normalize('NFKC')) {
          throw new InvalidRequest('new_password must differ from current_password');
        }
        // The current password is checked like a login (lockout, disabled, counted failures):
        // otherwise this RPC would be a password oracle that bypasses the lockout.
        const checked = isPlausiblePassword(req.currentPassword)
          ? await guard.check(user, req.currentPassword, { purpose: 'change_password', actor: p.subject }, { rehash: false })
          : undefined;
        if (!checked) throw new AccessDenied('the current password was not accepted');
        const passwordHash = await hashPassword(req.newPassword);
        const updated = await users.update(checked.userId, { passwordHash, passwordChangedAt: mesh.now() }, checked.version);
        await putCache(toView(updated));
        await endAllSessions(updated.userId, 'password_changed', ctx);
        await audit('user.password_changed', ctx, updated.userId);
        return ChangePasswordResponse.fromPartial({});
      },

      async setPassword(req, ctx) {
        if (req.userId === '') throw new InvalidRequest('user_id is required');
        const user = await users.get(req.userId);
        assertPasswordPolicy(req.newPassword, user.username, 'new_password');
        const passwordHash = await hashPassword(req.newPassword);
        const now = mesh.now();
        // An admin reset hands the user fresh credentials: the failure count and lock go too.
        const updated = await users.update(user.userId, { passwordHash, passwordChangedAt: now, failedLoginCount: 0, lockedUntil: null });
        // After the write, so a token minted with the old password in the meantime is caught too.
        const revoked = await mesh.store.refreshTokens.revokeByUser(user.userId, now);
        await putCache(toView(updated));
        await endAllSessions(user.userId, 'password_set', ctx);
        await audit('user.password_set', ctx, user.userId, { revokedRefreshTokens: revoked });
        return SetPasswordResponse.fromPartial({});
      },

      async authenticateUser(req, ctx) {
        if (req.username === '') throw new InvalidRequest('username is required');
        if (req.password === '') throw new InvalidRequest('password is required');
        if (!PRINTABLE_SHORT.test(req.clientId)) throw new InvalidRequest('client_id must be at most 256 printable ASCII characters');
        // Only the mesh calls this (INTERNAL); its remote_ip must be an IP address.
        const remoteIp = auditedAddress(ctx, req.remoteIp);
        const attempt = { purpose: 'login' as const, username: req.username, clientId: req.clientId || undefined, ip: remoteIp || undefined };
        // A name or password no account can have still costs one verification (no fast path
        // that would tell such requests apart by timing).
        const plausible = isPossibleUsername(req.username) && isPlausiblePassword(req.password);
        const user = plausible ? await users.getByUsername(req.username) : undefined;
        const authenticated = await guard.check(user, plausible ? req.password : '', attempt);
        if (!authenticated) throw new AccessDenied(LOGIN_DENIED);
        const authTime = mesh.now();
        let sessionId = '';
        if (req.startSession) {
          const started = await sessions.start(authenticated.userId, authTime);
          sessionId = started.sessionId;
          await announceEnded(started.evicted, 'evicted');
        }
        await mesh.audit({ type: 'login.success', subject: authenticated.userId, clientId: attempt.clientId, ip: attempt.ip, details: {} });
        return AuthenticateUserResponse.fromPartial({ user: toUserMessage(toView(authenticated), authTime), authTime, sessionId });
      },

      async checkSession(req) {
        if (req.sessionId === '') throw new InvalidRequest('session_id is required');
        if (req.userId === '') throw new InvalidRequest('user_id is required');
        const session = await sessions.get(req.sessionId);
        if (session === undefined || session.userId !== req.userId) return CheckSessionResponse.fromPartial({ active: false });
        const user = await cache.get(req.userId);
        // A lock after failed logins is deliberately not checked: a stranger's guesses must not end
        // the owner's session (see login-guard.ts).
        if (!user || user.disabled) return CheckSessionResponse.fromPartial({ active: false });
        // A password change or reset after the login ends the session: whoever logged in with the
        // old password (perhaps the reason for the reset) is out.
        if (user.passwordChangedAt.getTime() > session.startedAt.getTime()) {
          const ended = await sessions.end(req.sessionId);
          if (ended !== undefined) await announceEnded([ended], 'password_changed');
          return CheckSessionResponse.fromPartial({ active: false });
        }
        return CheckSessionResponse.fromPartial({ active: true });
      },

      async endSession(req) {
        if (req.sessionId === '') throw new InvalidRequest('session_id is required');
        const ended = await sessions.end(req.sessionId);
        if (ended !== undefined) await announceEnded([ended], 'logout');
        return EndSessionResponse.fromPartial({});
      },

      async getUserInfo(_req, ctx) {
        const p = ctx.principal;
        // The access policy below admits only a verified access token holding openid.
        if (p.kind !== 'token') throw new InvalidToken('UserInfo requires a Bearer access token');
        const user = await cache.get(p.subject);
        // OIDC Core §5.3.3: a token whose user is gone or disabled no longer identifies anyone.
        if (!user || user.disabled) throw new InvalidToken('the access token does not identify an active user');
        // RFC 6750 §3.1: the token of a client that no longer exists is no longer valid.
        const client = await mesh.peers.client.getClient({ clientId: p.clientId }).then(
          (r) => r.client,
          (err: unknown) => {
            if (err instanceof AuthmeshError && err.code === 'not_found') throw new InvalidToken('the access token was issued to a client that no longer exists');
            throw err;
          },
        );
        // OIDC Core §5.4 / §5.5: the token's scope decides. The claims parameter's userinfo member
        // is not needed here: releasedClaims grants a requested claim only within a granted scope
        // group, whose claims UserInfo releases anyway, so it cannot change the answer (the access
        // token therefore carries no claims request; see oidc-claims.test.ts).
        const released = releasedClaims(p.scopes, undefined, 'userinfo');
        // OIDC Core §5.3.2: sub is the one the client's ID Tokens carry, pairwise (§8.1) included.
        const sub = client === undefined ? user.userId : subjectOf(client, user.userId);
        const claims = buildClaimSet(sub, user, released);
        const alg = client?.userinfoSignedResponseAlg ?? '';
        if (alg === '') return GetUserInfoResponse.fromPartial({ claims });
        // OIDC Core §5.3.2: a signed UserInfo response carries iss and aud (the client).
        const { jwt } = await mesh.peers.key.signJwt({ claims: { ...claims, iss: mesh.config.issuer, aud: p.clientId }, typ: 'JWT' });
        // OIDC Registration §2: never answer with another algorithm than the one registered.
        if (decodeProtectedHeader(jwt).alg !== alg) throw new ServerError(`UserInfo cannot be signed with ${alg}, the algorithm the client registered`);
        return GetUserInfoResponse.fromPartial({ claims, jwt });
      },

      async listUserSessions(req) {
        if (req.userId === '') throw new InvalidRequest('user_id is required');
        const list = await sessions.listByUser(req.userId);
        return ListUserSessionsResponse.fromPartial({
          sessions: list.map((s) => ({ sid: s.sid, userId: s.userId, authTime: s.startedAt, expireTime: s.expiresAt, clientIds: s.clientIds })),
        });
      },

      async revokeUserSession(req, ctx) {
        if (req.userId === '') throw new InvalidRequest('user_id is required');
        if (!SID.test(req.sid)) throw new InvalidRequest('sid must be a session id as ListUserSessions returns it (64 hex digits)');
        // Another user's session is as unknown as an ended one: a caller naming the wrong user learns nothing.
        const found = await sessions.getBySid(req.sid);
        if (found === undefined || found.userId !== req.userId) throw new NotFound('session not found');
        const ended = await sessions.endBySid(req.sid);
        if (ended === undefined) throw new NotFound('session not found');
        await announceEnded([ended], 'revoked', ctx);
        return RevokeUserSessionResponse.fromPartial({});
      },

      async revokeAllUserSessions(req, ctx) {
        if (req.userId === '') throw new InvalidRequest('user_id is required');
        const ended: EndedSession[] = [];
        for (const s of await sessions.listByUser(req.userId)) {
          const e = await sessions.endBySid(s.sid);
          if (e !== undefined) ended.push(e);
        }
        await announceEnded(ended, 'revoked', ctx);
        return RevokeAllUserSessionsResponse.fromPartial({ revokedCount: ended.length });
      },

      async recordSessionClient(req) {
        if (req.sessionId === '') throw new InvalidRequest('session_id is required');
        if (req.clientId === '' || !PRINTABLE_SHORT.test(req.clientId)) throw new InvalidRequest('client_id must be 1 to 256 printable ASCII characters');
        return RecordSessionClientResponse.fromPartial({ recorded: await sessions.recordClient(req.sessionId, req.clientId) });
      },
    },
    {
      createUser: ADMIN_WRITE,
      getUser: ADMIN_READ_OR_MESH,
      listUsers: ADMIN_READ,
      updateUser: ADMIN_WRITE,
      deleteUser: ADMIN_WRITE,
      changePassword: { kind: 'scopes', anyOf: [ADMIN_SCOPE, 'authmesh.user'] },
      setPassword: ADMIN_WRITE,
      authenticateUser: INTERNAL,
      checkSession: INTERNAL,
      endSession: INTERNAL,
      // OIDC Core §5.3.1: UserInfo is an OAuth 2.0 protected resource that requires scope openid.
      getUserInfo: { kind: 'scopes', anyOf: [OPENID_SCOPE] },
      listUserSessions: ADMIN_READ,
      revokeUserSession: ADMIN_WRITE,
      revokeAllUserSessions: ADMIN_WRITE,
      recordSessionClient: INTERNAL,
    },
  );
}
