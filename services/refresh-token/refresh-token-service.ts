// gRPC adapter of the refresh-token service. Tokens are 256 random bits handed out once and
// stored only as SHA-256 hashes, grouped into families (one per grant).
//
// No grid here: the store's rotate() is the one atomic exchange that makes rotation single-use
// and detects reuse (RFC 9700 §4.14.2). A cached copy could only answer "active?" from stale
// state, and every refresh is a write anyway, so a grid copy would add a way to be wrong and
// nothing to gain.
import {
  IssueRefreshTokenResponse,
  ListRefreshTokensResponse,
  LookupRefreshTokenResponse,
  RefreshTokenServiceService,
  RevokeRefreshTokensResponse,
  RevokeRefreshTokenValueResponse,
  RotateRefreshTokenResponse,
} from '../../gen/ts/authmesh/refresh_token/v1/refresh_token.js';
import { hasErrorCode, InvalidGrant, InvalidRequest } from '../core/errors/index.js';
import { generateId, generateSecret, hashToken, isScopeToken } from '../core/oauth/index.js';
import { ADMIN_READ, ADMIN_SCOPE, INTERNAL, registration, type CallContext, type Principal } from '../core/rpc/index.js';
import type { RefreshToken } from '../core/store/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import { isActive, toInfo } from './refresh-token-message.js';

export const REFRESH_TOKEN_SERVICE_NAME = 'authmesh.refresh_token.v1.RefreshTokenService';

const MAX_TTL_SECONDS = 365 * 86_400;
// Generated tokens are 43 characters; anything much longer was never issued here.
const MAX_TOKEN_CHARS = 512;
const ID = /^[\x21-\x7e]{1,256}$/;
const MAX_LIST_ITEMS = 100;
/** The widest reuse grace window a caller may ask for, seconds (the client setting's bound). */
const MAX_REUSE_GRACE_SECONDS = 300;

function actorOf(principal: Principal): string | undefined {
  if (principal.kind === 'token') return principal.subject;
  if (principal.kind === 'mesh') return 'mesh';
  return undefined;
}

function assertId(value: string, field: string): void {
  if (value === '') throw new InvalidRequest(`${field} is required`);
  if (!ID.test(value)) throw new InvalidRequest(`${field} must be 1 to 256 printable ASCII characters without spaces`);
}

const MAX_ID_TOKEN_CLAIMS = 32;
const CLAIM_NAME = /^[a-z][a-z0-9_]{0,63}$/;

function assertTokens(values: readonly string[], field: string, valid: (v: string) => boolean): void {
  if (values.length > MAX_LIST_ITEMS) throw new InvalidRequest(`at most ${MAX_LIST_ITEMS} ${field}`);
  for (const v of values) if (!valid(v)) throw new InvalidRequest(`${field} contains an invalid value`);
}

const isNotFound = (err: unknown) => hasErrorCode(err, 'not_found');

export function createRefreshTokenServiceRegistration(deps: MeshDeps) {
  const tokens = deps.store.refreshTokens;

  /** The stored token presented by value, or undefined for anything never issued here. */
  const findByValue = async (value: string): Promise<RefreshToken | undefined> => {
    if (value.length > MAX_TOKEN_CHARS) return undefined;
    try {
      return await tokens.get(hashToken(value));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };

  const auditRevoked = (ctx: CallContext, by: string, count: number, extra: { subject?: string; clientId?: string; details?: Record<string, unknown> }) =>
    deps.audit({
      type: 'refresh.revoked',
      actor: actorOf(ctx.principal),
      subject: extra.subject,
      clientId: extra.clientId,
      details: { by, count, ...extra.details },
    });

  return registration(
    REFRESH_TOKEN_SERVICE_NAME,
    RefreshTokenServiceService,
    {
      async issueRefreshToken(req) {
        assertId(req.clientId, 'client_id');
        if (req.userId !== '') assertId(req.userId, 'user_id');
        if (req.familyId !== '') assertId(req.familyId, 'family_id');
        // RFC 6749 §3.3: scope tokens are %x21 / %x23-5B / %x5D-7E.
        assertTokens(req.scopes, 'scopes', isScopeToken);
        assertTokens(req.audience, 'audience', (a) => ID.test(a));
        // OIDC Core §5.5: claim names (the standard ones are short lowercase words), bounded.
        if (req.idTokenClaims.length > MAX_ID_TOKEN_CLAIMS) throw new InvalidRequest(`at most ${MAX_ID_TOKEN_CLAIMS} id_token_claims`);
        assertTokens(req.idTokenClaims, 'id_token_claims', (c) => CLAIM_NAME.test(c));
        // RFC 9449 §6.1 / RFC 7638: a base64url SHA-256 thumbprint.
        if (req.dpopJkt !== '' && !/^[A-Za-z0-9_-]{43}$/.test(req.dpopJkt)) throw new InvalidRequest('dpop_jkt must be a base64url SHA-256 thumbprint');
        // RFC 8705 §3.1: x5t#S256 is a base64url SHA-256 thumbprint too.
        if (req.certificateThumbprint !== '' && !/^[A-Za-z0-9_-]{43}$/.test(req.certificateThumbprint)) throw new InvalidRequest('certificate_thumbprint must be a base64url SHA-256 thumbprint');
        if (!Number.isSafeInteger(req.ttlSeconds) || req.ttlSeconds < 0 || req.ttlSeconds > MAX_TTL_SECONDS) {
          throw new InvalidRequest(`ttl_seconds must be 0 (server default) to ${MAX_TTL_SECONDS}`);
        }
        const now = deps.now();
        const value = generateSecret();
        const created = await tokens.create({
          tokenHash: hashToken(value),
          familyId: req.familyId || generateId('fam'),
          clientId: req.clientId,
          userId: req.userId || undefined,
          scope: [...new Set(req.scopes)],
          audience: [...new Set(req.audience)],
          authTime: req.authTime,
          idTokenClaims: req.idTokenClaims.length > 0 ? [...new Set(req.idTokenClaims)] : undefined,
          dpopJkt: req.dpopJkt || undefined,
          certificateThumbprint: req.certificateThumbprint || undefined,
          createdAt: now,
          expiresAt: new Date(now.getTime() + (req.ttlSeconds || deps.config.refreshTokenTtlSeconds) * 1000),
        });
        return IssueRefreshTokenResponse.fromPartial({ refreshToken: value, info: toInfo(created) });
      },

      async rotateRefreshToken(req) {
        if (req.refreshToken === '') throw new InvalidRequest('refresh_token is required');
        assertId(req.clientId, 'client_id');
        if (!Number.isSafeInteger(req.reuseGraceSeconds) || req.reuseGraceSeconds < 0 || req.reuseGraceSeconds > MAX_REUSE_GRACE_SECONDS) {
          throw new InvalidRequest(`reuse_grace_seconds must be 0 (strict) to ${MAX_REUSE_GRACE_SECONDS}`);
        }
        if (req.refreshToken.length > MAX_TOKEN_CHARS) throw new InvalidGrant('the refresh token is invalid');
        const value = generateSecret();
        // One exchange in the store, no read before it: the store checks the client binding,
        // expiry and revocation itself and changes nothing when one fails. The successor inherits
        // the expiry of its predecessor: rotation does not extend the grant (no sliding window),
        // so a family dies at the absolute time set when it was issued and a stolen, regularly
        // rotated token cannot live forever.
        const result = await tokens.rotate(
          hashToken(req.refreshToken),
          { clientId: req.clientId, nextHash: hashToken(value), graceMs: req.reuseGraceSeconds * 1000 },
          deps.now(),
        );
        switch (result.outcome) {
          case 'rotated':
            if (result.graceful === true) {
              // Within the client's reuse grace window: a retry or a second tab, not counted as reuse.
              await deps.audit({
                type: 'refresh.grace_rotated',
                subject: result.previous.userId,
                clientId: result.previous.clientId,
                details: { familyId: result.previous.familyId, tokenId: result.previous.tokenHash, graceSeconds: req.reuseGraceSeconds },
              });
            }
            return RotateRefreshTokenResponse.fromPartial({ refreshToken: value, info: toInfo(result.next) });
          case 'refused':
            switch (result.reason) {
              // RFC 6749 §6 / §10.4: a refresh token is bound to its client; another client's
              // attempt is refused without consuming the token (it must not let a stranger burn a family).
              case 'client':
                throw new InvalidGrant('the refresh token was not issued to this client');
              // RFC 6749 §5.2: an expired or revoked refresh token is an invalid grant — but not reuse.
              case 'expired':
                throw new InvalidGrant('the refresh token has expired');
              case 'revoked':
                throw new InvalidGrant('the refresh token was revoked');
              // A disabled account's grants end with it, even when revoking its tokens was missed;
              // not consumed: the account may be enabled again.
              case 'user':
                throw new InvalidGrant('the user account behind the refresh token is not active');
            }
            break;
          case 'reused': {
            // RFC 9700 §4.14.2: a refresh token presented again after rotation means two parties
            // hold it; revoke the whole family so neither can continue.
            const now = deps.now();
            const revoked = await tokens.revokeFamily(result.previous.familyId, now);
            await deps.audit({
              type: 'refresh.reuse_detected',
              subject: result.previous.userId,
              clientId: result.previous.clientId,
              details: { familyId: result.previous.familyId, tokenId: result.previous.tokenHash, revoked },
            });
            // The family travels in ErrorInfo metadata so the token service can revoke the access
            // tokens of the same grant (RFC 6749 §10.4), as it does for a replayed code.
            throw new InvalidGrant('the refresh token was already used', { metadata: { family_id: result.previous.familyId } });
          }
          case 'not_found':
            break;
        }
        throw new InvalidGrant('the refresh token is invalid');
      },

      async lookupRefreshToken(req) {
        if (req.refreshToken === '') throw new InvalidRequest('refresh_token is required');
        const t = await findByValue(req.refreshToken);
        if (!t) return LookupRefreshTokenResponse.fromPartial({ active: false });
        return LookupRefreshTokenResponse.fromPartial({ active: isActive(t, deps.now()), info: toInfo(t) });
      },

      async revokeRefreshTokenValue(req, ctx) {
        if (req.refreshToken === '') throw new InvalidRequest('refresh_token is required');
        assertId(req.clientId, 'client_id');
        const t = await findByValue(req.refreshToken);
        // RFC 7009 §2.2: an unknown token is not an error. RFC 7009 §2.1: only the client the
        // token was issued to may revoke it; another client's request revokes nothing.
        if (!t || t.clientId !== req.clientId) return RevokeRefreshTokenValueResponse.fromPartial({ revoked: false });
        // RFC 7009 §2.1: revoking a refresh token also invalidates the grant behind it — the family.
        const count = await tokens.revokeFamily(t.familyId, deps.now());
        await auditRevoked(ctx, 'value', count, { subject: t.userId, clientId: t.clientId, details: { familyId: t.familyId } });
        return RevokeRefreshTokenValueResponse.fromPartial({ revoked: true, familyId: t.familyId });
      },

      async listRefreshTokens(req) {
        const owner = req.owner;
        if (!owner || owner.value === '') throw new InvalidRequest('exactly one of user_id or client_id is required');
        if (req.pageSize < 0) throw new InvalidRequest('page_size must not be negative');
        const page = { pageSize: req.pageSize, pageToken: req.pageToken, now: deps.now() };
        const result = owner.$case === 'userId' ? await tokens.listByUser(owner.value, page) : await tokens.listByClient(owner.value, page);
        return ListRefreshTokensResponse.fromPartial({ refreshTokens: result.items.map(toInfo), nextPageToken: result.nextPageToken });
      },

      async revokeRefreshTokens(req, ctx) {
        const target = req.target;
        if (!target || target.value === '') throw new InvalidRequest('exactly one of user_id, client_id, family_id or token_id is required');
        const now = deps.now();
        let count: number;
        switch (target.$case) {
          case 'userId':
            count = await tokens.revokeByUser(target.value, now);
            await auditRevoked(ctx, 'user', count, { subject: target.value });
            break;
          case 'clientId':
            count = await tokens.revokeByClient(target.value, now);
            await auditRevoked(ctx, 'client', count, { clientId: target.value });
            break;
          case 'familyId':
            count = await tokens.revokeFamily(target.value, now);
            await auditRevoked(ctx, 'family', count, { details: { familyId: target.value } });
            break;
          case 'tokenId': {
            const t = await tokens.get(target.value);
            count = await tokens.revokeFamily(t.familyId, now);
            await auditRevoked(ctx, 'token', count, { subject: t.userId, clientId: t.clientId, details: { familyId: t.familyId, tokenId: t.tokenHash } });
            break;
          }
        }
        return RevokeRefreshTokensResponse.fromPartial({ revokedCount: count });
      },
    },
    {
      listRefreshTokens: ADMIN_READ,
      // The token service revokes a grant's family when its authorization code is replayed
      // (RFC 6749 §4.1.2), so the mesh credential is admitted besides admin tokens.
      revokeRefreshTokens: { kind: 'scopes', anyOf: [ADMIN_SCOPE], allowMesh: true },
      issueRefreshToken: INTERNAL,
      rotateRefreshToken: INTERNAL,
      lookupRefreshToken: INTERNAL,
      revokeRefreshTokenValue: INTERNAL,
    },
  );
}
