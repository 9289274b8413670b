// What a registration access token (RFC 7592 §3) may change. The token is a credential the client
// software holds for itself, so it manages only the RFC 7591 metadata of its own client, and only
// within what an admin approved: whoever holds it may narrow the client's grants and scopes, fix
// its redirect URIs or keys, but never reach an admin setting (trusted type, skip_consent,
// audience, token lifetimes, require_pkce) nor widen a grant or a scope. No I/O here.
import { InvalidClientMetadata } from '../core/errors/index.js';
import type { Client } from '../core/store/types.js';
import { draftOf, type ClientDraft, type ClientDraftField } from './client-draft.js';

/** The draft fields an RFC 7592 §2.2 update under a registration access token replaces. */
export const REGISTRATION_FIELDS: readonly ClientDraftField[] = [
  'name',
  'clientType',
  'redirectUris',
  'grantTypes',
  'scopes',
  'tokenEndpointAuthMethod',
  'jwks',
  'clientUri',
  'logoUri',
  'contacts',
  'userinfoSignedResponseAlg',
  'postLogoutRedirectUris',
  'backchannelLogoutUri',
  'backchannelLogoutSessionRequired',
  // RFC 8705 §2.1.2 and §3.4: the client's own mutual-TLS metadata.
  'tlsClientAuthSubjectDn',
  'tlsClientAuthSanDns',
  'tlsClientAuthSanUri',
  'tlsClientAuthSanIp',
  'tlsClientAuthSanEmail',
  'tlsClientCertificateBoundAccessTokens',
  // RFC 9126 §6 / RFC 9101 §10.5: how the client's own authorization requests must arrive.
  'requirePushedAuthorizationRequests',
  'requireSignedRequestObject',
  'requestObjectSigningAlg',
];

/**
 * The full draft for a token-authorized update: the current client with its RFC 7591 fields
 * replaced by the requested ones. Still to be validated by validateDraft like any other draft.
 * @throws InvalidClientMetadata when the request widens the client's grants or scopes.
 */
export function registrationUpdateDraft(current: Client, requested: ClientDraft): ClientDraft {
  // RFC 7591 §2: omitted token_endpoint_auth_method and grant_types take the protocol defaults.
  const method = requested.tokenEndpointAuthMethod === '' ? 'client_secret_basic' : requested.tokenEndpointAuthMethod;
  const grantTypes = requested.grantTypes.length === 0 ? ['authorization_code'] : requested.grantTypes;
  // RFC 7592 §2.2: the server may refuse values; a token never grants what an admin did not.
  if (grantTypes.some((g) => !current.grantTypes.includes(g))) {
    throw new InvalidClientMetadata('grant_types may not add a grant the client is not allowed; ask an administrator');
  }
  if (requested.scopes.some((s) => !current.scopes.includes(s))) {
    throw new InvalidClientMetadata('scope may not add a scope the client is not allowed; ask an administrator');
  }
  // RFC 6749 §2.1: a client that does not authenticate is public; a token never makes one trusted,
  // but an admin's choice of trusted survives as long as the client still authenticates.
  const clientType = method === 'none' ? 'public' : current.clientType === 'trusted' ? 'trusted' : 'confidential';
  const draft: ClientDraft = { ...draftOf(current) };
  const replaced: Partial<ClientDraft> = { ...requested, clientType, tokenEndpointAuthMethod: method, grantTypes };
  for (const f of REGISTRATION_FIELDS) (draft as unknown as Record<string, unknown>)[f] = replaced[f];
  return draft;
}
