// The token service's view of an authenticated client, from the client service's proto message.
import type { Client } from '../../gen/ts/authmesh/client/v1/client.js';
import { clientTypeName, grantTypeNames } from '../client/client-enums.js';
import type { ClientType as ClientTypeName, SubjectType } from '../core/oauth/index.js';

export interface ClientView {
  clientId: string;
  clientType: ClientTypeName;
  grantTypes: string[];
  scopes: string[];
  audience: string[];
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** The client's own refresh-token reuse grace window, seconds; undefined: the server default. */
  refreshTokenReuseGraceSeconds: number | undefined;
  /** OpenID Connect: what the client's ID Tokens need (sub per OIDC Core §8, the registered alg). */
  redirectUris: string[];
  subjectType: SubjectType;
  sectorIdentifierUri: string;
  idTokenSignedResponseAlg: string;
  /** RFC 9449 §5.2: the client must use DPoP at the token endpoint. */
  dpopBoundAccessTokens: boolean;
  /** RFC 8705 §3.4: the client must present a certificate at the token endpoint. */
  tlsClientCertificateBoundAccessTokens: boolean;
}

export function toClientView(client: Client): ClientView {
  return {
    clientId: client.clientId,
    // An unknown type can only come from a newer client service; treat it as the least trusted.
    clientType: clientTypeName(client.clientType) ?? 'public',
    grantTypes: grantTypeNames(client.grantTypes),
    scopes: client.scopes,
    audience: client.audience,
    accessTokenTtlSeconds: client.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: client.refreshTokenTtlSeconds,
    refreshTokenReuseGraceSeconds: client.refreshTokenReuseGraceSeconds,
    redirectUris: client.redirectUris,
    subjectType: client.subjectType === 'pairwise' ? 'pairwise' : 'public',
    sectorIdentifierUri: client.sectorIdentifierUri,
    idTokenSignedResponseAlg: client.idTokenSignedResponseAlg,
    dpopBoundAccessTokens: client.dpopBoundAccessTokens,
    tlsClientCertificateBoundAccessTokens: client.tlsClientCertificateBoundAccessTokens,
  };
}
