// Domain user → proto User. The hash is not in a UserView, so it cannot leak through here.
import { User as UserMessage } from '../../gen/ts/authmesh/user/v1/user.js';
import type { UserView } from './user-cache.js';
import { claimFieldsOf } from './user-claims.js';

export function isLocked(user: Pick<UserView, 'lockedUntil'>, now: Date): boolean {
  return user.lockedUntil !== undefined && user.lockedUntil.getTime() > now.getTime();
}

export function toUserMessage(user: UserView, now: Date): UserMessage {
  const locked = isLocked(user, now);
  return UserMessage.fromPartial({
    userId: user.userId,
    username: user.username,
    email: user.email ?? '',
    displayName: user.displayName ?? '',
    roles: user.roles,
    disabled: user.disabled,
    locked,
    lockExpireTime: locked ? user.lockedUntil : undefined,
    passwordChangeTime: user.passwordChangedAt,
    createTime: user.createdAt,
    updateTime: user.updatedAt,
    etag: String(user.version),
    ...claimFieldsOf(user.claims),
  });
}
