// The client contract's enums and the RFC names they stand for (RFC 6749 §2.1 client types,
// RFC 7591 §2 grant_types and token_endpoint_auth_method). One table for every reader of the
// proto: the client service, the code and token services, and the gateway's RFC 7591 endpoint.
// Each function answers undefined for a value it does not know; what that means is the caller's
// policy (refuse the input, treat the client as unknown, or as the least trusted).
import { ClientType, GrantType, TokenEndpointAuthMethod } from '../../gen/ts/authmesh/client/v1/client.js';
import { DEVICE_CODE_GRANT, TOKEN_EXCHANGE_GRANT, type ClientType as ClientTypeName, type GrantType as GrantTypeName, type TokenEndpointAuthMethod as AuthMethodName } from '../core/oauth/index.js';

const CLIENT_TYPES: Record<ClientTypeName, ClientType> = {
  public: ClientType.CLIENT_TYPE_PUBLIC,
  confidential: ClientType.CLIENT_TYPE_CONFIDENTIAL,
  trusted: ClientType.CLIENT_TYPE_TRUSTED,
};
const GRANT_TYPES: Record<GrantTypeName, GrantType> = {
  authorization_code: GrantType.GRANT_TYPE_AUTHORIZATION_CODE,
  client_credentials: GrantType.GRANT_TYPE_CLIENT_CREDENTIALS,
  refresh_token: GrantType.GRANT_TYPE_REFRESH_TOKEN,
  password: GrantType.GRANT_TYPE_PASSWORD,
  [TOKEN_EXCHANGE_GRANT]: GrantType.GRANT_TYPE_TOKEN_EXCHANGE,
  [DEVICE_CODE_GRANT]: GrantType.GRANT_TYPE_DEVICE_CODE,
};
const AUTH_METHODS: Record<AuthMethodName, TokenEndpointAuthMethod> = {
  client_secret_basic: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC,
  client_secret_post: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_POST,
  private_key_jwt: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_PRIVATE_KEY_JWT,
  none: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_NONE,
  tls_client_auth: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_TLS_CLIENT_AUTH,
  self_signed_tls_client_auth: TokenEndpointAuthMethod.TOKEN_ENDPOINT_AUTH_METHOD_SELF_SIGNED_TLS_CLIENT_AUTH,
};

function valueOf<N extends string, E>(table: Record<N, E>, name: string): E | undefined {
  return Object.hasOwn(table, name) ? table[name as N] : undefined;
}

function nameOf<N extends string, E>(table: Record<N, E>, value: E): N | undefined {
  return (Object.keys(table) as N[]).find((n) => table[n] === value);
}

export const clientTypeName = (v: ClientType) => nameOf(CLIENT_TYPES, v);
export const clientTypeValue = (name: string) => valueOf(CLIENT_TYPES, name);
export const grantTypeName = (v: GrantType) => nameOf(GRANT_TYPES, v);
export const grantTypeValue = (name: string) => valueOf(GRANT_TYPES, name);
export const authMethodName = (v: TokenEndpointAuthMethod) => nameOf(AUTH_METHODS, v);
export const authMethodValue = (name: string) => valueOf(AUTH_METHODS, name);

/** Known grant names of a proto client; values this version does not know are left out. */
export function grantTypeNames(values: readonly GrantType[]): GrantTypeName[] {
  return values.map(grantTypeName).filter((g): g is GrantTypeName => g !== undefined);
}
