// Mints ID Tokens (OpenID Connect Core 1.0 §2, §3.1.3.3, §12.2): the claims come from the pure
// builder in core/oauth, the signature from the key service's SignJwt with typ "JWT" (never
// at+jwt, so no access-token verifier accepts one). at_hash binds the ID Token to the access
// token issued with it, hashed with the hash of the alg that actually signs the ID Token.
import { decodeProtectedHeader } from 'jose';
import type { User } from '../../gen/ts/authmesh/user/v1/user.js';
import { hasErrorCode, InvalidGrant, ServerError } from '../core/errors/index.js';
import { resolvePairwiseSalt } from '../core/config/data-dir-secrets.js';
import {
  atHash,
  buildIdTokenClaims,
  type ClaimSource,
  ID_TOKEN_TYP,
  idTokenClaimsRequest,
  idTokenUserClaims,
  MAX_ID_TOKEN_TTL_SECONDS,
  releasedClaims,
  subjectIdentifier,
} from '../core/oauth/index.js';
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
  /** The grant's scope (the consent), which limits the standard claims released (OIDC Core §5.4). */
  scopes: readonly string[];
  /** Standard claim names the `claims` parameter asked for in the ID Token (OIDC Core §5.5). */
  idTokenClaims?: readonly string[] | undefined;
}

const present = (v: string): string | undefined => (v === '' ? undefined : v);
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** The user service's User as the claims rule reads it (empty strings are unset values). */
export function claimSourceOf(u: User): ClaimSource {
  const a = u.address;
  const address =
    a === undefined
      ? undefined
      : defined({
          formatted: present(a.formatted),
          streetAddress: present(a.streetAddress),
          locality: present(a.locality),
          region: present(a.region),
          postalCode: present(a.postalCode),
          country: present(a.country),
        });
  return defined({
    username: u.username,
    email: present(u.email),
    displayName: present(u.displayName),
    updatedAt: u.updateTime ?? u.createTime ?? new Date(0),
    claims: defined({
      givenName: present(u.givenName),
      familyName: present(u.familyName),
      middleName: present(u.middleName),
      nickname: present(u.nickname),
      preferredUsername: present(u.preferredUsername),
      profile: present(u.profile),
      picture: present(u.picture),
      website: present(u.website),
      gender: present(u.gender),
      birthdate: present(u.birthdate),
      zoneinfo: present(u.zoneinfo),
      locale: present(u.locale),
      emailVerified: u.emailVerified,
      phoneNumber: present(u.phoneNumber),
      phoneNumberVerified: u.phoneNumberVerified,
      address: address !== undefined && Object.keys(address).length > 0 ? address : undefined,
    }),
  });
}

/**
 * The standard claims of the user for the ID Token (OIDC Core §5.5): those the claims parameter
 * requested whose scope group was granted, each only if the user has a value; {} (and no call to
 * the user service) when none may be released. @throws InvalidGrant when the user is gone
 */
async function userClaimsFor(deps: MeshDeps, input: IdTokenMintInput, subject: string): Promise<Record<string, unknown>> {
  const request = idTokenClaimsRequest(input.idTokenClaims ?? []);
  if (releasedClaims(input.scopes, request, 'id_token').size === 0) return {};
  let user;
  try {
    ({ user } = await deps.peers.user.getUser({ userId: input.userId }));
  } catch (err) {
    if (hasErrorCode(err, 'not_found')) throw new InvalidGrant('the user of the grant no longer exists');
    throw err;
  }
  if (user === undefined) throw new InvalidGrant('the user of the grant no longer exists');
  const { sub: _sub, ...claims } = idTokenUserClaims(subject, claimSourceOf(user), input.scopes, request);
  return claims;
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
  const userClaims = await userClaimsFor(deps, input, subject);
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
    // The standard claims first: none of them can replace a protocol claim (iss, sub, aud, ...).
    const { jwt } = await deps.peers.key.signJwt({ claims: { ...userClaims, ...claims }, typ: ID_TOKEN_TYP });
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
