// Verifies access tokens issued by this server: header rules, signature against the key
// service's JWKS (cached; refreshed on an unknown kid at most every few seconds), claims, and
// revocation by jti (revocation-list.ts: durable in SQL, hot in the grid). Used by the admin-RPC
// authenticator and by the token service (introspection, ext_authz).
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { InvalidToken, TemporarilyUnavailable } from '../errors/index.js';
import type { Grid } from '../grid/index.js';
import type { Logger } from '../log/index.js';
import {
  accessTokenVerifyOptions,
  validateAccessTokenClaims,
  validateAccessTokenHeader,
  type AccessTokenClaims,
} from '../oauth/index.js';
import type { RevocationStore } from '../store/index.js';
import { createRevocationList, revocationsOf } from './revocation-list.js';

/** Seconds a revocation outlives the token's exp: verification accepts that much clock skew. */
const REVOCATION_MARGIN_SECONDS = 60;

export interface AccessTokenVerifier {
  /** The verified claims; throws InvalidToken for anything that is not a valid, live token. */
  verify(token: string): Promise<AccessTokenClaims>;
  /**
   * Marks a token revoked until it would have expired anyway. Resolves once the revocation is in
   * the SQL store and in the grid, so it survives the loss of grid members or of the whole grid.
   * @throws TemporarilyUnavailable when the store or the grid cannot take it (nothing acknowledged).
   */
  revoke(claims: Pick<AccessTokenClaims, 'jti' | 'exp'>): Promise<void>;
  /**
   * Revokes every access token carrying this grant identifier (gid claim), issued before or, for
   * MAX_ACCESS_TOKEN_LIFETIME_SECONDS after, the call: one durable entry, however many tokens
   * the grant produced (RFC 6749 §4.1.2, RFC 9700 §4.14.2). Resolves once in SQL and the grid.
   * @throws TemporarilyUnavailable when the store or the grid cannot take it (nothing acknowledged).
   */
  revokeGrant(grantId: string): Promise<void>;
}

/**
 * No access token lives longer than this (the token service caps every lifetime to it), so a
 * grant revocation held this long plus the clock margin outlives every token of the grant.
 */
export const MAX_ACCESS_TOKEN_LIFETIME_SECONDS = 86_400;

export interface AccessTokenVerifierOptions {
  issuer: string;
  fetchJwks: () => Promise<JWK[]>;
  grid: Grid;
  /** The durable record of revocations, from which a grid that lost them is repopulated. */
  revocationStore: RevocationStore;
  log?: Logger | undefined;
  /** How long fetched keys are trusted without asking again. */
  jwksTtlMs?: number;
  /** Minimum time between two fetches caused by unknown kids (bounds what forged kids cost). */
  refetchIntervalMs?: number;
  clockToleranceSeconds?: number;
  now?: () => Date;
}

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const now = options.now ?? (() => new Date());
  const ttl = options.jwksTtlMs ?? 60_000;
  const refetchInterval = options.refetchIntervalMs ?? 5_000;
  const revocations = createRevocationList({ grid: options.grid, store: options.revocationStore, log: options.log, now });
  let keys = new Map<string, VerifyKey>();
  let fetchedAt = 0;
  let inflight: Promise<void> | undefined;

  async function refresh(): Promise<void> {
    inflight ??= (async () => {
      try {
        const jwks = await options.fetchJwks();
        const next = new Map<string, VerifyKey>();
        for (const jwk of jwks) {
          if (typeof jwk.kid === 'string' && typeof jwk.alg === 'string') next.set(jwk.kid, await importJWK(jwk, jwk.alg));
        }
        keys = next;
        fetchedAt = Date.now();
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  async function keyFor(kid: string): Promise<VerifyKey> {
    const age = Date.now() - fetchedAt;
    if (age > ttl || (!keys.has(kid) && age > refetchInterval)) {
      try {
        await refresh();
      } catch (err) {
        if (keys.size === 0) throw new TemporarilyUnavailable('signing keys are not available', { cause: err });
      }
    }
    const key = keys.get(kid);
    if (!key) throw new InvalidToken('the token was signed by an unknown key');
    return key;
  }

  return {
    async verify(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 8192) throw new InvalidToken('the token is malformed');
      let header: Record<string, unknown>;
      try {
        header = decodeProtectedHeader(token) as Record<string, unknown>;
      } catch {
        throw new InvalidToken('the token is malformed');
      }
      validateAccessTokenHeader(header);
      const key = await keyFor(header.kid as string);
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, key, {
          ...accessTokenVerifyOptions(options.issuer),
          currentDate: now(),
          clockTolerance: options.clockToleranceSeconds ?? 5,
        }));
      } catch {
        throw new InvalidToken('the token is invalid or expired');
      }
      const claims = validateAccessTokenClaims(payload, { issuer: options.issuer, now: now(), clockTolerance: options.clockToleranceSeconds ?? 5 });
      // RFC 7009 §2.1 / RFC 7662 §2.2: a revoked token is no longer active, nor one whose source
      // token (RFC 8693 §5, src_jti) or grant (gid) was revoked: see revocationsOf.
      for (const [kind, id] of revocationsOf(claims)) {
        if (await revocations.isRevoked(kind, id)) throw new InvalidToken('the token has been revoked');
      }
      return claims;
    },
    async revoke(claims) {
      await revocations.revoke('access_token', claims.jti, Math.ceil(claims.exp) + REVOCATION_MARGIN_SECONDS);
    },
    async revokeGrant(grantId) {
      const until = Math.ceil(now().getTime() / 1000) + MAX_ACCESS_TOKEN_LIFETIME_SECONDS + REVOCATION_MARGIN_SECONDS;
      await revocations.revoke('grant', grantId, until);
    },
  };
}
