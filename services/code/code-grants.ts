// Authorization codes in the grid: stored under the hash of the code (a grid dump never yields a
// usable code, DESIGN.md §6), taken atomically on redemption, and remembered as redeemed for a
// while so that a replay can be told apart from a code that never existed.
import { ServerError } from '../core/errors/index.js';
import type { Grid } from '../core/grid/index.js';
import { generateCode, hashToken } from '../core/oauth/index.js';

/** What a code stands for, as kept in the 'codes' map. */
export interface StoredCode {
  grantId: string;
  clientId: string;
  userId: string;
  scopes: string[];
  redirectUri: string;
  redirectUriWasSent: boolean;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  nonce?: string;
  /** The login session's public id (hashToken of the session id), the ID Token's sid. */
  sid?: string;
  /** RFC 8176 authentication methods, the ID Token's amr. */
  amr?: string[];
  /** OIDC Core §5.5: standard claim names the claims parameter asked for in the ID Token. */
  idTokenClaims?: string[];
  /** RFC 9449 §10: the thumbprint of the DPoP key the code must be redeemed with. */
  dpopJkt?: string;
  /** RFC 8707 §2.1: the resources the authorization request named, the only ones the code is good for. */
  resources?: string[];
  /** ISO 8601. */
  authTime: string;
  /** ISO 8601. */
  issuedAt: string;
}

/** Marker left by a redemption: which grant the code produced. */
export interface RedeemedMarker {
  grantId: string;
}

export const CODES_MAP = 'codes';
export const REDEEMED_CODES_MAP = 'redeemed-codes';

// A replay is recognisable well after the code itself expired: long enough to catch the usual
// replay of an intercepted code, short enough that markers do not pile up.
const REDEEMED_MARKER_FACTOR = 10;

export interface CodeGrants {
  /** Stores a new code for the grant and returns the code; the grid holds only its hash. */
  issue(grant: StoredCode): Promise<string>;
  /** The grant of a code without consuming it (checks that must leave a refused request's code usable). */
  peek(code: string): Promise<StoredCode | undefined>;
  /** Atomically removes and returns the grant of a code; of concurrent takers one gets it. */
  take(code: string): Promise<{ hash: string; grant: StoredCode | undefined }>;
  /** Records that the code (by hash) was consumed for this grant. */
  markRedeemed(hash: string, grantId: string): Promise<void>;
  /** The grant a consumed code produced, if it was consumed recently. */
  redeemedGrantId(hash: string): Promise<string | undefined>;
}

export function createCodeGrants(grid: Grid, codeTtlSeconds: number): CodeGrants {
  const codes = grid.map<StoredCode>(CODES_MAP);
  const redeemed = grid.map<RedeemedMarker>(REDEEMED_CODES_MAP);
  const ttlMs = codeTtlSeconds * 1000;
  return {
    async issue(grant) {
      // 256 random bits never collide in practice; putIfAbsent still guarantees a code can never
      // silently replace another one's grant.
      for (let attempt = 0; attempt < 3; attempt++) {
        const code = generateCode();
        if (await codes.putIfAbsent(hashToken(code), grant, ttlMs)) return code;
      }
      throw new ServerError('could not store a new authorization code');
    },
    async peek(code) {
      return codes.get(hashToken(code));
    },
    async take(code) {
      const hash = hashToken(code);
      return { hash, grant: await codes.take(hash) };
    },
    async markRedeemed(hash, grantId) {
      await redeemed.set(hash, { grantId }, ttlMs * REDEEMED_MARKER_FACTOR);
    },
    async redeemedGrantId(hash) {
      return (await redeemed.get(hash))?.grantId;
    },
  };
}
