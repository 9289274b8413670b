// The authenticator of every authmesh server: the mesh credential for internal RPCs, verified
// bearer access tokens with the right scope for admin RPCs.
import type { Metadata } from '@grpc/grpc-js';
import { AccessDenied, InsufficientScope, InvalidToken } from '../errors/index.js';
import { assertBearerUsable, constantTimeEqualTo, isAddressedOnlyTo, parseBearer } from '../oauth/index.js';
import type { AccessTokenVerifier } from './access-token-verifier.js';
import type { Authenticator, Principal } from './context.js';

/** Metadata key carrying the mesh credential between authmesh services. */
export const MESH_METADATA_KEY = 'x-authmesh-mesh';

export interface MeshAuthenticatorOptions {
  meshSecret: string;
  verifier: AccessTokenVerifier;
  /**
   * authmesh's own audience: the only `aud` value an access token may carry to call admin RPCs. It is
   * the issuer, which is what a token gets when it is requested without resource indicators by a
   * client without default audiences (the bootstrap admin client's client_credentials token).
   */
  audience: string;
}

export function createMeshAuthenticator(options: MeshAuthenticatorOptions): Authenticator {
  const isMeshSecret = constantTimeEqualTo(options.meshSecret);
  const isMesh = (md: Metadata) => {
    const v = md.get(MESH_METADATA_KEY)[0];
    return typeof v === 'string' && isMeshSecret(v);
  };
  const bearerOf = (md: Metadata): string | undefined => {
    const v = md.get('authorization')[0];
    if (typeof v !== 'string') return undefined;
    const token = parseBearer(v);
    if (!token) throw new InvalidToken('the authorization metadata is not a Bearer token');
    return token;
  };

  return {
    async authenticate(md, access): Promise<Principal> {
      switch (access.kind) {
        case 'public':
          return { kind: 'anonymous' };
        case 'client':
          // The client authenticates in the request; the mesh credential only says the caller is
          // the gateway, whose remote_ip the audit trail may then believe (caller-address.ts).
          return isMesh(md) ? { kind: 'mesh' } : { kind: 'anonymous' };
        case 'internal':
          if (isMesh(md)) return { kind: 'mesh' };
          if (md.get('authorization').length > 0) throw new AccessDenied('this method is internal to the mesh');
          throw new InvalidToken('this method requires the mesh credential');
        case 'scopes': {
          if (access.allowMesh && isMesh(md)) return { kind: 'mesh' };
          const token = bearerOf(md);
          if (!token) throw new InvalidToken('this method requires a Bearer access token');
          const claims = await options.verifier.verify(token);
          // RFC 9449 §7.1: a DPoP-bound token presented as Bearer is refused (admin APIs, UserInfo).
          assertBearerUsable(claims);
          // RFC 9068 §4 / RFC 7519 §4.1.3: a token issued for another API is not a credential for
          // this one, whatever scope it carries.
          if (!isAddressedOnlyTo(claims, options.audience)) throw new InvalidToken('the token is not intended for authmesh alone (aud)');
          const scopes = claims.scope ? claims.scope.split(' ') : [];
          // RFC 6750 §3.1: a valid token without the needed scope is insufficient_scope.
          if (!access.anyOf.some((s) => scopes.includes(s))) {
            throw new InsufficientScope(`this method requires scope ${access.anyOf.join(' or ')}`, { metadata: { scope: access.anyOf.join(' ') } });
          }
          return { kind: 'token', subject: claims.sub, clientId: claims.client_id, scopes, jti: claims.jti };
        }
      }
    },
  };
}
