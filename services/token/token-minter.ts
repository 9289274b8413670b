// Mints access tokens (RFC 9068 JWTs signed by the key service) and records, per grant, which
// access tokens it produced so a replayed authorization code can revoke them (RFC 6749 §4.1.2).
import { ACCESS_TOKEN_TYP, buildAccessTokenClaims, exchangedTokenLifetime, type AccessTokenClaims, type ActClaim } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

/** No access token lives longer than this, whatever a client asks: retired keys outlive it. */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 86_400;
const GRANT_TOKENS_MAP = 'grant-tokens';

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

type GrantTokens = { jti: string; exp: number }[];

export function createTokenMinter(deps: MeshDeps) {
  const grantTokens = deps.grid.map<GrantTokens>(GRANT_TOKENS_MAP);
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
      if (input.grantId) {
        const list = (await grantTokens.get(input.grantId)) ?? [];
        const now = Math.floor(deps.now().getTime() / 1000);
        const live = list.filter((t) => t.exp > now);
        live.push({ jti: claims.jti, exp: claims.exp });
        await grantTokens.set(input.grantId, live, (MAX_ACCESS_TOKEN_TTL_SECONDS + 60) * 1000);
      }
      return { accessToken: jwt, expiresIn: ttl, claims };
    },

    /**
     * Revokes every live access token minted for a grant; returns how many. Each revocation is
     * durable (AccessTokenVerifier.revoke), but the per-grant list it walks lives in the grid
     * only: after a grid loss it holds just the tokens minted since (issue 11 follow-up).
     */
    async revokeGrant(grantId: string): Promise<number> {
      const list = (await grantTokens.take(grantId)) ?? [];
      for (const t of list) await deps.verifier.revoke(t);
      return list.length;
    },
  };
}

export type TokenMinter = ReturnType<typeof createTokenMinter>;
