// Domain refresh token → proto RefreshTokenInfo. The token value is never stored, so it cannot
// appear here; token_id is its SHA-256, which cannot be turned back into the token.
import { RefreshTokenInfo } from '../../gen/ts/authmesh/refresh_token/v1/refresh_token.js';
import type { RefreshToken } from '../core/store/index.js';

export function toInfo(t: RefreshToken): RefreshTokenInfo {
  return RefreshTokenInfo.fromPartial({
    tokenId: t.tokenHash,
    familyId: t.familyId,
    clientId: t.clientId,
    userId: t.userId ?? '',
    scopes: t.scope,
    audience: t.audience,
    createTime: t.createdAt,
    expireTime: t.expiresAt,
    authTime: t.authTime,
    idTokenClaims: t.idTokenClaims ?? [],
    dpopJkt: t.dpopJkt ?? '',
    certificateThumbprint: t.certificateThumbprint ?? '',
  });
}

/** Active: not rotated, not revoked, not expired. */
export function isActive(t: RefreshToken, now: Date): boolean {
  return t.rotatedAt === undefined && t.revokedAt === undefined && t.expiresAt.getTime() > now.getTime();
}
