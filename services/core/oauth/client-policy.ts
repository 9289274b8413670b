// Client registration rules and which client may use which grant (RFC 6749 §2, RFC 7591, RFC 9700).
import { InvalidClientMetadata, UnauthorizedClient, UnsupportedGrantType } from '../errors/index.js';
import { DEVICE_CODE_GRANT } from './device-authorization.js';
import { type RedirectUriPolicy, validateRegisteredRedirectUri } from './redirect-uri.js';
import { parseScope } from './scope.js';

/** 'trusted' is a confidential client an admin allowed to use the password grant. */
export const CLIENT_TYPES = ['public', 'confidential', 'trusted'] as const;
export type ClientType = (typeof CLIENT_TYPES)[number];

export const TOKEN_ENDPOINT_AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  'none',
  // RFC 8705 §2.1, §2.2: mutual-TLS client authentication.
  'tls_client_auth',
  'self_signed_tls_client_auth',
] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

export const GRANT_TYPES = ['authorization_code', 'client_credentials', 'refresh_token', 'password', TOKEN_EXCHANGE_GRANT, DEVICE_CODE_GRANT] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export function isClientType(value: string): value is ClientType {
  return (CLIENT_TYPES as readonly string[]).includes(value);
}

export function isTokenEndpointAuthMethod(value: string): value is TokenEndpointAuthMethod {
  return (TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(value);
}

export function isGrantType(value: string): value is GrantType {
  return (GRANT_TYPES as readonly string[]).includes(value);
}

/** A JSON Web Key Set as registered (RFC 7517 §5); members are checked, not trusted. */
export interface Jwks {
  keys: unknown[];
}

/** Registration input as received: strings not yet known to be in our vocabularies. */
export interface ClientMetadataInput {
  clientType: string;
  /** RFC 7591 §2: defaults to client_secret_basic, or none for a public client. */
  tokenEndpointAuthMethod?: string | undefined;
  /** RFC 7591 §2: defaults to ['authorization_code']. */
  grantTypes?: readonly string[] | undefined;
  redirectUris?: readonly string[] | undefined;
  /** The scope the client may be granted, as a space-separated string (RFC 7591 §2). */
  scope?: string | undefined;
  jwks?: unknown;
}

/** Registration metadata after validation and defaults. */
export interface ClientMetadata {
  clientType: ClientType;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  grantTypes: GrantType[];
  redirectUris: string[];
  scope: string[];
  jwks?: Jwks;
}

// RFC 7517 §6.2.2 / §6.3.2 / RFC 8037 §2 / RFC 7518 §6.4: members that carry private or secret key material.
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const ASYMMETRIC_KTY = ['RSA', 'EC', 'OKP'] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates a client's public JWKS for private_key_jwt; throws InvalidClientMetadata. */
export function validatePublicJwks(jwks: unknown): Jwks {
  // RFC 7517 §5: a JWK Set is an object with a "keys" array.
  if (!isRecord(jwks) || !Array.isArray(jwks.keys)) throw new InvalidClientMetadata('jwks must be a JWK Set object with a keys array');
  // RFC 7523 §3: the server needs at least one key to verify the client's assertions.
  if (jwks.keys.length === 0) throw new InvalidClientMetadata('jwks must contain at least one key');
  for (const key of jwks.keys) {
    // RFC 7517 §4.1: every JWK has a kty member.
    if (!isRecord(key) || typeof key.kty !== 'string') throw new InvalidClientMetadata('every jwks key must be a JWK object with a kty');
    // RFC 7518 §6.4: a symmetric key would be a shared secret, not a public key.
    if (!(ASYMMETRIC_KTY as readonly string[]).includes(key.kty)) throw new InvalidClientMetadata('jwks keys must be RSA, EC or OKP public keys');
    // RFC 7591 §2: jwks holds the client's public keys; private members must never be sent.
    if (PRIVATE_JWK_MEMBERS.some((m) => m in key)) throw new InvalidClientMetadata('jwks must contain public keys only, without private key members');
  }
  return { keys: [...jwks.keys] };
}

/**
 * Validates and normalizes client registration metadata. Throws InvalidClientMetadata, or
 * InvalidRedirectUri for a bad redirect URI (RFC 7591 §3.2.2).
 */
export function validateClientMetadata(input: ClientMetadataInput, redirectPolicy: RedirectUriPolicy = {}): ClientMetadata {
  const { clientType } = input;
  // RFC 6749 §2.1: every client has a type.
  if (!isClientType(clientType)) throw new InvalidClientMetadata('client type must be public, confidential or trusted');

  const method = input.tokenEndpointAuthMethod ?? (clientType === 'public' ? 'none' : 'client_secret_basic');
  // RFC 7591 §2: token_endpoint_auth_method comes from a registered vocabulary.
  if (!isTokenEndpointAuthMethod(method)) throw new InvalidClientMetadata('unsupported token_endpoint_auth_method');

  const requestedGrants = input.grantTypes ?? ['authorization_code'];
  // RFC 7591 §2: a client needs at least one grant type to be useful.
  if (requestedGrants.length === 0) throw new InvalidClientMetadata('grant_types must not be empty');
  const unknownGrant = requestedGrants.find((g) => !isGrantType(g));
  // RFC 7591 §2: grant_types values must be ones the server supports.
  if (unknownGrant !== undefined) throw new InvalidClientMetadata('grant_types contains an unsupported grant type');
  const grantTypes = [...new Set(requestedGrants as readonly GrantType[])];

  if (clientType === 'public') {
    // RFC 6749 §2.1: a public client cannot keep a credential, so it cannot authenticate.
    if (method !== 'none') throw new InvalidClientMetadata('a public client must use token_endpoint_auth_method none');
    // RFC 6749 §4.4: client_credentials is for confidential clients only.
    if (grantTypes.includes('client_credentials')) throw new InvalidClientMetadata('a public client cannot use client_credentials');
    // RFC 9700 §2.4: the password grant must not be used, and never by an unauthenticated client.
    if (grantTypes.includes('password')) throw new InvalidClientMetadata('a public client cannot use the password grant');
    // RFC 8693 §5: exchanging tokens without client authentication lets any holder of a token act as this client.
    if (grantTypes.includes(TOKEN_EXCHANGE_GRANT)) throw new InvalidClientMetadata('a public client cannot use token exchange');
  } else {
    // RFC 6749 §2.3: a confidential client must authenticate at the token endpoint.
    if (method === 'none') throw new InvalidClientMetadata('a confidential client must not use token_endpoint_auth_method none');
  }

  // RFC 9700 §2.4: the password grant is allowed only for clients an admin marked trusted.
  if (grantTypes.includes('password') && clientType !== 'trusted') {
    throw new InvalidClientMetadata('only a trusted client may use the password grant');
  }

  let jwks: Jwks | undefined;
  // RFC 7523 §2.2 / RFC 7591 §2: private_key_jwt needs the client's public keys.
  if (method === 'private_key_jwt') {
    if (input.jwks === undefined) throw new InvalidClientMetadata('private_key_jwt requires jwks with at least one public key');
    jwks = validatePublicJwks(input.jwks);
  } else if (method === 'self_signed_tls_client_auth') {
    // RFC 8705 §2.2: the self-signed certificate is registered through its key in jwks.
    if (input.jwks === undefined) throw new InvalidClientMetadata('self_signed_tls_client_auth requires jwks with the public key of the client certificate');
    jwks = validatePublicJwks(input.jwks);
  } else if (input.jwks !== undefined) {
    jwks = validatePublicJwks(input.jwks);
  }

  const redirectUris = [...new Set(input.redirectUris ?? [])];
  // RFC 6749 §3.1.2.2 / RFC 9700 §2.1: public and confidential code clients must register redirect URIs.
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    throw new InvalidClientMetadata('authorization_code requires at least one redirect URI');
  }
  for (const uri of redirectUris) validateRegisteredRedirectUri(uri, redirectPolicy);

  let scope: string[];
  try {
    scope = parseScope(input.scope);
  } catch {
    // RFC 7591 §2: scope is a space-separated list of RFC 6749 §3.3 scope tokens.
    throw new InvalidClientMetadata('scope must be space-separated scope tokens');
  }

  const metadata: ClientMetadata = { clientType, tokenEndpointAuthMethod: method, grantTypes, redirectUris, scope };
  if (jwks !== undefined) metadata.jwks = jwks;
  return metadata;
}

/** What grant checks need to know about a registered client. */
export interface GrantClient {
  clientType: ClientType;
  grantTypes: readonly string[];
}

export interface GrantPolicy {
  /** Server-wide switch for the password grant; off by default (DESIGN.md §6). */
  passwordGrantEnabled?: boolean;
}

/**
 * Checks that the server supports a grant and that this client may use it; returns the grant type.
 * Throws UnsupportedGrantType or UnauthorizedClient (RFC 6749 §5.2).
 */
export function assertGrantAllowed(client: GrantClient, grantType: string, policy: GrantPolicy = {}): GrantType {
  // RFC 6749 §5.2: a grant type the server does not know is unsupported_grant_type.
  if (!isGrantType(grantType)) throw new UnsupportedGrantType('the grant type is not supported');
  // RFC 9700 §2.4: the password grant is off unless the operator enabled it.
  if (grantType === 'password' && policy.passwordGrantEnabled !== true) {
    throw new UnsupportedGrantType('the password grant is disabled on this server');
  }
  // RFC 6749 §5.2: a client not authorized for this grant is unauthorized_client.
  if (!client.grantTypes.includes(grantType)) throw new UnauthorizedClient('the client is not registered for this grant type');
  // RFC 9700 §2.4: even a registered password grant needs an admin-trusted client.
  if (grantType === 'password' && client.clientType !== 'trusted') {
    throw new UnauthorizedClient('only a trusted client may use the password grant');
  }
  // RFC 6749 §4.4: client_credentials MUST only be used by confidential clients.
  if (grantType === 'client_credentials' && client.clientType === 'public') {
    throw new UnauthorizedClient('a public client cannot use client_credentials');
  }
  // RFC 8693 §5: token exchange needs an authenticated client.
  if (grantType === TOKEN_EXCHANGE_GRANT && client.clientType === 'public') {
    throw new UnauthorizedClient('a public client cannot use token exchange');
  }
  return grantType;
}

export interface PkcePolicy {
  /** Require PKCE from confidential clients too; default true (RFC 9700 §2.1.1). */
  requireForConfidential?: boolean;
}

/** Whether an authorization request from this client must carry a code_challenge. */
export function pkceRequired(client: Pick<GrantClient, 'clientType'>, policy: PkcePolicy = {}): boolean {
  // RFC 9700 §2.1.1: public clients MUST use PKCE.
  if (client.clientType === 'public') return true;
  // RFC 9700 §2.1.1: confidential clients SHOULD use PKCE, so we require it unless turned off.
  return policy.requireForConfidential ?? true;
}
