// Mints access tokens (RFC 9068 JWTs signed by the key service) and records, per grant, which
// access tokens it produced so a replayed authorization code can revoke them (RFC 6749 §4.1.2).
// That record is in the SQL store (not the grid): revoking a grant must reach every token it
// produced even after the grid lost its data (issue 11 item 3).
import { ACCESS_TOKEN_TYP, buildAccessTokenClaims, exchangedTokenLifetime, type AccessTokenClaims, type ActClaim } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

/** No access token lives longer than this, whatever a client asks: retired keys outlive it. */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 86_400;

export interface MintInput {
  client: ClientView;
  subject: string;
  scopes: string[];
  audience: string[];
  authTime?: Date | undefined;
  act?: ActClaim | undefined;
  /** The grant (code redemption / refresh family) the token belongs to. */
  grantId?: string | undefined;
  /** Token exchange: the token never outlives this instant (seconds since the epoch, the subject token's exp). */
  notAfter?: number | undefined;
  /** Token exchange: the source jti chain recorded in src_jti. */
  sourceJtis?: string[] | undefined;
}

export interface Minted {
  accessToken: string;
  expiresIn: number;
  claims: AccessTokenClaims;
}

const PRUNE_INTERVAL_MS = 3_600_000;

export function createTokenMinter(deps: MeshDeps) {
  let lastPrune = 0;
  /** Drops the records of expired tokens, at most once an hour per process, behind the request. */
  function pruneGrantTokens(now: Date): void {
    if (now.getTime() - lastPrune < PRUNE_INTERVAL_MS) return;
    lastPrune = now.getTime();
    deps.store.grantTokens.deleteExpired(now).catch((err: unknown) => deps.log.warn({ err }, 'pruning expired grant tokens failed; retried within the hour'));
  }
  return {
    async mint(input: MintInput): Promise<Minted> {
      const configured = Math.min(input.client.accessTokenTtlSeconds || deps.config.accessTokenTtlSeconds, MAX_ACCESS_TOKEN_TTL_SECONDS);
      const ttl = input.notAfter === undefined ? configured : exchangedTokenLifetime(configured, input.notAfter, deps.now());
      const claims = buildAccessTokenClaims({
        issuer: deps.config.issuer,
        subject: input.subject,
        audience: input.audience.length > 0 ? input.audience : [deps.config.issuer],
        clientId: input.client.clientId,
        scope: input.scopes,
        ttlSeconds: ttl,
        now: deps.now(),
        authTime: input.authTime,
        act: input.act,
        sourceJtis: input.sourceJtis,
      });
      const { jwt } = await deps.peers.key.signJwt({ claims: { ...claims }, typ: ACCESS_TOKEN_TYP });
      // Recorded before the token is handed out: a token the grant's revocation could miss never leaves.
      if (input.grantId) {
        await deps.store.grantTokens.add({ grantId: input.grantId, jti: claims.jti, expiresAt: new Date(claims.exp * 1000) });
        pruneGrantTokens(deps.now());
      }
      return { accessToken: jwt, expiresIn: ttl, claims };
    },

    /**
     * Revokes every live access token minted for a grant (durably: AccessTokenVerifier.revoke);
     * returns how many. The grant's list is taken from the store; should a revocation fail, the
     * tokens not yet revoked are put back so a retry revokes them.
     * @throws TemporarilyUnavailable when the store or the grid cannot take a revocation.
     */
    async revokeGrant(grantId: string): Promise<number> {
      const list = await deps.store.grantTokens.take(grantId, deps.now());
      for (const [i, t] of list.entries()) {
        try {
          await deps.verifier.revoke({ jti: t.jti, exp: Math.ceil(t.expiresAt.getTime() / 1000) });
        } catch (err) {
          for (const left of list.slice(i)) await deps.store.grantTokens.add(left).catch(() => undefined);
          throw err;
        }
      }
      return list.length;
    },
  };
}

export type TokenMinter = ReturnType<typeof createTokenMinter>;
