// Mints ID Tokens (OpenID Connect Core 1.0 §2, §3.1.3.3, §12.2): the claims come from the pure
// builder in core/oauth, the signature from the key service's SignJwt with typ "JWT" (never
// at+jwt, so no access-token verifier accepts one). at_hash binds the ID Token to the access
// token issued with it, hashed with the hash of the alg that actually signs the ID Token.
import { decodeProtectedHeader } from 'jose';
import { ServerError } from '../core/errors/index.js';
import { atHash, buildIdTokenClaims, ID_TOKEN_TYP, MAX_ID_TOKEN_TTL_SECONDS } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

export interface IdTokenMintInput {
  client: ClientView;
  /** The subject identifier for this client (OIDC Core §8). */
  subject: string;
  /** The access token issued in the same response: at_hash is computed over it. */
  accessToken: string;
  authTime?: Date | undefined;
  /** Only from an authorization request; never on a refresh (OIDC Core §12.2). */
  nonce?: string | undefined;
  sid?: string | undefined;
  amr?: readonly string[] | undefined;
}

const algOf = (jwt: string): string => {
  const { alg } = decodeProtectedHeader(jwt);
  if (typeof alg !== 'string') throw new ServerError('a signed token has no alg');
  return alg;
};

/**
 * Signs an ID Token for the client. Its lifetime is the access token's, at most
 * MAX_ID_TOKEN_TTL_SECONDS. @throws whatever SignJwt throws (temporarily_unavailable, …)
 */
export async function mintIdToken(deps: MeshDeps, input: IdTokenMintInput): Promise<string> {
  const ttl = Math.min(input.client.accessTokenTtlSeconds || deps.config.accessTokenTtlSeconds, MAX_ID_TOKEN_TTL_SECONDS);
  // The access token's alg is the active key's; should a rotation to another algorithm land
  // between the two signatures, at_hash is recomputed for the ID Token's own alg and signed again.
  let alg = algOf(input.accessToken);
  for (let attempt = 0; attempt < 2; attempt++) {
    const claims = buildIdTokenClaims({
      issuer: deps.config.issuer,
      subject: input.subject,
      clientId: input.client.clientId,
      now: deps.now(),
      ttlSeconds: ttl,
      authTime: input.authTime,
      nonce: input.nonce,
      // OIDC Core §3.1.3.6: at_hash with the hash function of the ID Token's alg.
      accessTokenHash: atHash(input.accessToken, alg),
      amr: input.amr,
      sid: input.sid,
    });
    const { jwt } = await deps.peers.key.signJwt({ claims: { ...claims }, typ: ID_TOKEN_TYP });
    const signedWith = algOf(jwt);
    if (signedWith === alg) return jwt;
    alg = signedWith;
  }
  throw new ServerError('the signing key changed algorithm twice while an ID Token was signed');
}
