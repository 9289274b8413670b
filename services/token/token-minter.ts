// Mints access tokens (RFC 9068 JWTs signed by the key service) and records, per grant, which
// access tokens it produced so a replayed authorization code can revoke them (RFC 6749 §4.1.2).
import { randomUUID } from 'node:crypto';
import { TemporarilyUnavailable } from '../core/errors/index.js';
import { ACCESS_TOKEN_TYP, buildAccessTokenClaims, type AccessTokenClaims, type ActClaim } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

/** No access token lives longer than this, whatever a client asks: retired keys outlive it. */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 86_400;
const GRANT_TOKENS_MAP = 'grant-tokens';
// A short lease per grant that makes "read the list, append, write it back" atomic across
// instances: sibling refreshes of one family (reuse grace window) mint concurrently, and a lost
// append would leave an access token that a later reuse could not revoke.
const GRANT_LOCKS_MAP = 'grant-tokens-lock';
const GRANT_LOCK_TTL_MS = 5_000;
const GRANT_LOCK_ATTEMPTS = 200;

export interface MintInput {
  client: ClientView;
  subject: string;
  scopes: string[];
  audience: string[];
  authTime?: Date | undefined;
  act?: ActClaim | undefined;
  /** The grant (code redemption / refresh family) the token belongs to. */
  grantId?: string | undefined;
}

export interface Minted {
  accessToken: string;
  expiresIn: number;
  claims: AccessTokenClaims;
}

type GrantTokens = { jti: string; exp: number }[];

export function createTokenMinter(deps: MeshDeps) {
  const grantTokens = deps.grid.map<GrantTokens>(GRANT_TOKENS_MAP);
  const grantLocks = deps.grid.map<string>(GRANT_LOCKS_MAP);

  /** Runs fn holding the grant's lease; TemporarilyUnavailable when it cannot be had in about 3 s. */
  async function withGrantLock<T>(grantId: string, fn: () => Promise<T>): Promise<T> {
    const owner = randomUUID();
    for (let attempt = 0; !(await grantLocks.putIfAbsent(grantId, owner, GRANT_LOCK_TTL_MS)); attempt++) {
      if (attempt >= GRANT_LOCK_ATTEMPTS) throw new TemporarilyUnavailable('the grant is busy; try again');
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.floor(Math.random() * 20)));
    }
    try {
      return await fn();
    } finally {
      // Released only by its owner; an expired lease someone else took is left alone.
      if ((await grantLocks.get(grantId)) === owner) await grantLocks.delete(grantId);
    }
  }

  return {
    async mint(input: MintInput): Promise<Minted> {
      const ttl = Math.min(input.client.accessTokenTtlSeconds || deps.config.accessTokenTtlSeconds, MAX_ACCESS_TOKEN_TTL_SECONDS);
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
      });
      const { jwt } = await deps.peers.key.signJwt({ claims: { ...claims }, typ: ACCESS_TOKEN_TYP });
      const grantId = input.grantId;
      if (grantId) {
        await withGrantLock(grantId, async () => {
          const list = (await grantTokens.get(grantId)) ?? [];
          const now = Math.floor(deps.now().getTime() / 1000);
          const live = list.filter((t) => t.exp > now);
          live.push({ jti: claims.jti, exp: claims.exp });
          await grantTokens.set(grantId, live, (MAX_ACCESS_TOKEN_TTL_SECONDS + 60) * 1000);
        });
      }
      return { accessToken: jwt, expiresIn: ttl, claims };
    },

    /** Revokes every live access token minted for a grant; returns how many. */
    async revokeGrant(grantId: string): Promise<number> {
      const list = (await withGrantLock(grantId, () => grantTokens.take(grantId))) ?? [];
      for (const t of list) await deps.verifier.revoke(t);
      return list.length;
    },
  };
}

export type TokenMinter = ReturnType<typeof createTokenMinter>;
