// Verifies access tokens issued by this server: header rules, signature against the key
// service's JWKS (cached; refreshed on an unknown kid at most every few seconds), claims, and
// revocation by jti (revocation-list.ts: durable in SQL, hot in the grid). Used by the admin-RPC
// authenticator and by the token service (introspection, ext_authz).
//
// Verified tokens are remembered (a bounded LRU keyed by the SHA-256 of the token's exact bytes,
// never by the token) so that introspection and ext_authz Check do not verify the same signature
// on every call. A hit skips only the work whose answer cannot change for the same bytes (header
// parsing, the signature, the claim checks); what can change is checked on every call, hit or
// not: exp against now, the key that verified the token is still the one the JWKS names for its
// kid (the same JWKS refresh rules as a full verification, so a removed or replaced key ends the
// hits no later than it would end a full verification), and revocation of jti and src_jti.
import { createHash } from 'node:crypto';
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
  /** Counters of the verified-token cache since start (for tests and diagnostics). */
  cacheStats(): VerifiedTokenCacheStats;
  /**
   * Revokes every access token carrying this grant identifier (gid claim), issued before or, for
   * MAX_ACCESS_TOKEN_LIFETIME_SECONDS after, the call: one durable entry, however many tokens
   * the grant produced (RFC 6749 §4.1.2, RFC 9700 §4.14.2). Resolves once in SQL and the grid.
   * @throws TemporarilyUnavailable when the store or the grid cannot take it (nothing acknowledged).
   */
  revokeGrant(grantId: string): Promise<void>;
  /**
   * Loads every revocation bucket the grid lacks from SQL into the grid (RevocationList.warm), so
   * that checks later need SQL only for buckets the grid loses. Resolves with how many it loaded.
   * @throws TemporarilyUnavailable when the store or the grid fails (the reads load what is left).
   */
  warmRevocations(): Promise<number>;
}

export interface VerifiedTokenCacheStats {
  /** Entries held now; never more than the configured size. */
  size: number;
  /** Verifications answered from the cache (the signature was not verified again). */
  hits: number;
  /** Verifications that verified the signature. */
  misses: number;
}

/** Default number of verified tokens remembered (AUTHMESH_VERIFIED_TOKEN_CACHE). */
export const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 10_000;
/**
 * Longer tokens are verified every time, never remembered: with the size, this bounds the cache's
 * memory (our own tokens are well under 2 kB; claims take about as much as the token's payload).
 */
const MAX_CACHED_TOKEN_LENGTH = 4_096;

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
  /** How many verified tokens to remember (LRU); 0 turns the cache off. Default 10,000. */
  cacheSize?: number;
}

type VerifyKey = Awaited<ReturnType<typeof importJWK>>;

interface CachedToken {
  /** Frozen: every caller gets the same object. */
  claims: AccessTokenClaims;
  kid: string;
  /** The key object that verified the signature; a hit requires the JWKS to still name it for kid. */
  key: VerifyKey;
}

/** A JWK's members in a stable order: an unchanged key keeps its imported key object across refreshes. */
function jwkText(jwk: JWK): string {
  return JSON.stringify(Object.entries(jwk).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function createAccessTokenVerifier(options: AccessTokenVerifierOptions): AccessTokenVerifier {
  const now = options.now ?? (() => new Date());
  const ttl = options.jwksTtlMs ?? 60_000;
  const refetchInterval = options.refetchIntervalMs ?? 5_000;
  const tolerance = options.clockToleranceSeconds ?? 5;
  const cacheSize = options.cacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) throw new RangeError('cacheSize must be a whole number >= 0');
  const revocations = createRevocationList({ grid: options.grid, store: options.revocationStore, log: options.log, now });
  /** kid → the imported key and the JWK text it came from (a refresh re-imports only what changed). */
  let imported = new Map<string, { text: string; key: VerifyKey }>();
  let fetchedAt = 0;
  let inflight: Promise<void> | undefined;
  /** SHA-256 of the token (base64url) → what verifying it established. Map order is LRU order. */
  const cache = new Map<string, CachedToken>();
  const stats = { hits: 0, misses: 0 };

  async function refresh(): Promise<void> {
    inflight ??= (async () => {
      try {
        const jwks = await options.fetchJwks();
        const next = new Map<string, { text: string; key: VerifyKey }>();
        for (const jwk of jwks) {
          if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string') continue;
          const text = jwkText(jwk);
          const before = imported.get(jwk.kid);
          const key = before?.text === text ? before.key : await importJWK(jwk, jwk.alg);
          next.set(jwk.kid, { text, key });
        }
        imported = next;
        fetchedAt = now().getTime();
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  async function keyFor(kid: string): Promise<VerifyKey> {
    const age = now().getTime() - fetchedAt;
    if (age > ttl || (!imported.has(kid) && age > refetchInterval)) {
      try {
        await refresh();
      } catch (err) {
        if (imported.size === 0) throw new TemporarilyUnavailable('signing keys are not available', { cause: err });
      }
    }
    const key = imported.get(kid)?.key;
    if (!key) throw new InvalidToken('the token was signed by an unknown key');
    return key;
  }

  // RFC 7009 §2.1 / RFC 7662 §2.2: a revoked token is no longer active, nor one whose source
  // token (RFC 8693 §5, src_jti) or grant (gid) was revoked: see revocationsOf.
  // All at once: each read may wait for the grid's hedge (revocation-list.ts), and a check has a
  // deadline. Any revoked answer refuses; any failure fails the verification (never a pass).
  async function assertNotRevoked(claims: AccessTokenClaims): Promise<void> {
    const answers = await Promise.all(revocationsOf(claims).map(([kind, id]) => revocations.isRevoked(kind, id)));
    if (answers.includes(true)) throw new InvalidToken('the token has been revoked');
  }

  /**
   * The claims of a token verified before, or undefined when it must be verified in full (not
   * cached, at or past exp, or its key is no longer the one the JWKS names for its kid).
   * Throws InvalidToken when the JWKS no longer has the kid at all, as a full verification would.
   */
  async function fromCache(hash: string): Promise<AccessTokenClaims | undefined> {
    const entry = cache.get(hash);
    if (entry === undefined) return undefined;
    // RFC 7519 §4.1.4: never past exp from the cache (the full path decides the tolerance window).
    if (Math.floor(now().getTime() / 1000) >= entry.claims.exp) {
      cache.delete(hash);
      return undefined;
    }
    let key: VerifyKey;
    try {
      key = await keyFor(entry.kid);
    } catch (err) {
      cache.delete(hash);
      throw err;
    }
    if (key !== entry.key) {
      cache.delete(hash);
      return undefined;
    }
    // Most recently used last: the first entry is the one to evict.
    cache.delete(hash);
    cache.set(hash, entry);
    return entry.claims;
  }

  function remember(hash: string, claims: AccessTokenClaims, kid: string, key: VerifyKey): void {
    if (cacheSize === 0) return;
    cache.delete(hash);
    while (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
    cache.set(hash, { claims, kid, key });
  }

  return {
    async verify(token) {
      if (typeof token !== 'string' || token.length === 0 || token.length > 8192) throw new InvalidToken('the token is malformed');
      // Keyed by a hash of the exact bytes: a token altered in any byte is another key, and the
      // token itself is never held as a key that could end up in a log or a heap dump's index.
      const hash = cacheSize > 0 && token.length <= MAX_CACHED_TOKEN_LENGTH ? createHash('sha256').update(token).digest('base64url') : undefined;
      const cached = hash === undefined ? undefined : await fromCache(hash);
      if (cached !== undefined) {
        stats.hits += 1;
        try {
          await assertNotRevoked(cached);
        } catch (err) {
          if (err instanceof InvalidToken) cache.delete(hash!);
          throw err;
        }
        return cached;
      }
      stats.misses += 1;
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
          clockTolerance: tolerance,
        }));
      } catch {
        throw new InvalidToken('the token is invalid or expired');
      }
      const claims = deepFreeze(validateAccessTokenClaims(payload, { issuer: options.issuer, now: now(), clockTolerance: tolerance }));
      await assertNotRevoked(claims);
      if (hash !== undefined) remember(hash, claims, header.kid as string, key);
      return claims;
    },
    async revoke(claims) {
      await revocations.revoke('access_token', claims.jti, Math.ceil(claims.exp) + REVOCATION_MARGIN_SECONDS);
    },
    async revokeGrant(grantId) {
      const until = Math.ceil(now().getTime() / 1000) + MAX_ACCESS_TOKEN_LIFETIME_SECONDS + REVOCATION_MARGIN_SECONDS;
      await revocations.revoke('grant', grantId, until);
    },
    cacheStats() {
      return { size: cache.size, ...stats };
    },
    warmRevocations: () => revocations.warm(),
  };
}
