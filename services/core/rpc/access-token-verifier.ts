// Verifies access tokens issued by this server: header rules, signature against the key
// service's JWKS (cached; refreshed on an unknown kid at most every few seconds), claims, and
// revocation by jti in the grid. Used by the admin-RPC authenticator and by the token service
// (introspection, ext_authz).
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { InvalidToken, TemporarilyUnavailable } from '../errors/index.js';
import type { Grid } from '../grid/index.js';
import {
  accessTokenVerifyOptions,
  validateAccessTokenClaims,
  validateAccessTokenHeader,
  type AccessTokenClaims,
} from '../oauth/index.js';

export const REVOKED_JTI_MAP = 'revoked-jti';

export interface AccessTokenVerifier {
  /** The verified claims; throws InvalidToken for anything that is not a valid, live token. */
  verify(token: string): Promise<AccessTokenClaims>;
  /** Marks a token revoked until it would have expired anyway. */
  revoke(claims: Pick<AccessTokenClaims, 'jti' | 'exp'>): Promise<void>;
}

export interface AccessTokenVerifierOptions {
  issuer: string;
  fetchJwks: () => Promise<JWK[]>;
  grid: Grid;
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
  const revoked = options.grid.map<number>(REVOKED_JTI_MAP);
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
      // An exchanged token dies with any token it was exchanged from (RFC 8693 §5, src_jti).
      for (const jti of [claims.jti, ...(claims.src_jti ?? [])]) {
        if ((await revoked.get(jti)) !== undefined) throw new InvalidToken('the token has been revoked');
      }
      return claims;
    },
    async revoke(claims) {
      const ms = claims.exp * 1000 - now().getTime() + 60_000;
      if (ms > 0) await revoked.set(claims.jti, claims.exp, Math.ceil(ms));
    },
  };
}
