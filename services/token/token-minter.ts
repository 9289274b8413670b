// Mints access tokens (RFC 9068 JWTs signed by the key service). A token issued from a grant (a
// code redemption, a refresh-token family) carries the grant's identifier in its gid claim, so
// revoking the grant (a replayed code, RFC 6749 §4.1.2; a reused or revoked refresh token,
// RFC 9700 §4.14.2, RFC 7009 §2.1) is ONE durable revocation entry that every verifier checks,
// and minting writes nothing: no per-token record on the request path.
import { ACCESS_TOKEN_TYP, buildAccessTokenClaims, exchangedTokenLifetime, type AccessTokenClaims, type ActClaim } from '../core/oauth/index.js';
import { MAX_ACCESS_TOKEN_LIFETIME_SECONDS } from '../core/rpc/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

/** No access token lives longer than this, whatever a client asks: retired keys outlive it. */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = MAX_ACCESS_TOKEN_LIFETIME_SECONDS;

export interface MintInput {
  client: ClientView;
  subject: string;
  scopes: string[];
  audience: string[];
  authTime?: Date | undefined;
  act?: ActClaim | undefined;
  /** The grant (code redemption / refresh family) the token belongs to: its gid claim. */
  grantId?: string | undefined;
  /** Token exchange: the token never outlives this instant (seconds since the epoch, the subject token's exp). */
  notAfter?: number | undefined;
  /** Token exchange: the source jti chain recorded in src_jti. */
  sourceJtis?: string[] | undefined;
  /** RFC 9449 §6.1: the DPoP key thumbprint the token is bound to (cnf.jkt). */
  dpopJkt?: string | undefined;
  /** RFC 8705 §3.1: the client certificate thumbprint the token is bound to (cnf.x5t#S256). */
  certificateThumbprint?: string | undefined;
}

export interface Minted {
  accessToken: string;
  expiresIn: number;
  claims: AccessTokenClaims;
}

export function createTokenMinter(deps: MeshDeps) {
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
        grantId: input.grantId,
        dpopJkt: input.dpopJkt,
        certificateThumbprint: input.certificateThumbprint,
      });
      const { jwt } = await deps.peers.key.signJwt({ claims: { ...claims }, typ: ACCESS_TOKEN_TYP });
      return { accessToken: jwt, expiresIn: ttl, claims };
    },

    /**
     * Revokes every access token of a grant, durably: one 'grant' revocation (gid claim) in SQL
     * and the grid (AccessTokenVerifier.revokeGrant), which also covers a token of the grant a
     * concurrent request mints after this call. Then the per-token records that versions before
     * the gid claim wrote (grant_access_tokens, their tokens live at most a day) are revoked one
     * by one, put back should a revocation fail so a retry revokes them. Returns how many of
     * those there were.
     * @throws TemporarilyUnavailable when the store or the grid cannot take a revocation.
     */
    async revokeGrant(grantId: string): Promise<number> {
      await deps.verifier.revokeGrant(grantId);
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
