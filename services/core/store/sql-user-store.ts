import { InvalidRequest, NotFound } from '../errors/index.js';
import { decodePageToken, pageSizeOf, toPage } from './pagination.js';
import type { SqlRow } from './sql-client.js';
import { bool, compact, date, int, optDate, optObject, optText, stringArray, text } from './sql-rows.js';
import type { SqlArgs, SqlRunner } from './sql-runner.js';
import type { StandardClaims, User } from './types.js';
import type { UserStore } from './user-store.js';
import { updateVersioned } from './versioned-update.js';

const MUTABLE = [
  'username',
  'email',
  'displayName',
  'roles',
  'passwordHash',
  'disabled',
  'failedLoginCount',
  'lockedUntil',
  'passwordChangedAt',
  'claims',
] as const satisfies readonly (keyof User)[];

export function createSqlUserStore(db: SqlRunner): UserStore {
  const q = db.dialect.statements.users;
  return {
    async create(input) {
      const now = new Date();
      const user = compact<User>({
        userId: input.userId,
        username: input.username,
        email: input.email,
        displayName: input.displayName,
        roles: [...input.roles],
        passwordHash: input.passwordHash,
        disabled: input.disabled,
        failedLoginCount: input.failedLoginCount ?? 0,
        lockedUntil: input.lockedUntil,
        passwordChangedAt: input.passwordChangedAt ?? now,
        claims: input.claims === undefined ? undefined : structuredClone(input.claims),
        version: 1,
        createdAt: now,
        updatedAt: now,
      });
      await db.affected(q.insert, encode(user));
      return user;
    },

    async get(userId) {
      const row = await db.first(q.get, { userId });
      if (row === undefined) throw new NotFound('user not found');
      return decode(row);
    },

    async getByUsername(username) {
      const row = await db.first(q.getByUsername, { username });
      return row === undefined ? undefined : decode(row);
    },

    async list(request) {
      const size = pageSizeOf(request);
      const after = decodePageToken('users', request?.pageToken, 1)?.[0];
      const rows = await db.rows(q.list, { after, limit: size + 1 });
      return toPage(rows.map(decode), size, 'users', (u) => [u.userId]);
    },

    update(userId, patch, expectedVersion) {
      return updateVersioned(
        db,
        { what: 'user', getForUpdate: q.getForUpdate, update: q.update, key: { userId }, mutable: MUTABLE, decode, encode },
        patch,
        expectedVersion,
      );
    },

    async delete(userId) {
      if ((await db.affected(q.delete, { userId })) === 0) throw new NotFound('user not found');
    },

    async recordLoginFailure(userId, now, { threshold, lockMs }) {
      if (!Number.isSafeInteger(threshold) || threshold < 1 || !Number.isFinite(lockMs) || lockMs < 0) {
        throw new InvalidRequest('invalid lockout policy');
      }
      const args = { userId, now, threshold, lockUntil: new Date(now.getTime() + lockMs) };
      const readBack = q.readLoginFailures;
      const row =
        readBack === undefined
          ? await db.first(q.recordLoginFailure, args)
          : await db.transaction(async (tx) =>
              (await tx.affected(q.recordLoginFailure, args)) === 0 ? undefined : tx.first(readBack, { userId }),
            );
      if (row === undefined) throw new NotFound('user not found');
      return compact({ failedLoginCount: int(row, 'failed_login_count'), lockedUntil: optDate(row, 'locked_until') });
    },

    async recordLoginSuccess(userId) {
      if ((await db.affected(q.resetLoginFailures, { userId })) > 0) return;
      if ((await db.first(q.exists, { userId })) === undefined) throw new NotFound('user not found');
    },
  };
}

function encode(u: User): SqlArgs {
  return {
    userId: u.userId,
    username: u.username,
    email: u.email,
    displayName: u.displayName,
    roles: u.roles,
    passwordHash: u.passwordHash,
    disabled: u.disabled,
    failedLoginCount: u.failedLoginCount,
    lockedUntil: u.lockedUntil,
    passwordChangedAt: u.passwordChangedAt,
    claims: u.claims === undefined ? null : JSON.stringify(u.claims),
    version: u.version,
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
  };
}

function decode(row: SqlRow): User {
  return compact<User>({
    userId: text(row, 'user_id'),
    username: text(row, 'username'),
    email: optText(row, 'email'),
    displayName: optText(row, 'display_name'),
    roles: stringArray(row, 'roles'),
    passwordHash: text(row, 'password_hash'),
    disabled: bool(row, 'disabled'),
    failedLoginCount: int(row, 'failed_login_count'),
    lockedUntil: optDate(row, 'locked_until'),
    passwordChangedAt: date(row, 'password_changed_at'),
    claims: optObject<StandardClaims>(row, 'claims'),
    version: int(row, 'version'),
    createdAt: date(row, 'created_at'),
    updatedAt: date(row, 'updated_at'),
  });
}
