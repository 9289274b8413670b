// The token service's view of an authenticated client, from the client service's proto message.
import { ClientType, GrantType, type Client } from '../../gen/ts/authmesh/client/v1/client.js';
import type { ClientType as ClientTypeName } from '../core/oauth/index.js';
import { TOKEN_EXCHANGE_GRANT } from '../core/oauth/index.js';

export interface ClientView {
  clientId: string;
  clientType: ClientTypeName;
  grantTypes: string[];
  scopes: string[];
  audience: string[];
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
}

const TYPES: Partial<Record<ClientType, ClientTypeName>> = {
  [ClientType.CLIENT_TYPE_PUBLIC]: 'public',
  [ClientType.CLIENT_TYPE_CONFIDENTIAL]: 'confidential',
  [ClientType.CLIENT_TYPE_TRUSTED]: 'trusted',
};

const GRANTS: Partial<Record<GrantType, string>> = {
  [GrantType.GRANT_TYPE_AUTHORIZATION_CODE]: 'authorization_code',
  [GrantType.GRANT_TYPE_CLIENT_CREDENTIALS]: 'client_credentials',
  [GrantType.GRANT_TYPE_REFRESH_TOKEN]: 'refresh_token',
  [GrantType.GRANT_TYPE_PASSWORD]: 'password',
  [GrantType.GRANT_TYPE_TOKEN_EXCHANGE]: TOKEN_EXCHANGE_GRANT,
};

export function toClientView(client: Client): ClientView {
  return {
    clientId: client.clientId,
    // An unknown type can only come from a newer client service; treat it as the least trusted.
    clientType: TYPES[client.clientType] ?? 'public',
    grantTypes: client.grantTypes.map((g) => GRANTS[g]).filter((g): g is string => g !== undefined),
    scopes: client.scopes,
    audience: client.audience,
    accessTokenTtlSeconds: client.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: client.refreshTokenTtlSeconds,
  };
}
