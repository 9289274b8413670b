// A client as an admin (or RFC 7591 registration) describes it, and its validation into the
// stored form. Transport-neutral: the gRPC adapter and the gateway's registration endpoint both
// build a ClientDraft and let this module decide.
import { InvalidClientMetadata, InvalidRequest } from '../core/errors/index.js';
import {
  ALLOWED_ALGS,
  isScopeToken,
  MAX_MAX_AGE_SECONDS,
  SUBJECT_TYPES,
  validateClientMetadata,
  validateSubjectMetadata,
  type ClientMetadata,
  REQUEST_OBJECT_SIGNING_ALGS,
  type GrantType,
  isLoopbackIpHost,
  validateRegisteredRedirectUri,
  type SubjectType,
  TLS_CLIENT_AUTH_METADATA,
  tlsClientAuthExpectation,
  type TlsClientAuthExpectation,
  type TlsClientAuthMetadataName,
} from '../core/oauth/index.js';
import { ipLiteralOf, isAllowedTarget } from '../core/net/server-request-target.js';
import type { Client } from '../core/store/types.js';

/** Every mutable client property, in domain vocabulary ('' / [] mean "use the default"). */
export interface ClientDraft {
  name: string;
  /** 'public' | 'confidential' | 'trusted'; anything else is rejected. */
  clientType: string;
  redirectUris: string[];
  /** Empty: authorization_code + refresh_token for public clients, client_credentials otherwise. */
  grantTypes: string[];
  scopes: string[];
  /** '': client_secret_basic for confidential and trusted clients, none for public ones. */
  tokenEndpointAuthMethod: string;
  jwks: Record<string, unknown> | undefined;
  skipConsent: boolean;
  requirePkce: boolean;
  audience: string[];
  /** 0: the server default. */
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** Refresh-token reuse grace window, seconds (0 strict); undefined: the server default. */
  refreshTokenReuseGraceSeconds: number | undefined;
  clientUri: string;
  logoUri: string;
  contacts: string[];
  /** OpenID Connect Registration §2: the ID Token's alg; '': the server's signing algorithm. */
  idTokenSignedResponseAlg: string;
  /** OpenID Connect Registration §2: max_age when a request has none, seconds; undefined: none. */
  defaultMaxAge: number | undefined;
  /** OpenID Connect Registration §2: auth_time required in ID Tokens (it always is). */
  requireAuthTime: boolean;
  /** OpenID Connect Core §8: 'public' or 'pairwise'; '': public. */
  subjectType: string;
  /** OpenID Connect Registration §2: its host is the pairwise sector; '': the redirect URIs' host. */
  sectorIdentifierUri: string;
  /** OIDC Registration §2 userinfo_signed_response_alg; '' for unsigned JSON UserInfo. */
  userinfoSignedResponseAlg: string;
  /** OpenID Connect RP-Initiated Logout 1.0 §3.1; matched exactly. */
  postLogoutRedirectUris: string[];
  /** OpenID Connect Back-Channel Logout 1.0 §2.2; '' for none. */
  backchannelLogoutUri: string;
  backchannelLogoutSessionRequired: boolean;
  /** RFC 9449 §5.2 dpop_bound_access_tokens: every token request must carry a DPoP proof. */
  dpopBoundAccessTokens: boolean;
  /** RFC 8705 §2.1.2: what a tls_client_auth certificate must carry; exactly one set for that method, none otherwise. */
  tlsClientAuthSubjectDn: string;
  tlsClientAuthSanDns: string;
  tlsClientAuthSanUri: string;
  tlsClientAuthSanIp: string;
  tlsClientAuthSanEmail: string;
  /** RFC 8705 §3.4: every token request must present a client certificate, which binds the tokens. */
  tlsClientCertificateBoundAccessTokens: boolean;
  /** RFC 9126 §6: authorization requests only by a pushed request's request_uri. */
  requirePushedAuthorizationRequests: boolean;
  /** RFC 9101 §10.5: authorization requests only as signed request objects. */
  requireSignedRequestObject: boolean;
  /** OIDC Registration §2 request_object_signing_alg; '' = any of the allow-list. */
  requestObjectSigningAlg: string;
}

export type ClientDraftField = keyof ClientDraft;

export const CLIENT_DRAFT_FIELDS: readonly ClientDraftField[] = [
  'name',
  'clientType',
  'redirectUris',
  'grantTypes',
  'scopes',
  'tokenEndpointAuthMethod',
  'jwks',
  'skipConsent',
  'requirePkce',
  'audience',
  'accessTokenTtlSeconds',
  'refreshTokenTtlSeconds',
  'refreshTokenReuseGraceSeconds',
  'clientUri',
  'logoUri',
  'contacts',
  'idTokenSignedResponseAlg',
  'defaultMaxAge',
  'requireAuthTime',
  'subjectType',
  'sectorIdentifierUri',
  'userinfoSignedResponseAlg',
  'postLogoutRedirectUris',
  'backchannelLogoutUri',
  'backchannelLogoutSessionRequired',
  'dpopBoundAccessTokens',
  'tlsClientAuthSubjectDn',
  'tlsClientAuthSanDns',
  'tlsClientAuthSanUri',
  'tlsClientAuthSanIp',
  'tlsClientAuthSanEmail',
  'tlsClientCertificateBoundAccessTokens',
  'requirePushedAuthorizationRequests',
  'requireSignedRequestObject',
  'requestObjectSigningAlg',
];

// Keys of Client.metadata for RFC 7591 fields without a column of their own.
export const META_REQUIRE_PKCE = 'require_pkce';
export const META_CLIENT_URI = 'client_uri';
export const META_LOGO_URI = 'logo_uri';
export const META_CONTACTS = 'contacts';
export const META_USERINFO_SIGNED_RESPONSE_ALG = 'userinfo_signed_response_alg';
export const META_POST_LOGOUT_REDIRECT_URIS = 'post_logout_redirect_uris';
export const META_BACKCHANNEL_LOGOUT_URI = 'backchannel_logout_uri';
export const META_BACKCHANNEL_LOGOUT_SESSION_REQUIRED = 'backchannel_logout_session_required';
const MAX_POST_LOGOUT_REDIRECT_URIS = 20;
// RFC 9449 §5.2 client metadata.
export const META_DPOP_BOUND_ACCESS_TOKENS = 'dpop_bound_access_tokens';
// RFC 8705 §2.1.2 and §3.4 client metadata, under their RFC names.
export const META_TLS_CLIENT_CERTIFICATE_BOUND_ACCESS_TOKENS = 'tls_client_certificate_bound_access_tokens';
/** The draft property of each RFC 8705 §2.1.2 metadata name. */
export const TLS_CLIENT_AUTH_DRAFT_FIELDS: Record<TlsClientAuthMetadataName, ClientDraftField> = {
  tls_client_auth_subject_dn: 'tlsClientAuthSubjectDn',
  tls_client_auth_san_dns: 'tlsClientAuthSanDns',
  tls_client_auth_san_uri: 'tlsClientAuthSanUri',
  tls_client_auth_san_ip: 'tlsClientAuthSanIp',
  tls_client_auth_san_email: 'tlsClientAuthSanEmail',
};
// RFC 9126 §6 and RFC 9101 §10.5 / OIDC Registration §2 client metadata.
export const META_REQUIRE_PAR = 'require_pushed_authorization_requests';
export const META_REQUIRE_SIGNED_REQUEST_OBJECT = 'require_signed_request_object';
export const META_REQUEST_OBJECT_SIGNING_ALG = 'request_object_signing_alg';
export const META_SECRET_ROTATED_AT = 'secret_rotated_at';
export const META_REFRESH_REUSE_GRACE = 'refresh_token_reuse_grace_seconds';
// OpenID Connect Registration §2 metadata, kept in Client.metadata like the RFC 7591 extras.
export const META_ID_TOKEN_ALG = 'id_token_signed_response_alg';
export const META_DEFAULT_MAX_AGE = 'default_max_age';
export const META_REQUIRE_AUTH_TIME = 'require_auth_time';
export const META_SUBJECT_TYPE = 'subject_type';
export const META_SECTOR_IDENTIFIER_URI = 'sector_identifier_uri';
/** The metadata keys of the OpenID Connect fields (removed from a client when an update clears them). */
export const OIDC_META_KEYS: readonly string[] = [META_ID_TOKEN_ALG, META_DEFAULT_MAX_AGE, META_REQUIRE_AUTH_TIME, META_SUBJECT_TYPE, META_SECTOR_IDENTIFIER_URI];
/** The metadata keys a validated draft rewrites (absent from ValidatedClient.extra = cleared). */
export const DRAFT_META_KEYS: readonly string[] = [
  META_CLIENT_URI,
  META_LOGO_URI,
  META_CONTACTS,
  META_USERINFO_SIGNED_RESPONSE_ALG,
  META_POST_LOGOUT_REDIRECT_URIS,
  META_BACKCHANNEL_LOGOUT_URI,
  META_BACKCHANNEL_LOGOUT_SESSION_REQUIRED,
  META_DPOP_BOUND_ACCESS_TOKENS,
  META_TLS_CLIENT_CERTIFICATE_BOUND_ACCESS_TOKENS,
  ...TLS_CLIENT_AUTH_METADATA,
  META_REQUIRE_PAR,
  META_REQUIRE_SIGNED_REQUEST_OBJECT,
  META_REQUEST_OBJECT_SIGNING_ALG,
  ...OIDC_META_KEYS,
];
/** Longest refresh-token reuse grace window: a retry or a second tab, not a second device. */
export const MAX_REFRESH_REUSE_GRACE_SECONDS = 300;

// RFC 6749 §2.2 leaves the client_id format to the server; this set is safe in URLs, logs and keys.
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_TTL_ACCESS = 86_400;
const MAX_TTL_REFRESH = 365 * 86_400;

export function isValidClientId(id: string): boolean {
  return CLIENT_ID.test(id);
}

export function assertClientId(id: string): void {
  if (!isValidClientId(id)) throw new InvalidRequest("client_id must be 1-128 letters, digits, '.', '_', ':' or '-'");
}

/** Whether the client authenticates with a shared secret (and therefore gets one generated). */
export function usesSecret(method: string): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

/** Whether the client must send a PKCE code_challenge (always for public clients, RFC 9700 §2.1.1). */
export function clientRequiresPkce(client: Pick<Client, 'clientType' | 'metadata'>): boolean {
  return client.clientType === 'public' || client.metadata[META_REQUIRE_PKCE] !== 'false';
}

/** The client's own refresh-token reuse grace window in seconds; undefined: the server default. */
export function refreshReuseGraceOf(client: Pick<Client, 'metadata'>): number | undefined {
  const raw = client.metadata[META_REFRESH_REUSE_GRACE];
  if (raw === undefined || !/^\d{1,3}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= MAX_REFRESH_REUSE_GRACE_SECONDS ? n : undefined;
}

/** The client's OpenID Connect metadata from Client.metadata (defaults where absent or unreadable). */
export function oidcMetadataOf(client: Pick<Client, 'metadata'>): {
  idTokenSignedResponseAlg: string;
  defaultMaxAge: number | undefined;
  requireAuthTime: boolean;
  subjectType: SubjectType;
  sectorIdentifierUri: string;
} {
  const m = client.metadata;
  const maxAge = m[META_DEFAULT_MAX_AGE];
  return {
    idTokenSignedResponseAlg: m[META_ID_TOKEN_ALG] ?? '',
    defaultMaxAge: maxAge !== undefined && /^\d{1,12}$/.test(maxAge) ? Number(maxAge) : undefined,
    requireAuthTime: m[META_REQUIRE_AUTH_TIME] === 'true',
    subjectType: m[META_SUBJECT_TYPE] === 'pairwise' ? 'pairwise' : 'public',
    sectorIdentifierUri: m[META_SECTOR_IDENTIFIER_URI] ?? '',
  };
}

/** The stored client seen as a draft, so an update can merge changes into it. */
/** A JSON array of strings kept in Client.metadata; [] when absent or unreadable. */
function metaList(client: Pick<Client, 'metadata'>, key: string): string[] {
  try {
    const parsed: unknown = JSON.parse(client.metadata[key] ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((c): c is string => typeof c === 'string') : [];
  } catch {
    return [];
  }
}

/** The client's registered post_logout_redirect_uris (OpenID Connect RP-Initiated Logout 1.0 §3.1). */
export function postLogoutRedirectUrisOf(client: Pick<Client, 'metadata'>): string[] {
  return metaList(client, META_POST_LOGOUT_REDIRECT_URIS);
}

/** The stored client seen as a draft, so an update can merge changes into it. */
export function draftOf(client: Client): ClientDraft {
  const contacts = metaList(client, META_CONTACTS);
  return {
    name: client.name,
    clientType: client.clientType,
    redirectUris: [...client.redirectUris],
    grantTypes: [...client.grantTypes],
    scopes: [...client.scopes],
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    jwks: client.jwks,
    skipConsent: client.skipConsent,
    requirePkce: clientRequiresPkce(client),
    audience: [...client.audience],
    accessTokenTtlSeconds: client.accessTokenTtlSeconds ?? 0,
    refreshTokenTtlSeconds: client.refreshTokenTtlSeconds ?? 0,
    refreshTokenReuseGraceSeconds: refreshReuseGraceOf(client),
    clientUri: client.metadata[META_CLIENT_URI] ?? '',
    logoUri: client.metadata[META_LOGO_URI] ?? '',
    contacts,
    ...oidcMetadataOf(client),
    userinfoSignedResponseAlg: client.metadata[META_USERINFO_SIGNED_RESPONSE_ALG] ?? '',
    postLogoutRedirectUris: postLogoutRedirectUrisOf(client),
    backchannelLogoutUri: client.metadata[META_BACKCHANNEL_LOGOUT_URI] ?? '',
    backchannelLogoutSessionRequired: client.metadata[META_BACKCHANNEL_LOGOUT_SESSION_REQUIRED] === 'true',
    dpopBoundAccessTokens: dpopBoundAccessTokensOf(client),
    tlsClientAuthSubjectDn: client.metadata.tls_client_auth_subject_dn ?? '',
    tlsClientAuthSanDns: client.metadata.tls_client_auth_san_dns ?? '',
    tlsClientAuthSanUri: client.metadata.tls_client_auth_san_uri ?? '',
    tlsClientAuthSanIp: client.metadata.tls_client_auth_san_ip ?? '',
    tlsClientAuthSanEmail: client.metadata.tls_client_auth_san_email ?? '',
    tlsClientCertificateBoundAccessTokens: tlsClientCertificateBoundOf(client),
    ...requestObjectPolicyOf(client),
  };
}

/** RFC 9126 §6 / RFC 9101 §10.5 / OIDC Registration §2: how the client's authorization requests must arrive. */
export function requestObjectPolicyOf(client: Pick<Client, 'metadata'>): Pick<ClientDraft, 'requirePushedAuthorizationRequests' | 'requireSignedRequestObject' | 'requestObjectSigningAlg'> {
  return {
    requirePushedAuthorizationRequests: client.metadata[META_REQUIRE_PAR] === 'true',
    requireSignedRequestObject: client.metadata[META_REQUIRE_SIGNED_REQUEST_OBJECT] === 'true',
    requestObjectSigningAlg: client.metadata[META_REQUEST_OBJECT_SIGNING_ALG] ?? '',
  };
}

/** The RFC 8705 draft fields of a client without mutual-TLS metadata. */
export const NO_MTLS_METADATA = {
  tlsClientAuthSubjectDn: '',
  tlsClientAuthSanDns: '',
  tlsClientAuthSanUri: '',
  tlsClientAuthSanIp: '',
  tlsClientAuthSanEmail: '',
  tlsClientCertificateBoundAccessTokens: false,
} as const satisfies Partial<ClientDraft>;

/** RFC 8705 §3.4: whether the client registered tls_client_certificate_bound_access_tokens=true. */
export function tlsClientCertificateBoundOf(client: Pick<Client, 'metadata'>): boolean {
  return client.metadata[META_TLS_CLIENT_CERTIFICATE_BOUND_ACCESS_TOKENS] === 'true';
}

/** RFC 8705 §2.1.2: the one expected certificate value of a tls_client_auth client, if registered. */
export function tlsClientAuthExpectationOf(client: Pick<Client, 'metadata'>): TlsClientAuthExpectation | undefined {
  const name = TLS_CLIENT_AUTH_METADATA.find((n) => (client.metadata[n] ?? '') !== '');
  return name === undefined ? undefined : { name, value: client.metadata[name]! };
}

/** RFC 9449 §5.2: whether the client registered dpop_bound_access_tokens=true (false when absent). */
export function dpopBoundAccessTokensOf(client: Pick<Client, 'metadata'>): boolean {
  return client.metadata[META_DPOP_BOUND_ACCESS_TOKENS] === 'true';
}

/** The algorithm the client registered for signed UserInfo responses, or undefined for JSON. */
export function userinfoSignedResponseAlgOf(client: Pick<Client, 'metadata'>): string | undefined {
  return client.metadata[META_USERINFO_SIGNED_RESPONSE_ALG] || undefined;
}

/** The validated, defaulted draft in the stored shape (without id, secrets and bookkeeping). */
export interface ValidatedClient {
  metadata: ClientMetadata;
  fields: Pick<
    Client,
    'name' | 'clientType' | 'redirectUris' | 'grantTypes' | 'scopes' | 'tokenEndpointAuthMethod' | 'skipConsent' | 'audience'
  > & {
    jwks: Record<string, unknown> | undefined;
    accessTokenTtlSeconds: number | undefined;
    refreshTokenTtlSeconds: number | undefined;
  };
  /** RFC 7591 fields kept in Client.metadata. */
  extra: Record<string, string>;
}

function defaultGrants(clientType: string): GrantType[] {
  return clientType === 'public' ? ['authorization_code', 'refresh_token'] : ['client_credentials'];
}

// RFC 7591 §2: client_uri and logo_uri are URLs shown to users, so only web URLs are allowed.
function checkWebUrl(value: string, field: string): void {
  if (value === '') return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidClientMetadata(`${field} must be an absolute https URL`);
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost';
  if (!/^[\x21-\x7e]+$/.test(value) || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) || value.length > 2048) {
    throw new InvalidClientMetadata(`${field} must be an absolute https URL`);
  }
}

export interface ValidateDraftOptions {
  /**
   * The algorithms an ID Token can be signed with here (the key service's signing algorithm);
   * default every algorithm the key service can have.
   */
  idTokenAlgs?: readonly string[];
  /**
   * Whether this deployment terminates mutual TLS at the edge (AUTHMESH_MTLS_EDGE_SECRET set).
   * Without it, tls_client_auth and self_signed_tls_client_auth are refused: such a client could
   * never authenticate (RFC 7591 §3.2.2, a method the server does not support). Default true.
   */
  mutualTls?: boolean;
}

/**
 * Back-Channel Logout 1.0 §2.2: an absolute URI without fragment; we also require https, except
 * http on a loopback IP literal (development receivers; the sender still refuses it unless
 * AUTHMESH_BACKCHANNEL_LOGOUT_ALLOW_HTTP_LOOPBACK is set). No userinfo: it would be a credential in metadata.
 */
function checkBackchannelLogoutUri(value: string): void {
  if (value === '') return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidClientMetadata('backchannel_logout_uri must be an absolute https URL');
  }
  const ok =
    /^[\x21-\x7e]{1,2048}$/.test(value) &&
    !value.includes('#') &&
    url.username === '' &&
    url.password === '' &&
    (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackIpHost(url.hostname)));
  if (!ok) throw new InvalidClientMetadata('backchannel_logout_uri must be an absolute https URL without fragment or credentials (http only on 127.0.0.1 or [::1])');
  // Back-Channel Logout 1.0 §2.5 is a server-side request: an IP-literal host must be public
  // unicast (SSRF). Loopback as 127.0.0.1 or [::1] passes here (development receivers); delivery
  // calls it only under the development setting. Other spellings of loopback are refused.
  const literal = ipLiteralOf(url.hostname);
  if (literal !== undefined && !isAllowedTarget(literal, false) && !isLoopbackIpHost(url.hostname)) {
    throw new InvalidClientMetadata('backchannel_logout_uri must not name a private, link-local or otherwise non-public IP address');
  }
}

/** Validates a draft (RFC 6749 §2, RFC 7591 §2, RFC 9700, OpenID Connect Registration §2, RP-Initiated and Back-Channel Logout) and applies defaults. */
export function validateDraft(draft: ClientDraft, options: ValidateDraftOptions = {}): ValidatedClient {
  if (draft.name.length > 200 || /[^\x20-\x7e\u00a0-\uffff]/.test(draft.name)) {
    throw new InvalidClientMetadata('client_name must be at most 200 characters without control characters');
  }
  // RFC 6749 §3.3: each allowed scope is one scope token.
  if (draft.scopes.some((s) => !isScopeToken(s))) throw new InvalidClientMetadata('scopes must be scope tokens (no spaces or quotes)');
  const grantTypes = draft.grantTypes.length === 0 ? defaultGrants(draft.clientType) : draft.grantTypes;
  const metadata = validateClientMetadata({
    clientType: draft.clientType,
    tokenEndpointAuthMethod: draft.tokenEndpointAuthMethod === '' ? undefined : draft.tokenEndpointAuthMethod,
    grantTypes,
    redirectUris: draft.redirectUris,
    scope: draft.scopes.join(' '),
    jwks: draft.jwks,
  });
  for (const aud of draft.audience) {
    // RFC 7519 §4.1.3: audience values are StringOrURI; we keep them printable, without spaces.
    if (!/^[\x21-\x7e]{1,2048}$/.test(aud)) throw new InvalidClientMetadata('audience values must be non-empty printable strings without spaces');
  }
  const ttl = (value: number, max: number, field: string): number | undefined => {
    if (!Number.isInteger(value) || value < 0 || value > max) throw new InvalidClientMetadata(`${field} must be 0 (server default) to ${max}`);
    return value === 0 ? undefined : value;
  };
  const accessTokenTtlSeconds = ttl(draft.accessTokenTtlSeconds, MAX_TTL_ACCESS, 'access_token_ttl_seconds');
  const refreshTokenTtlSeconds = ttl(draft.refreshTokenTtlSeconds, MAX_TTL_REFRESH, 'refresh_token_ttl_seconds');
  const grace = draft.refreshTokenReuseGraceSeconds;
  if (grace !== undefined && (!Number.isInteger(grace) || grace < 0 || grace > MAX_REFRESH_REUSE_GRACE_SECONDS)) {
    throw new InvalidClientMetadata(`refresh_token_reuse_grace_seconds must be 0 (strict) to ${MAX_REFRESH_REUSE_GRACE_SECONDS}, or unset for the server default`);
  }
  checkWebUrl(draft.clientUri, 'client_uri');
  checkWebUrl(draft.logoUri, 'logo_uri');
  if (draft.contacts.length > 20 || draft.contacts.some((c) => !/^[\x20-\x7e]{1,320}$/.test(c))) {
    throw new InvalidClientMetadata('contacts must be at most 20 printable strings of up to 320 characters');
  }
  const idTokenAlgs = options.idTokenAlgs ?? ALLOWED_ALGS;
  // OpenID Connect Registration §2: only an alg the ID Token can really be signed with (never none).
  if (draft.idTokenSignedResponseAlg !== '' && !idTokenAlgs.includes(draft.idTokenSignedResponseAlg)) {
    throw new InvalidClientMetadata(`id_token_signed_response_alg must be ${idTokenAlgs.join(' or ')}`);
  }
  const maxAge = draft.defaultMaxAge;
  if (maxAge !== undefined && (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > MAX_MAX_AGE_SECONDS)) {
    throw new InvalidClientMetadata(`default_max_age must be 0 to ${MAX_MAX_AGE_SECONDS} seconds, or unset`);
  }
  if (draft.subjectType !== '' && !(SUBJECT_TYPES as readonly string[]).includes(draft.subjectType)) {
    throw new InvalidClientMetadata('subject_type must be public or pairwise');
  }
  if (draft.sectorIdentifierUri.length > 2048) throw new InvalidClientMetadata('sector_identifier_uri must be at most 2048 characters');
  // OpenID Connect Core §8.1 / Registration §5, without the outbound fetch (see validateSubjectMetadata).
  validateSubjectMetadata({ subjectType: draft.subjectType === 'pairwise' ? 'pairwise' : 'public', sectorIdentifierUri: draft.sectorIdentifierUri, redirectUris: metadata.redirectUris });
  if (draft.postLogoutRedirectUris.length > MAX_POST_LOGOUT_REDIRECT_URIS) {
    throw new InvalidClientMetadata(`post_logout_redirect_uris must hold at most ${MAX_POST_LOGOUT_REDIRECT_URIS} URIs`);
  }
  for (const uri of draft.postLogoutRedirectUris) {
    // RP-Initiated Logout 1.0 §3.1: the same rules as redirect_uris (absolute, no fragment, https or loopback http).
    try {
      validateRegisteredRedirectUri(uri);
    } catch (err) {
      throw new InvalidClientMetadata(`post_logout_redirect_uris: ${(err as Error).message}`);
    }
  }
  checkBackchannelLogoutUri(draft.backchannelLogoutUri);
  const tlsValues = Object.fromEntries(TLS_CLIENT_AUTH_METADATA.map((n) => [n, draft[TLS_CLIENT_AUTH_DRAFT_FIELDS[n]] as string]));
  let tlsExpectation;
  try {
    // RFC 8705 §2.1.2: exactly one of the five, each a valid value of its kind.
    tlsExpectation = tlsClientAuthExpectation(tlsValues);
  } catch (err) {
    throw new InvalidClientMetadata(err instanceof InvalidRequest ? err.description : 'invalid tls_client_auth metadata');
  }
  // RFC 7591 §2 / RFC 8414 §2: only the methods the metadata advertises can be registered.
  if (options.mutualTls === false && (metadata.tokenEndpointAuthMethod === 'tls_client_auth' || metadata.tokenEndpointAuthMethod === 'self_signed_tls_client_auth')) {
    throw new InvalidClientMetadata(`token_endpoint_auth_method ${metadata.tokenEndpointAuthMethod} needs mutual TLS, which this server does not terminate (AUTHMESH_MTLS_EDGE_SECRET)`);
  }
  // RFC 8705 §2.1.2: a tls_client_auth client names what its certificate carries; others have nothing to name.
  if (metadata.tokenEndpointAuthMethod === 'tls_client_auth' && tlsExpectation === undefined) {
    throw new InvalidClientMetadata(`tls_client_auth requires exactly one of ${TLS_CLIENT_AUTH_METADATA.join(', ')}`);
  }
  if (metadata.tokenEndpointAuthMethod !== 'tls_client_auth' && tlsExpectation !== undefined) {
    throw new InvalidClientMetadata(`${tlsExpectation.name} is only for token_endpoint_auth_method tls_client_auth`);
  }
  const extra: Record<string, string> = {
    // RFC 9700 §2.1.1: PKCE is mandatory for public clients whatever the request says.
    [META_REQUIRE_PKCE]: String(metadata.clientType === 'public' ? true : draft.requirePkce),
  };
  if (grace !== undefined) extra[META_REFRESH_REUSE_GRACE] = String(grace);
  if (draft.clientUri !== '') extra[META_CLIENT_URI] = draft.clientUri;
  if (draft.logoUri !== '') extra[META_LOGO_URI] = draft.logoUri;
  // OIDC Registration §2: the server must be able to sign with the registered algorithm (never none).
  if (draft.userinfoSignedResponseAlg !== '') {
    if (!idTokenAlgs.includes(draft.userinfoSignedResponseAlg)) {
      throw new InvalidClientMetadata(`userinfo_signed_response_alg must be one of: ${idTokenAlgs.join(', ') || '(none available)'}`);
    }
    extra[META_USERINFO_SIGNED_RESPONSE_ALG] = draft.userinfoSignedResponseAlg;
  }
  if (draft.contacts.length > 0) extra[META_CONTACTS] = JSON.stringify([...new Set(draft.contacts)]);
  if (draft.idTokenSignedResponseAlg !== '') extra[META_ID_TOKEN_ALG] = draft.idTokenSignedResponseAlg;
  if (maxAge !== undefined) extra[META_DEFAULT_MAX_AGE] = String(maxAge);
  if (draft.requireAuthTime) extra[META_REQUIRE_AUTH_TIME] = 'true';
  if (draft.dpopBoundAccessTokens) extra[META_DPOP_BOUND_ACCESS_TOKENS] = 'true';
  if (tlsExpectation !== undefined) extra[tlsExpectation.name] = tlsExpectation.value;
  if (draft.tlsClientCertificateBoundAccessTokens) extra[META_TLS_CLIENT_CERTIFICATE_BOUND_ACCESS_TOKENS] = 'true';
  if (draft.requirePushedAuthorizationRequests) extra[META_REQUIRE_PAR] = 'true';
  if (draft.requestObjectSigningAlg !== '') {
    // RFC 9101 §10.3 / DESIGN.md §6: only an asymmetric algorithm of the allow-list (never none or HS*).
    if (!(REQUEST_OBJECT_SIGNING_ALGS as readonly string[]).includes(draft.requestObjectSigningAlg)) {
      throw new InvalidClientMetadata(`request_object_signing_alg must be one of: ${REQUEST_OBJECT_SIGNING_ALGS.join(', ')}`);
    }
    extra[META_REQUEST_OBJECT_SIGNING_ALG] = draft.requestObjectSigningAlg;
  }
  if (draft.requireSignedRequestObject) {
    // RFC 9101 §10.5: signed request objects can only be verified with the client's registered keys.
    if (metadata.jwks === undefined) throw new InvalidClientMetadata('require_signed_request_object needs the client\'s jwks');
    extra[META_REQUIRE_SIGNED_REQUEST_OBJECT] = 'true';
  }
  if (draft.subjectType === 'pairwise') extra[META_SUBJECT_TYPE] = 'pairwise';
  if (draft.sectorIdentifierUri !== '') extra[META_SECTOR_IDENTIFIER_URI] = draft.sectorIdentifierUri;
  if (draft.postLogoutRedirectUris.length > 0) extra[META_POST_LOGOUT_REDIRECT_URIS] = JSON.stringify([...new Set(draft.postLogoutRedirectUris)]);
  if (draft.backchannelLogoutUri !== '') extra[META_BACKCHANNEL_LOGOUT_URI] = draft.backchannelLogoutUri;
  if (draft.backchannelLogoutSessionRequired) extra[META_BACKCHANNEL_LOGOUT_SESSION_REQUIRED] = 'true';
  return {
    metadata,
    fields: {
      name: draft.name,
      clientType: metadata.clientType,
      redirectUris: metadata.redirectUris,
      grantTypes: metadata.grantTypes,
      scopes: metadata.scope,
      tokenEndpointAuthMethod: metadata.tokenEndpointAuthMethod,
      jwks: metadata.jwks === undefined ? undefined : (metadata.jwks as unknown as Record<string, unknown>),
      skipConsent: draft.skipConsent,
      audience: [...new Set(draft.audience)],
      accessTokenTtlSeconds,
      refreshTokenTtlSeconds,
    },
    extra,
  };
}

/**
 * A client this server creates for itself at first start (the bootstrap admin client, the
 * console's): `fields` over a draft that registers no optional metadata, skips consent (a
 * first-party client), requires PKCE and keeps the server's default lifetimes.
 */
export function serverClientDraft(fields: Pick<ClientDraft, 'name' | 'clientType' | 'redirectUris' | 'grantTypes' | 'scopes' | 'tokenEndpointAuthMethod'> & Partial<ClientDraft>): ClientDraft {
  return {
    jwks: undefined,
    skipConsent: true,
    requirePkce: true,
    audience: [],
    accessTokenTtlSeconds: 0,
    refreshTokenTtlSeconds: 0,
    refreshTokenReuseGraceSeconds: undefined,
    clientUri: '',
    logoUri: '',
    contacts: [],
    idTokenSignedResponseAlg: '',
    defaultMaxAge: undefined,
    requireAuthTime: false,
    subjectType: '',
    sectorIdentifierUri: '',
    userinfoSignedResponseAlg: '',
    postLogoutRedirectUris: [],
    backchannelLogoutUri: '',
    backchannelLogoutSessionRequired: false,
    dpopBoundAccessTokens: false,
    ...NO_MTLS_METADATA,
    requirePushedAuthorizationRequests: false,
    requireSignedRequestObject: false,
    requestObjectSigningAlg: '',
    ...fields,
  };
}
