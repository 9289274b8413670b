// Mints ID Tokens (OpenID Connect Core 1.0 §2, §3.1.3.3, §12.2): the claims come from the pure
// builder in core/oauth, the signature from the key service's SignJwt with typ "JWT" (never
// at+jwt, so no access-token verifier accepts one). at_hash binds the ID Token to the access
// token issued with it, hashed with the hash of the alg that actually signs the ID Token.
import { decodeProtectedHeader } from 'jose';
import { ServerError } from '../core/errors/index.js';
import { resolvePairwiseSalt } from '../core/config/data-dir-secrets.js';
import { atHash, buildIdTokenClaims, ID_TOKEN_TYP, MAX_ID_TOKEN_TTL_SECONDS, subjectIdentifier } from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

export interface IdTokenMintInput {
  client: ClientView;
  /** The user; the ID Token's sub is their subject identifier for the client (OIDC Core §8). */
  userId: string;
  /** The access token issued in the same response: at_hash is computed over it. */
  accessToken: string;
  authTime?: Date | undefined;
  /** Only from an authorization request; never on a refresh (OIDC Core §12.2). */
  nonce?: string | undefined;
  sid?: string | undefined;
  amr?: readonly string[] | undefined;
}

// The pairwise salt, read (or generated into the data directory) once per mesh, on first use.
const salts = new WeakMap<MeshDeps, string>();
function pairwiseSalt(deps: MeshDeps): string {
  let salt = salts.get(deps);
  if (salt === undefined) {
    salt = resolvePairwiseSalt(deps.config, deps.log);
    salts.set(deps, salt);
  }
  return salt;
}

/** The user's sub for the client (OIDC Core §8): the user id, or the pairwise identifier (§8.1). */
export function idTokenSubject(deps: MeshDeps, client: ClientView, userId: string): string {
  return subjectIdentifier(client, userId, client.subjectType === 'pairwise' ? pairwiseSalt(deps) : '');
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
  const subject = idTokenSubject(deps, input.client, input.userId);
  const registered = input.client.idTokenSignedResponseAlg;
  let alg = algOf(input.accessToken);
  for (let attempt = 0; attempt < 2; attempt++) {
    const claims = buildIdTokenClaims({
      issuer: deps.config.issuer,
      subject,
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
    // OpenID Connect Registration §2: never an ID Token in another alg than the client registered
    // (possible only after an admin rotated the signing key to another algorithm).
    if (registered !== '' && signedWith !== registered) {
      throw new ServerError(`the signing key's algorithm ${signedWith} is not the client's id_token_signed_response_alg ${registered}`);
    }
    if (signedWith === alg) return jwt;
    alg = signedWith;
  }
  throw new ServerError('the signing key changed algorithm twice while an ID Token was signed');
}
