// The Connect bridge's look at a bearer token before it reads a request body (issue 11 item 1:
// authenticate first). It checks what needs no state: the header rules, the signature against
// the key service's JWKS, issuer and lifetime (the core/oauth rules, RFC 9068 §4). Revocation,
// audience and scope need the grid and the method's policy: the service checks those, and all
// of this again, on every call. This check only spares the bridge reading bodies for callers
// who hold no live token of this issuer.
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import { InvalidToken, TemporarilyUnavailable } from '../services/core/errors/index.js';
import { accessTokenVerifyOptions, validateAccessTokenClaims, validateAccessTokenHeader } from '../services/core/oauth/index.js';

export interface BearerPrecheckOptions {
  issuer: string;
  /** The issuer's signing keys (public JWKs). */
  fetchJwks: () => Promise<JWK[]>;
  /** How long fetched keys are trusted without asking again, ms. */
  jwksTtlMs?: number;
  /** Minimum time between two fetches caused by unknown kids, ms (bounds what forged kids cost). */
  refetchIntervalMs?: number;
  clockToleranceSeconds?: number;
}

export interface BearerPrecheck {
  /** Resolves for a well-signed, unexpired token of this issuer; InvalidToken otherwise,
   * TemporarilyUnavailable when no signing key could ever be fetched. */
  check(token: string): Promise<void>;
}

export function createBearerPrecheck(options: BearerPrecheckOptions): BearerPrecheck {
  const ttl = options.jwksTtlMs ?? 60_000;
  const refetchInterval = options.refetchIntervalMs ?? 5_000;
  const tolerance = options.clockToleranceSeconds ?? 5;
  let keys: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = 0;
  let inflight: Promise<void> | undefined;

  const refresh = () =>
    (inflight ??= (async () => {
      try {
        keys = createLocalJWKSet({ keys: await options.fetchJwks() });
        fetchedAt = Date.now();
      } catch (err) {
        if (!keys) throw new TemporarilyUnavailable('signing keys are not available', { cause: err });
      } finally {
        inflight = undefined;
      }
    })());

  const verify = async (token: string) => {
    if (!keys || Date.now() - fetchedAt > ttl) await refresh();
    try {
      return await jwtVerify(token, keys!, { ...accessTokenVerifyOptions(options.issuer), clockTolerance: tolerance });
    } catch (err) {
      // A key rotated in since the last fetch: ask again, at most every refetchInterval.
      if (!(err instanceof joseErrors.JWKSNoMatchingKey) || Date.now() - fetchedAt < refetchInterval) throw err;
      await refresh();
      return jwtVerify(token, keys!, { ...accessTokenVerifyOptions(options.issuer), clockTolerance: tolerance });
    }
  };

  return {
    async check(token) {
      if (token.length === 0 || token.length > 8192) throw new InvalidToken('the token is malformed');
      let header: Record<string, unknown>;
      try {
        header = decodeProtectedHeader(token) as Record<string, unknown>;
      } catch {
        throw new InvalidToken('the token is malformed');
      }
      validateAccessTokenHeader(header);
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await verify(token));
      } catch (err) {
        if (err instanceof TemporarilyUnavailable) throw err;
        throw new InvalidToken('the token is invalid or expired');
      }
      validateAccessTokenClaims(payload, { issuer: options.issuer, now: new Date(), clockTolerance: tolerance });
    },
  };
}
